"""Feedback that helps and hides, and hidden cases drawn per student, with the real nbgrader
commands: the session's autograde of the report class (graded_course), whose perfect student
and buggy one (the seed's averaged bias) are read here, generate_feedback, and a regrade."""

import html
import re
import shutil

import nbformat
import pytest
from course_builder import ASSIGNMENT, CASES_KEY, NOTEBOOKS, SOURCE, grade_id, nbgrader

from digitlab.course.checks.hidden_feedback import hidden_line
from digitlab.course.checks.verify_outside import RECORD

STUDENTS = ("perfect", "buggy")  # of the report class: the solutions, and the seed's bug
FIRST = NOTEBOOKS[0]


def hidden_source_lines() -> list[str]:
    """Every line between BEGIN and END HIDDEN TESTS in the source notebooks, comments too."""
    lines, inside = [], False
    for name in NOTEBOOKS:
        for cell in nbformat.read(SOURCE / name, as_version=4).cells:
            for line in cell.source.splitlines():
                if "### BEGIN HIDDEN TESTS" in line or "### END HIDDEN TESTS" in line:
                    inside = "BEGIN" in line
                elif inside and line.strip():
                    lines.append(line.strip())
    return lines


def page_text(path) -> str:
    """What a reader of an HTML page sees: tags dropped (code is split into highlighted
    spans), entities unescaped."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def records(course, student) -> dict[tuple[str, str], dict]:
    """{(notebook, grade id): the grader's record} of a student's autograded notebooks."""
    found = {}
    for name in NOTEBOOKS:
        notebook = nbformat.read(course / "autograded" / student / ASSIGNMENT / name, 4)
        for cell in notebook.cells:
            record = cell.metadata.get(RECORD[0], {}).get(RECORD[1])
            if record is not None:
                found[name, grade_id(cell)] = record
    return found


@pytest.fixture(scope="module")
def graded(graded_course, tmp_path_factory):
    """A copy of the session's graded class (conftest's graded_course: perfect and buggy are
    two of its students, judged on cases drawn from the fixed CASES_KEY, so the same on every
    run) after generate_feedback: (course, records by student). A copy, because the regrade
    below changes it."""
    course = tmp_path_factory.mktemp("feedback") / "course"
    shutil.copytree(graded_course[0], course, symlinks=True)
    assert (course / "keys" / "hidden-cases.key").read_text() == CASES_KEY
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    return course, {student: records(course, student) for student in STUDENTS}


def feedback_pages(course):
    return {(student, path.name): page_text(path) for student in STUDENTS
            for path in (course / "feedback" / student / ASSIGNMENT).glob("*.html")}


def test_the_autograded_notebooks_hold_the_hidden_tests_the_feedback_is_made_from(graded):
    """The check below can fail: what generate_feedback renders holds every hidden line."""
    course, _ = graded
    autograded = "".join(
        "".join(cell.source for cell in nbformat.read(path, 4).cells)
        for path in (course / "autograded" / "buggy" / ASSIGNMENT).glob("*.ipynb"))
    lines = hidden_source_lines()
    assert len(lines) >= 30
    assert all(line in autograded for line in lines)


def test_no_hidden_line_case_or_key_path_reaches_any_feedback_file(graded):
    course, recorded = graded
    pages = feedback_pages(course)
    assert len(pages) == len(STUDENTS) * len(NOTEBOOKS)
    lines = hidden_source_lines()
    cases = {case for student in STUDENTS for record in recorded[student].values()
             for case in record["cases"] if "->" in case or "accuracies" in case}
    assert len(cases) >= 20
    for (student, page), text in pages.items():
        assert [line for line in lines if line in text] == [], (student, page)
        assert [case for case in cases if case in text] == [], (student, page)
        assert "digit-lab.csv" not in text and "hidden-cases.key" not in text
        assert str(course / "keys") not in text and "BEGIN HIDDEN TESTS" not in text
    # Nothing but the pages: no notebook, no key, no copy of a check's files.
    for student in STUDENTS:
        folder = course / "feedback" / student / ASSIGNMENT
        assert {path.suffix for path in folder.rglob("*") if path.is_file()} <= {".html",
                                                                                  ".csv"}


def test_each_hidden_block_is_one_line_with_its_diagnosis(graded):
    """Every judged cell's line is in its student's page; the buggy student's bias and
    all-sizes lines name the averaged bias; the perfect student's all say passed."""
    course, recorded = graded
    pages = feedback_pages(course)
    for student in STUDENTS:
        for (notebook, _), record in recorded[student].items():
            page = pages[student, notebook.replace(".ipynb", ".html")]
            assert f"# {hidden_line(record)}" in page
    buggy = recorded["buggy"]
    for cell_id in ("test-bias-gradient", "test-sizes"):
        line = hidden_line(buggy[FIRST, cell_id])
        assert re.search(r"Hidden test: \d+ cases — failed: grad_bias: grad_bias is 1/\d+ of "
                         r"the numerical gradient", line), line
    assert all(record["passed"] for record in recorded["perfect"].values())
    hidden_cells = sum("BEGIN HIDDEN TESTS" in cell.source for name in NOTEBOOKS
                       for cell in nbformat.read(SOURCE / name, 4).cells)
    assert len(recorded["perfect"]) == hidden_cells
    first = pages["perfect", FIRST.replace(".ipynb", ".html")]
    assert first.count("cases — passed") == 6
    competition = pages["perfect", NOTEBOOKS[4].replace(".ipynb", ".html")]
    assert "# Hidden test: 1 case — passed: Competition accuracy: 100.0%" in competition


def test_two_students_are_judged_on_different_cases(graded):
    """Every check that draws cases drew other ones for the two students, and none of
    them is the cell's own."""
    _, recorded = graded
    drawn = [key for key, record in recorded["perfect"].items()
             if any("->" in case or "accuracies" in case for case in record["cases"])]
    assert len(drawn) == 8  # six cells of notebook 01, two of notebook 04
    for key in drawn:
        assert recorded["perfect"][key]["seed"] != recorded["buggy"][key]["seed"], key
        if key[0] == FIRST:  # the layer and batch sizes too
            assert recorded["perfect"][key]["cases"] != recorded["buggy"][key]["cases"], key
    own = recorded["perfect"][FIRST, "test-input-gradient"]["cases"]
    assert "13->7, batch 6" not in own and len(own) == 4


def test_a_regrade_judges_the_same_cases_with_the_same_verdicts(graded):
    course, recorded = graded
    nbgrader(course, "autograde", ASSIGNMENT, "--student", "buggy", "--force")
    assert records(course, "buggy") == recorded["buggy"]
