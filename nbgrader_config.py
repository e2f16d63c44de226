"""nbgrader settings for the digit lab, hardened against the ways grading goes wrong.

Run nbgrader commands from this folder. The assignment is notebooks/digit-lab; nbgrader's
other folders (release/, submitted/, autograded/, feedback/ and gradebook.db) appear here.
"""

import os
import secrets
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)
COURSE_ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.source_directory = "notebooks"
# The course's name in nbgrader's exchange (release_assignment, fetch, submit, collect).
c.CourseDirectory.course_id = "digitlab"
# The gradebook. By default SQLite next to this file, where a writer waits up to 30 s for
# another's lock (`digitlab grade` runs several autogrades at once). For PostgreSQL, set
# DIGITLAB_DB_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB, so no password is in git.
c.CourseDirectory.db_url = (os.environ.get("DIGITLAB_DB_URL")
                            or f"sqlite:///{COURSE_ROOT / 'gradebook.db'}?timeout=30")

# The answer key of the competition lives outside the assignment folder, so it is never
# copied into the release or the feedback. The grader scores notebook 05's submission.csv
# with it, outside the student's kernel (VerifyOutsideKernel below); a sandboxed grading
# kernel never sees this variable. Set it yourself to use another key.
os.environ.setdefault("DIGITLAB_ANSWER_KEY", str(COURSE_ROOT / "keys" / "digit-lab.csv"))

# No cell needs more than a few seconds while grading (training is skipped then), so a cell
# that runs for half a minute is stuck: it is interrupted and scored as failed. (nbgrader's
# own default; stated here because the grading budget and docs/grading-budget.md rely on it.)
c.Execute.timeout = 30
# A loop that ignores the interrupt leaves the kernel silent; without this, the silence
# would abort the student's whole autograde instead of failing the stuck cells.
c.Execute.raise_on_iopub_timeout = False

# nbgrader scores a test cell 0 if anything reaches stderr. A warning from numpy (say, an
# overflow in a student's experiment) must not zero a correct answer, so warnings are dropped.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w*Warning\b"

# Test cells a student deleted come back from the source and are graded, not left for a
# human to notice.
c.OverwriteCells.add_missing_cells = True

# Cells tagged "skip-execution" are skipped, and a skipped test cell counts as passed. A
# fresh random tag on every run means no student's tag can match it.
c.Execute.skip_cells_with_tag = f"never-skip-{secrets.token_hex(16)}"

# Running notebook 05 in the source folder writes the solution's predictions there. They
# must never reach the release, and autograde must keep each student's own file. Only
# generate_assignment may ignore the file: autograde copies submitted files with the same list.
SOLUTION_OUTPUT = "submission.csv"
if "generate_assignment" in sys.argv:
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                                SOLUTION_OUTPUT]
c.Autograde.exclude_overwriting = {"digit-lab": [SOLUTION_OUTPUT]}

# Autograde's sanitizing steps: nbgrader 0.9.6's own list, with DeduplicateIds replaced. Its
# version stops the whole autograde of a student who copied a test cell
# (digitlab/course/grading/deduplicate.py); this one drops the copies' grading metadata instead.
# ClearOutput keeps the panel runs a student recorded aside (digitlab/course/grading/panel_runs.py);
# RestorePanelRuns below puts them back, so formgrader and the feedback show them.
c.Autograde.sanitize_preprocessors = [
    "digitlab.course.grading.panel_runs.ClearOutputKeepingPanelRuns",
    "digitlab.course.grading.deduplicate.DeduplicateGradeIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Autograde's steps: nbgrader 0.9.6's own list (nbgrader/converters/autograde.py), with three
# changes. LimitedExecute replaces Execute: it runs every kernel inside the GradingLimits
# below. VerifyOutsideKernel is added right after it: the grader judges the hidden checks
# again, outside the student's kernel, before the notebook is scored
# (digitlab.course.checks.verify_outside). The whole list, because nbgrader reads this file twice
# and a lazy .insert() would add the step twice.
c.Autograde.autograde_preprocessors = [
    "digitlab.course.sandbox.bounded_execute.LimitedExecute",
    "digitlab.course.checks.verify_outside.VerifyOutsideKernel",
    "digitlab.course.grading.panel_runs.RestorePanelRuns",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "digitlab.course.grading.rubrics.ShowRubrics",
]
# ShowRubrics, last, puts each written answer's rubric and model answer after it, for
# formgrader; HideRubrics, in the feedback steps below, takes them out again
# (digitlab/course/grading/rubrics.py).

# The limits of every grading kernel are GradingLimits' defaults
# (digitlab/course/sandbox/limits.py gives each with its reason). Set here only a limit
# this course changes, e.g. c.GradingLimits.cpu_seconds = 60; this course changes none.

# Each student's hidden cases are drawn from a keyed hash of their id: the key is this
# file, created on the first grading (mode 600) and kept with the answer key, never released
# (digitlab/course/checks/student_cases.py). Lose it and every student's cases change.
c.VerifyOutsideKernel.cases_key = str(COURSE_ROOT / "keys" / "hidden-cases.key")

# Feedback: nbgrader 0.9.6's own steps between two of ours. HideRubrics first drops the
# grader's notes; HideHiddenTests last replaces each hidden block of a test cell with a line
# of its verdict and diagnosis, and drops the code and cases its outputs could show
# (digitlab.course.checks.hidden_feedback). The whole list, as above.
c.GenerateFeedback.preprocessors = [
    "digitlab.course.grading.rubrics.HideRubrics",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "digitlab.course.checks.hidden_feedback.HideHiddenTests",
]
