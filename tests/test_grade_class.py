"""`digitlab grade` on a small class, with the real nbgrader, on SQLite and on a real
PostgreSQL server, two students at a time.

The class: perfect, blank (the release as it is), buggy (the seed's bias bug), missing (no
notebook 05), corrupt (notebook 01 cut off in the middle of its JSON) and asleep (a cell that
sleeps past the time limit for one student). Each backend grades the class once.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import sqlalchemy
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    averaged_bias,
    copy_course,
    grade_id,
    nbgrader,
    replace_answer,
    solved_release,
    submit,
    tree_digest,
)
from postgres_server import postgres_url  # noqa: F401 - the fixture, for PostgreSQL runs

from digitlab import cli
from digitlab.course import gradebook
from digitlab.course.grade import ProgressBar, StudentResult, failure_reason
from digitlab.course.records import GradingRecord, read_records

# Seconds one student may take: the others need about 10-20 s each on two busy cores.
# "asleep" comes first in the order of grading, so its wait overlaps the others' grading.
TIMEOUT = 40
STUDENTS = ["asleep", "blank", "buggy", "corrupt", "missing", "perfect"]
GRADED = ["blank", "buggy", "missing", "perfect"]


def _graded_cells() -> dict[str, dict[str, tuple[str, float]]]:
    """{notebook: {grade id: (cell type, points)}} of every graded cell in the source."""
    cells = {}
    for name in NOTEBOOKS:
        cells[Path(name).stem] = {
            grade_id(cell): (cell.cell_type, cell.metadata.nbgrader.points)
            for cell in nbformat.read(SOURCE / name, 4).cells
            if cell.metadata.get("nbgrader", {}).get("grade")}
    return cells


CELLS = _graded_cells()
MAX_SCORES = {notebook: sum(points for _, points in cells.values())
              for notebook, cells in CELLS.items()}


def expected_points(failing: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> dict:
    """{notebook: points} that autograde gives: every test cell but the failing ones and
    those of missing notebooks. Written answers score 0 until graded by hand."""
    return {notebook: sum(points for cell, (kind, points) in cells.items()
                          if kind == "code" and cell not in failing and notebook not in missing)
            for notebook, cells in CELLS.items()}


EXPECTED = {
    "perfect": expected_points(),
    "blank": dict.fromkeys(CELLS, 0),
    "buggy": expected_points(failing=("test-bias-gradient", "test-sizes")),
    "missing": expected_points(missing=(Path(NOTEBOOKS[4]).stem,)),
}


def _sleep_first(notebooks):
    replace_answer(notebooks, NOTEBOOKS[3], "summarize-accuracies",
                   lambda source: "import time\ntime.sleep(600)\n" + source)


@pytest.fixture(scope="module")
def class_course(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("class") / "course")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    solved = solved_release(course)
    perfect = {"submission.csv": KEY}
    submit(course, "perfect", solved, perfect)
    submit(course, "blank", {name: nbformat.read(course / "release" / ASSIGNMENT / name, 4)
                             for name in NOTEBOOKS})
    submit(course, "buggy", solved, perfect, change=averaged_bias)
    submit(course, "missing", {name: solved[name] for name in NOTEBOOKS[:4]})
    first = submit(course, "corrupt", solved, perfect) / NOTEBOOKS[0]
    first.write_text(first.read_text()[:5000])
    submit(course, "asleep", solved, perfect, change=_sleep_first)
    return course


@dataclass
class Run:
    course: Path
    db_url: str
    status: int
    out: str
    err: str
    before: dict


def grade(course: Path, *arguments: str) -> tuple[int, str, str]:
    """`digitlab grade digit-lab --course COURSE ARGUMENTS`: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["grade", ASSIGNMENT, "--course", str(course), *arguments])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def run(request, class_course, tmp_path_factory) -> Run:
    course = tmp_path_factory.mktemp(request.param) / "course"
    shutil.copytree(class_course, course)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "postgresql":
            # As the README says: the URL, password included, only in the environment.
            db_url = request.getfixturevalue("postgres_url")
            patch.setenv(gradebook.DB_URL_VARIABLE, db_url)
            (course / "gradebook.db").unlink()  # so a fall-back to SQLite would show
        else:
            patch.delenv(gradebook.DB_URL_VARIABLE, raising=False)
            db_url = f"sqlite:///{course / 'gradebook.db'}"
        before = tree_digest(course / "submitted")
        status, out, err = grade(course, "--jobs", "2", "--timeout", str(TIMEOUT))
    return Run(course, db_url, status, out, err, before)


def rows(run: Run) -> dict[str, str]:
    """The summary table's line of each student."""
    return {line.split()[0]: line for line in run.out.splitlines()
            if line.split() and line.split()[0] in STUDENTS}


def counts(db_url: str) -> dict[str, tuple[int, int]]:
    """{student: (submission rows, grade rows)} for the assignment, straight from SQL."""
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(sqlalchemy.text(
                "SELECT s.student_id, COUNT(DISTINCT s.id), COUNT(g.id) "
                "FROM submitted_assignment s JOIN assignment a ON a.id = s.assignment_id "
                "LEFT JOIN submitted_notebook n ON n.assignment_id = s.id "
                "LEFT JOIN grade g ON g.notebook_id = n.id "
                "WHERE a.name = :assignment GROUP BY s.student_id"),
                {"assignment": ASSIGNMENT}).all()
    finally:
        engine.dispose()
    return {student: (submissions, grades) for student, submissions, grades in found}


def test_the_run_finishes_with_a_line_per_student(run):
    assert run.status == 0, run.out
    assert sorted(rows(run)) == STUDENTS
    assert "6 students: 4 graded, 2 not graded (asleep, corrupt)" in run.out
    # The progress: one line per student (stderr is not a terminal here).
    assert [line.split("]")[0] for line in run.err.splitlines()] == [
        f"[{done}/6" for done in range(1, 7)]


def test_graded_students_get_their_points_per_notebook(run):
    scores = gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT)
    for student, expected in EXPECTED.items():
        notebooks = {notebook.notebook: notebook for notebook in scores[student].notebooks}
        assert {name: notebook.score for name, notebook in notebooks.items()} == expected
        assert {name: notebook.max_score for name, notebook in notebooks.items()} == MAX_SCORES
        assert rows(run)[student].split()[1:3] == [
            "graded", f"{sum(expected.values()):g}/{sum(MAX_SCORES.values()):g}"]
    assert "no 05-competition.ipynb" in rows(run)["missing"]


def test_failed_students_are_not_graded_and_say_why(run):
    records, unreadable = read_records(run.course, ASSIGNMENT)
    assert unreadable == {} and sorted(records) == STUDENTS
    assert {student: record.status for student, record in records.items()} == {
        **dict.fromkeys(STUDENTS, "graded"), "corrupt": "failed", "asleep": "failed"}
    assert records["corrupt"].error.startswith("NotJSONError: ")
    assert records["asleep"].error.startswith(f"timed out: stopped after {TIMEOUT} s")
    assert TIMEOUT <= records["asleep"].seconds < TIMEOUT + 15
    for student in ("corrupt", "asleep"):
        assert "NOT GRADED" in rows(run)[student]
        assert records[student].error in rows(run)[student]
        # No half-written autograded folder passes for a graded one.
        assert not (run.course / "autograded" / student / ASSIGNMENT).exists()
    for student in GRADED:
        assert records[student].error is None
        graded = run.course / "autograded" / student / ASSIGNMENT
        assert sorted(path.name for path in graded.glob("*.ipynb")) == sorted(
            NOTEBOOKS[:4] if student == "missing" else NOTEBOOKS)


def test_no_grade_is_lost_or_duplicated(run):
    cells = sum(len(notebook) for notebook in CELLS.values())
    found = counts(run.db_url)
    assert {student: found[student] for student in GRADED} == dict.fromkeys(GRADED, (1, cells))
    # A failed student has at most one submission row (nbgrader writes it before it fails).
    assert all(found.get(student, (1, 0))[0] == 1 for student in ("corrupt", "asleep"))
    assert sorted(gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT)) == sorted(found)


def test_the_submissions_are_left_untouched_and_postgresql_replaces_sqlite(run):
    assert tree_digest(run.course / "submitted") == run.before
    if run.db_url.startswith("postgresql"):
        assert not (run.course / "gradebook.db").exists()


def test_grading_again_duplicates_nothing(run):
    before = counts(run.db_url)
    scores = gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT, ["perfect", "buggy"])
    status, out, _ = grade(run.course, "--jobs", "2", "--db-url", run.db_url,
                           "--student", "perfect", "buggy")
    assert status == 0, out
    assert "2 students: 2 graded, 0 not graded." in out
    assert counts(run.db_url) == before
    assert gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT,
                                 ["perfect", "buggy"]) == scores


def test_the_url_reaches_nbgrader_through_the_environment_only(class_course):
    url = "postgresql+psycopg://grader:secret@db.example:5432/gradebook"
    environment, arguments = gradebook.worker_settings(class_course, url)
    assert environment[gradebook.DB_URL_VARIABLE] == url and arguments == []
    assert gradebook.shown(url) == "postgresql+psycopg://grader:***@db.example:5432/gradebook"


def test_a_sqlite_gradebook_waits_for_locks(class_course, monkeypatch):
    monkeypatch.delenv(gradebook.DB_URL_VARIABLE, raising=False)
    assert gradebook.resolve_db_url(class_course).endswith("/gradebook.db?timeout=30")
    assert gradebook.resolve_db_url(class_course, "sqlite:////x.db?timeout=5") == (
        "sqlite:////x.db?timeout=5")


def test_it_cannot_start_without_submissions_or_a_gradebook(class_course, tmp_path):
    course = copy_course(tmp_path / "empty")
    status, out, _ = grade(course)
    assert status == 1 and "nbgrader collect digit-lab" in out
    status, out, _ = grade(class_course, "--db-url",
                           "postgresql+psycopg://grader:secret@127.0.0.1:1/gradebook")
    assert status == 1 and "Cannot open the gradebook" in out
    assert "secret" not in out
    status, out, _ = grade(class_course, "--student", "nobody")
    assert status == 1 and "nobody" in out


def test_the_reason_of_a_failure_is_the_last_error_nbgrader_logged():
    traceback = ("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                 "    nbformat.reader.NotJSONError: Notebook does not appear to be JSON\n"
                 "[AutogradeApp | ERROR] There was an error processing assignment\n")
    assert failure_reason(traceback, 1) == "NotJSONError: Notebook does not appear to be JSON"
    assert failure_reason("[AutogradeApp | ERROR] No notebooks found\n", 1) == (
        "No notebooks found")
    assert failure_reason("", 3) == "nbgrader autograde exited with status 3"


def test_the_progress_line_is_rewritten_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    bar = ProgressBar(terminal)
    bar.update(1, 12, StudentResult(GradingRecord("alexandra", "graded", 9.1), None))
    bar.update(2, 12, StudentResult(GradingRecord("bo", "failed", 1.0, error="x"), None))
    bar.close()
    assert terminal.getvalue() == ("\r[ 1/12] alexandra graded in 9.1 s"
                                   "\r[ 2/12] bo NOT GRADED in 1.0 s   \n")
