"""The class report after autograde: scores, the test cells failed most, the gradient
checker's diagnoses of Linear.backward, and every integrity problem, as CSV files.

Inputs, all only read: nbgrader's gradebook (any database URL nbgrader accepts), the
autograded notebooks autograded/<student>/<assignment>/*.ipynb (the outputs of failed test
cells), the integrity scan (digitlab.course.grading.integrity) and the grading driver's
records (digitlab.course.records), when there are any. build_report gathers them into a
ClassReport, write_csvs writes it; report.page draws the HTML page, and `digitlab report`
(digitlab.cli) runs all three.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import MissingEntry
from sqlalchemy.engine import make_url

from digitlab.course.grading.gradebook import course_settings, open_gradebook, resolve_db_url, shown
from digitlab.course.grading.integrity import Finding, read_notebook, scan_class
from digitlab.course.layout import CourseLayout
from digitlab.course.records import GradingRecord, read_records
from digitlab.course.tables import write_table
from digitlab.student import NOTEBOOK_01
from digitlab.testing import PublicTestFailure

# The kinds of finding the report adds to the integrity scan's (integrity.KINDS).
REPORT_KINDS = {
    "not_graded": "submitted, but autograde left no graded notebooks (it failed for the student)",
    "grading_failed": "the grading driver recorded a failure",
    "hit_limit": "a notebook was stopped by a resource limit",
    "patched_check": "the student's code replaced or altered a test's checking code",
    "grading_note": "the grading driver left a file out of grading (an invalid notebook, a "
                    "symbolic link, a special file) or found a notebook missing",
    "unreadable_record": "a grading record is not valid JSON or misses a field",
}
OUTCOMES = ("passed", "failed", "errored", "ungraded")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A number, but not the 1 of "1/4": "is 1/4 of the gradient" says the answer is a fraction.
_NUMBER = re.compile(r"(?<!\d)(?!1/)\d+(?:\.\d+)?(?:e[-+]?\d+)?")
# gradcheck's report prints each diagnosis after "-> ", wrapped onto further-indented lines.
_ARROW = re.compile(r"^(\s*)-> (.*)$")
# backward_check prints "  13->7, batch 1: grad_bias: <diagnosis>" for each failing case.
_HIDDEN_CASE = re.compile(r"^\s+\d+->\d+, batch \d+: (?:(?:input gradient|grad_\w+): )?(.+)$")
_PROBLEM = re.compile(r"^\s*(?:PROBLEM|FAILED): (.+)$")


@dataclass
class StudentScore:
    """One student's row: total and per-notebook scores from the gradebook, and flags.

    total is None for a student with a submitted folder but no submission in the gradebook.
    graded: autograde left the student's graded notebooks in autograded/.
    """

    student: str
    total: float | None
    max_total: float
    notebooks: dict[str, float]
    graded: bool
    flags: list[str] = field(default_factory=list)


@dataclass
class CellOutcome:
    """How the class did on one autograded test cell.

    failed: a wrong answer (an assertion failed); errored: the cell raised anything else
    (not written, a crash, a timeout); ungraded: no graded notebook to judge from.
    top_error: the most frequent first line of the failures, e.g. "AssertionError: ...".
    """

    notebook: str
    grade_id: str
    max_points: float
    passed: int = 0
    failed: int = 0
    errored: int = 0
    ungraded: int = 0
    top_error: str = ""

    @property
    def fail_rate(self) -> float:
        """The share of graded students who did not get full points (0 when none was graded)."""
        judged = self.passed + self.failed + self.errored
        return (self.failed + self.errored) / judged if judged else 0.0


@dataclass
class Diagnosis:
    """One gradient-checker diagnosis, numbers and shapes replaced by #, and who got it."""

    text: str
    students: int
    occurrences: int
    cells: tuple[str, ...]
    example: str


@dataclass
class ClassReport:
    """Everything the CSV files and the page show; lists sorted as they are written."""

    assignment: str
    notebooks: list[str]
    scores: list[StudentScore]
    cells: list[CellOutcome]
    diagnoses: list[Diagnosis]
    integrity: list[Finding]


def build_report(course: str | Path, assignment: str, db_url: str | None = None,
                 findings: list[Finding] | None = None,
                 records: dict[str, GradingRecord] | None = None) -> ClassReport:
    """Gather the class report. findings default to scan_class(course, assignment) and
    records to those in grading/<assignment>/ (none is fine).

    db_url: the gradebook; by default as `digitlab grade` finds it (gradebook.resolve_db_url).
    Raises FileNotFoundError without a release or an SQLite gradebook's file, ValueError when
    the gradebook does not know the assignment, GradebookError when it cannot be reached.
    """
    course = Path(course)
    db_url = resolve_db_url(course, db_url)
    database = make_url(db_url)
    if database.drivername.startswith("sqlite") and not Path(database.database or "").is_file():
        # nbgrader would create an empty gradebook: the report only reads.
        raise FileNotFoundError(f"There is no gradebook {shown(db_url)}: run nbgrader "
                                f"autograde {assignment} first, or pass its URL.")
    findings = scan_class(course, assignment) if findings is None else list(findings)
    if records is None:
        records, unreadable = read_records(course, assignment)
        findings += [Finding(name.removesuffix(".json"), "", "unreadable_record", "",
                             f"The grading record {name} cannot be read: {why}")
                     for name, why in unreadable.items()]
    findings += _record_findings(records.values())
    notebooks, grades, totals = _read_gradebook(db_url, course_settings(course).course_id,
                                                assignment)
    layout = CourseLayout(course)
    students = sorted(set(totals) | set(layout.students(assignment)))
    outputs = {student: _test_outputs(layout.autograded(student, assignment))
               for student in students}
    findings += [Finding(student, "", "not_graded", "", "No graded notebooks are in "
                         "autograded/: autograde failed for this student or never ran.")
                 for student in students if outputs[student] is None]
    findings.sort(key=lambda f: (f.student, f.notebook, f.kind, f.grade_id))

    flags = defaultdict(set)
    for finding in findings:
        flags[finding.student].add(finding.kind)
    scores = [StudentScore(student, *totals.get(student, (None, 0.0, {})),
                           graded=outputs[student] is not None,
                           flags=sorted(flags[student]))
              for student in students]
    cells = _cell_outcomes(grades, outputs)
    return ClassReport(assignment, notebooks, scores, cells, _diagnoses(grades, outputs),
                       findings)


def write_csvs(report: ClassReport, out: str | Path) -> list[Path]:
    """Write <assignment>-scores/-cells/-diagnoses/-integrity.csv into out; their paths.

    Student ids, error messages and outputs are the students' text: a cell that would start
    a spreadsheet formula is written with a leading "'" (tables.spreadsheet_safe).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "scores": [{"student": s.student, "total": _number(s.total),
                    "max_total": _number(s.max_total),
                    **{name: _number(s.notebooks.get(name)) for name in report.notebooks},
                    "graded": "yes" if s.graded else "no", "flags": ";".join(s.flags)}
                   for s in report.scores],
        "cells": [{"notebook": c.notebook, "grade_id": c.grade_id,
                   "max_points": _number(c.max_points),
                   **{outcome: getattr(c, outcome) for outcome in OUTCOMES},
                   "fail_rate": f"{c.fail_rate:.3f}", "top_error": c.top_error}
                  for c in report.cells],
        "diagnoses": [{"diagnosis": d.text, "students": d.students,
                       "occurrences": d.occurrences, "cells": ";".join(d.cells),
                       "example": d.example} for d in report.diagnoses],
        "integrity": [{"student": f.student, "notebook": f.notebook, "kind": f.kind,
                       "grade_id": f.grade_id, "explanation": f.explanation}
                      for f in report.integrity],
    }
    columns = {"scores": ["student", "total", "max_total", *report.notebooks, "graded", "flags"],
               "cells": ["notebook", "grade_id", "max_points", *OUTCOMES, "fail_rate",
                         "top_error"],
               "diagnoses": ["diagnosis", "students", "occurrences", "cells", "example"],
               "integrity": ["student", "notebook", "kind", "grade_id", "explanation"]}
    return [write_table(rows, out / f"{report.assignment}-{name}.csv", columns[name])
            for name, rows in tables.items()]


def summary_statistics(report: ClassReport) -> dict[str, float | int]:
    """Students, the mean and median total of those in the gradebook (0 when none), and the
    most a student can score (manually graded points included)."""
    totals = [s.total for s in report.scores if s.total is not None]
    return {"students": len(report.scores),
            "max_total": max((s.max_total for s in report.scores), default=0.0),
            "mean": statistics.fmean(totals) if totals else 0.0,
            "median": statistics.median(totals) if totals else 0.0}


def extract_diagnoses(text: str) -> list[str]:
    """The diagnoses in a failed test cell's output, as printed (unwrapped, one per item).

    Reads the three forms the checkers print: gradcheck's "-> diagnosis" (wrapped onto more
    deeply indented lines), backward_check's "  13->7, batch 1: grad_bias: diagnosis", and
    "PROBLEM: ..." / "FAILED: ..." lines. The header "FAILED: x is wrong on the hidden
    cases:" only introduces the case lines, so it is left out.
    """
    found, lines = [], _ANSI.sub("", text).splitlines()
    for number, line in enumerate(lines):
        if arrow := _ARROW.match(line):
            parts, indent = [arrow.group(2)], len(arrow.group(1))
            for following in lines[number + 1:]:
                if len(following) - len(following.lstrip()) <= indent or not following.strip():
                    break
                parts.append(following.strip())
            found.append(" ".join(parts))
        elif case := _HIDDEN_CASE.match(line):
            found.append(case.group(1))
        elif (problem := _PROBLEM.match(line)) and "on the hidden cases:" not in line:
            found.append(problem.group(1))
    return [diagnosis.strip() for diagnosis in found if diagnosis.strip()]


def normalise(diagnosis: str) -> str:
    """The diagnosis with every number replaced by #, so that the same mistake on other
    shapes and batch sizes reads the same ("grad_bias is 1/# of ..." for any batch)."""
    return _NUMBER.sub("#", " ".join(diagnosis.split()))


def _read_gradebook(db_url: str, course_id: str, assignment: str):
    """(notebook names, {(student, notebook, grade id): (auto_score, max_score)} of the
    autograded code cells, {student: (total, max_total, {notebook: score})})."""
    grades, totals = {}, {}
    # With the course's id: Gradebook(db_url) alone would insert a stray course row.
    with open_gradebook(db_url, course_id) as gradebook:
        try:
            released = gradebook.find_assignment(assignment)
        except MissingEntry as error:  # its message is empty
            raise ValueError(f"The gradebook has no assignment {assignment}: run nbgrader "
                             f"generate_assignment and autograde {assignment} first.") from error
        notebooks = [notebook.name for notebook in released.notebooks]
        for submission in gradebook.assignment_submissions(assignment):
            student = submission.student_id
            totals[student] = (submission.score, submission.max_score,
                               {notebook.name: notebook.score
                                for notebook in submission.notebooks})
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "code":  # markdown answers are graded by hand
                        grades[student, notebook.name, grade.name] = (grade.auto_score,
                                                                      grade.max_score)
    return notebooks, grades, totals


def _test_outputs(folder: Path) -> dict[tuple[str, str], tuple[str, str]] | None:
    """{(notebook, grade id): (error type, output text)} of a student's autograded test
    cells; None when the folder holds no notebook. error type is "" when nothing raised."""
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        return None
    outputs = {}
    for path in paths:
        notebook, _ = read_notebook(path)
        for cell in notebook.cells if notebook is not None else []:
            metadata = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and metadata.get("grade"):
                errors = [o for o in cell.outputs if o.output_type == "error"]
                text = "\n".join([o.get("text", "") for o in cell.outputs
                                  if o.output_type == "stream"]
                                 + [f"{o.ename}: {o.evalue}" if o.evalue else o.ename
                                    for o in errors])
                outputs[path.stem, metadata.get("grade_id")] = (
                    errors[0].ename if errors else "", _ANSI.sub("", text))
    return outputs


def _outcome(auto_score, max_score, output: tuple[str, str] | None) -> str:
    if auto_score is None or output is None:
        return "ungraded"
    if auto_score >= max_score:
        return "passed"
    # A public test's own failure (digitlab.testing) is an assertion that failed too.
    failed = ("", AssertionError.__name__, PublicTestFailure.__name__)
    return "failed" if output[0] in failed else "errored"


def _cell_outcomes(grades: dict, outputs: dict) -> list[CellOutcome]:
    """One CellOutcome per autograded cell, most often failed first."""
    cells, errors = {}, defaultdict(Counter)
    for (student, notebook, grade_id), (auto_score, max_score) in sorted(grades.items()):
        cell = cells.setdefault((notebook, grade_id), CellOutcome(notebook, grade_id, max_score))
        output = (outputs[student] or {}).get((notebook, grade_id))
        outcome = _outcome(auto_score, max_score, output)
        setattr(cell, outcome, getattr(cell, outcome) + 1)
        if outcome in ("failed", "errored"):
            errors[notebook, grade_id][_first_error_line(output[1])] += 1
    for key, cell in cells.items():
        if errors[key]:
            cell.top_error = errors[key].most_common(1)[0][0]
    return sorted(cells.values(), key=lambda c: (-c.fail_rate, c.notebook, c.grade_id))


def _first_error_line(text: str) -> str:
    """The line that says why the cell failed: the error's, else the output's last line."""
    lines = [line for line in text.splitlines() if line.strip()]
    raised = [line for line in lines
              if re.match(r"^\w+(Error|Exception|Interrupt|Failure)\b", line)]
    return (raised or lines or [""])[-1][:200]


def _diagnoses(grades: dict, outputs: dict) -> list[Diagnosis]:
    """The checker's diagnoses in notebook 01's failed test cells, most students first."""
    students, occurrences, cells, examples = defaultdict(set), Counter(), defaultdict(set), {}
    notebook = Path(NOTEBOOK_01).stem
    for (student, name, grade_id), (auto_score, max_score) in grades.items():
        output = (outputs[student] or {}).get((name, grade_id))
        if name != notebook or _outcome(auto_score, max_score, output) in ("passed", "ungraded"):
            continue
        for raw in extract_diagnoses(output[1]):
            text = normalise(raw)
            students[text].add(student)
            occurrences[text] += 1
            cells[text].add(grade_id)
            examples.setdefault(text, raw)
    return sorted((Diagnosis(text, len(students[text]), occurrences[text],
                             tuple(sorted(cells[text])), examples[text])
                   for text in occurrences),
                  key=lambda d: (-d.students, -d.occurrences, d.text))


def _record_findings(records) -> list[Finding]:
    """The grading driver's records as findings: failures, limits, patched checks, notes."""
    findings = []
    for record in records:
        if record.status == "failed":
            findings.append(Finding(record.student, "", "grading_failed", "",
                                    f"Grading failed: {record.error or 'no reason recorded'}"))
        findings += [Finding(record.student, hit.notebook, "hit_limit", "",
                             f"The {hit.limit} limit stopped the notebook: {hit.detail}")
                     for hit in record.limits]
        findings += [Finding(record.student, check.notebook, "patched_check", check.grade_id,
                             f"The checking code was altered: {check.detail}")
                     for check in record.patched_checks]
        findings += [Finding(record.student, "", "grading_note", "", note)
                     for note in record.notes]
    return findings


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
