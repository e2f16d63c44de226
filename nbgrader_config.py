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
# copied into the release or the feedback. Notebook 05's hidden tests find it through this
# variable, which reaches the grading kernel's environment; set it yourself to use another key.
os.environ.setdefault("DIGITLAB_ANSWER_KEY", str(COURSE_ROOT / "keys" / "digit-lab.csv"))

# No cell needs more than a few seconds while grading (training is skipped then), so a cell
# that runs for a minute is stuck: it is interrupted and scored as failed.
c.Execute.timeout = 60
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

# nbgrader's autograde steps, with one added: the grader judges the hidden checks again,
# outside the student's kernel, right after the notebook runs and before it is scored
# (digitlab.course.verify_outside). The whole list, because nbgrader reads this file twice
# and a lazy .insert() would add the step twice.
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "digitlab.course.verify_outside.VerifyOutsideKernel",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
