"""`digitlab grade` on a small class, with the real nbgrader, on SQLite and on a real
PostgreSQL server, two students at a time.

The class: perfect, blank (the release as it is), buggy (the seed's bias bug, and a skip tag
on a test cell), missing (no notebook 05), corrupt (notebook 01 cut off in the middle of its
JSON, notebook 04 of an unknown nbformat, and a symbolic link to another student's notebook),
hollow (every notebook cut off) and asleep (a cell that sleeps past the time limit for one
student). Each backend grades the
class once, both at once. The course's config plants a limit hit and a patched check from
inside the real autograde processes (EVENTS_HOOK), as the grading preprocessors report them.

The staging, the slot pool and the summary's layout are also tested on their own, without
nbgrader.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
    copy_generated,
    grade_id,
    nbgrader,
    replace_answer,
    solved_release,
    submit,
    tree_digest,
)
from nbgrader.api import Gradebook
from postgres_server import postgres_url  # noqa: F401 - the fixture, for PostgreSQL runs
from summary_table import summary_problems, summary_rows

from digitlab import cli
from digitlab.course.grading import gradebook
from digitlab.course.grading.grade import (
    ClassResult,
    SlotPool,
    StudentResult,
    failure_reason,
    stage_submission,
)
from digitlab.course.grading.integrity import Finding
from digitlab.course.grading.summary import MAX_PROBLEM_LINES, ProgressBar, summary
from digitlab.course.layout import CourseLayout
from digitlab.course.records import GradingRecord, LimitHit, PatchedCheck, read_records

# Seconds one student may take: the others need about 10-20 s each on two busy cores.
# "asleep" comes first in the order of grading, so its wait overlaps the others' grading.
TIMEOUT = 40
# "asleep" is to reach TIMEOUT before its sleeping cell reaches its own timeout (the course's
# 30 s would interrupt the sleep, and the student would be graded).
CELL_TIMEOUT = 60
STUDENTS = ["asleep", "blank", "buggy", "corrupt", "hollow", "missing", "perfect"]
GRADED = ["blank", "buggy", "corrupt", "missing", "perfect"]
NOTHING = "no notebook to grade: none was submitted, or none is a valid notebook"
TIMESTAMP = "2026-11-20 10:00:00.000000 UTC"
LIMIT = LimitHit("04-randomness.ipynb", "cpu", "killed after 60 s of CPU")
PATCHED = PatchedCheck("05-competition.ipynb", "test-accuracy-85", "scored 0.10 outside")
# Appended to the class's nbgrader_config.py. It runs in every real autograde process the
# driver starts (once: config files may be loaded twice) and stands in for the grading
# preprocessors: it reports events through records.report_event and notes the slot it got.
EVENTS_HOOK = f"""
if os.environ.get("DIGITLAB_GRADING_EVENTS") and not os.environ.get("PLANTED"):
    os.environ["PLANTED"] = "1"
    from digitlab.course.records import LimitHit, PatchedCheck, report_event
    events = Path(os.environ["DIGITLAB_GRADING_EVENTS"])
    events.with_suffix(".slot").write_text(os.environ["DIGITLAB_GRADER_SLOT"])
    student = sys.argv[sys.argv.index("--student") + 1]
    if student == "missing":
        report_event({LIMIT!r})
    if student == "perfect":
        report_event({PATCHED!r})
"""


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
    # Notebooks 01 and 04 are invalid: left out, graded as missing.
    "corrupt": expected_points(missing=(Path(NOTEBOOKS[0]).stem, Path(NOTEBOOKS[3]).stem)),
}


def _sleep_first(notebooks):
    replace_answer(notebooks, NOTEBOOKS[3], "summarize-accuracies",
                   lambda source: "import time\ntime.sleep(600)\n" + source)


def _buggy_and_skipping(notebooks):
    averaged_bias(notebooks)
    for cell in notebooks[NOTEBOOKS[0]].cells:
        if grade_id(cell) == "test-sizes":
            cell.metadata["tags"] = ["skip-execution"]


def _corrupt(folder: Path) -> None:
    """Notebook 01 cut off mid-JSON, notebook 04 of nbformat 99, a link to another's work."""
    first = folder / NOTEBOOKS[0]
    first.write_text(first.read_text()[:5000])
    fourth = json.loads((folder / NOTEBOOKS[3]).read_text())
    (folder / NOTEBOOKS[3]).write_text(json.dumps({**fourth, "nbformat": 99}))
    (folder / "answers.ipynb.txt").symlink_to(f"../../perfect/{ASSIGNMENT}/{NOTEBOOKS[0]}")


@pytest.fixture(scope="module")
def class_course(generated_course, tmp_path_factory) -> Path:
    course = copy_generated(generated_course, tmp_path_factory.mktemp("class") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(EVENTS_HOOK + f"c.Execute.timeout = {CELL_TIMEOUT}\n")
    # The instructor's own run of notebook 05 left predictions in the source folder: autograde
    # must keep each student's file instead (exclude_overwriting).
    (course / "notebooks" / ASSIGNMENT / "submission.csv").write_text("ImageId,Label\n1,0\n")
    solved = solved_release(course)
    perfect = {"submission.csv": KEY}
    (submit(course, "perfect", solved, perfect) / "timestamp.txt").write_text(TIMESTAMP)
    submit(course, "blank", {name: nbformat.read(course / "release" / ASSIGNMENT / name, 4)
                             for name in NOTEBOOKS})
    submit(course, "buggy", solved, perfect, change=_buggy_and_skipping)
    submit(course, "missing", {name: solved[name] for name in NOTEBOOKS[:4]})
    _corrupt(submit(course, "corrupt", solved, perfect))
    for notebook in submit(course, "hollow", solved, perfect).glob("*.ipynb"):
        notebook.write_text(notebook.read_text()[:100])
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


BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def runs(class_course, tmp_path_factory, request) -> dict[str, Run]:
    """{backend: its Run}: the class graded once on each gradebook, both at once, each by
    its own `digitlab grade` process (two jobs each, so four grading users at once). At
    once, because "asleep" keeps a slot waiting for TIMEOUT in each: one after the other,
    the machine idled twice for that long."""
    started = {}
    for backend in BACKENDS:
        course = tmp_path_factory.mktemp(backend) / "course"
        shutil.copytree(class_course, course, symlinks=True)
        environment = {key: value for key, value in os.environ.items()
                       if key != gradebook.DB_URL_VARIABLE}
        if backend == "postgresql":
            # As the README says: the URL, password included, only in the environment.
            db_url = environment[gradebook.DB_URL_VARIABLE] = request.getfixturevalue(
                "postgres_url")
            (course / "gradebook.db").unlink()  # so a fall-back to SQLite would show
        else:
            db_url = f"sqlite:///{course / 'gradebook.db'}"
        before = tree_digest(course / "submitted")
        process = subprocess.Popen(
            [sys.executable, "-m", "digitlab.cli", "grade", ASSIGNMENT, "--course",
             str(course), "--jobs", "2", "--timeout", str(TIMEOUT)],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[backend] = (course, db_url, before, process)
    runs = {}
    try:
        for backend, (course, db_url, before, process) in started.items():
            out, err = process.communicate(timeout=600)
            runs[backend] = Run(course, db_url, process.returncode, out, err, before)
    finally:
        for *_, process in started.values():
            if process.poll() is None:  # the other one hung: it would grade on for nobody
                process.kill()
                process.wait()
    return runs


@pytest.fixture(scope="module", params=BACKENDS)
def run(request, runs) -> Run:
    return runs[request.param]


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
    assert sorted(summary_rows(run.out, STUDENTS)) == STUDENTS
    assert "7 students: 5 graded, 2 not graded (asleep, hollow)" in run.out
    # The progress: one line per student (stderr is not a terminal here).
    assert [line.split("]")[0] for line in run.err.splitlines()] == [
        f"[{done}/7" for done in range(1, 8)]


def test_graded_students_get_their_points_per_notebook(run):
    scores = gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT)
    for student, expected in EXPECTED.items():
        notebooks = {notebook.notebook: notebook for notebook in scores[student].notebooks}
        assert {name: notebook.score for name, notebook in notebooks.items()} == expected
        assert {name: notebook.max_score for name, notebook in notebooks.items()} == MAX_SCORES
        assert summary_rows(run.out, STUDENTS)[student].split()[1:3] == [
            "graded", f"{sum(expected.values()):g}/{sum(MAX_SCORES.values()):g}"]


def test_the_summary_names_every_problem(run):
    problems = summary_problems(run.out, STUDENTS)
    assert problems["missing"] == [f"{NOTEBOOKS[4]} was not submitted: graded as missing",
                                   "04-randomness: CPU time limit (killed after 60 s of CPU)"]
    assert problems["perfect"] == ["05-competition test-accuracy-85: patched check"]
    assert problems["buggy"] == ["01-linear-backward test-sizes: skip tag"]
    assert problems["blank"] == []
    first, fourth, link = problems["corrupt"]
    assert first == (f"{NOTEBOOKS[0]} is not a valid notebook (NotJSONError: the file is not "
                     "JSON (cut off, or not a notebook)): graded as missing")
    assert fourth == (f"{NOTEBOOKS[3]} is not a valid notebook (NBFormatError: Unsupported "
                      "nbformat version 99): graded as missing")
    assert link == "answers.ipynb.txt is a symbolic link: left out"
    assert problems["asleep"][0].startswith(f"timed out: stopped after {TIMEOUT} s")
    # Six problems: four shown, the fifth line counts the rest.
    assert problems["hollow"] == [NOTHING] + [
        f"{name} is not a valid notebook (NotJSONError: the file is not JSON (cut off, or not "
        "a notebook)): graded as missing" for name in NOTEBOOKS[:3]] + [
        "... and 2 more (digitlab report lists them all)"]


def test_limit_hits_and_patched_checks_come_from_the_autograde_as_events(run):
    records, _ = read_records(run.course, ASSIGNMENT)
    assert {student: (record.limits, record.patched_checks)
            for student, record in records.items()} == {
        **dict.fromkeys(STUDENTS, ((), ())), "missing": ((LIMIT,), ()),
        "perfect": ((), (PATCHED,))}
    events = run.course / "grading" / ASSIGNMENT / "events"
    # Each autograde held slot 1 or 2; the first two, started together, held one each.
    # hollow's never ran: nothing to grade.
    slots = {student: (events / f"{student}.slot").read_text()
             for student in [*GRADED, "asleep"]}
    assert set(slots.values()) == {"1", "2"}
    assert not (events / "hollow.slot").exists()
    assert (events / "missing.jsonl").read_text().count("\n") == 1


def test_invalid_files_are_left_out_of_a_staged_copy(run):
    records, _ = read_records(run.course, ASSIGNMENT)
    assert records["corrupt"].notes == tuple(summary_problems(run.out, STUDENTS)["corrupt"])
    assert records["missing"].notes == (f"{NOTEBOOKS[4]} was not submitted: graded as missing",)
    graded = run.course / "autograded" / "corrupt" / ASSIGNMENT
    assert sorted(path.name for path in graded.iterdir()) == sorted(
        [NOTEBOOKS[1], NOTEBOOKS[2], NOTEBOOKS[4], "submission.csv"])
    # The student's own submission.csv is graded (exclude_overwriting), and the staged
    # copies are gone once graded.
    assert (run.course / "autograded" / "perfect" / ASSIGNMENT / "submission.csv"
            ).read_bytes() == KEY.read_bytes()
    assert not CourseLayout(run.course).staging(ASSIGNMENT).exists()
    # nbgrader read the submission time from the staged timestamp.txt.
    with Gradebook(run.db_url, "digitlab") as book:
        assert str(book.find_submission(ASSIGNMENT, "perfect").timestamp).startswith(
            "2026-11-20 10:00:00")


def test_failed_students_are_not_graded_and_say_why(run):
    records, unreadable = read_records(run.course, ASSIGNMENT)
    assert unreadable == {} and sorted(records) == STUDENTS
    assert {student: record.status for student, record in records.items()} == {
        **dict.fromkeys(STUDENTS, "graded"), "asleep": "failed", "hollow": "failed"}
    assert records["hollow"].error == NOTHING and len(records["hollow"].notes) == 5
    assert records["asleep"].error.startswith(f"timed out: stopped after {TIMEOUT} s")
    assert TIMEOUT <= records["asleep"].seconds < TIMEOUT + 15
    assert "NOT GRADED" in summary_rows(run.out, STUDENTS)["asleep"]
    assert records["asleep"].error in summary_rows(run.out, STUDENTS)["asleep"]
    # No half-written autograded folder passes for a graded one.
    assert not (run.course / "autograded" / "asleep" / ASSIGNMENT).exists()
    for student in GRADED:
        assert records[student].error is None
        graded = run.course / "autograded" / student / ASSIGNMENT
        assert sorted(path.name for path in graded.glob("*.ipynb")) == sorted(
            set(NOTEBOOKS) - {"missing": {NOTEBOOKS[4]},
                              "corrupt": {NOTEBOOKS[0], NOTEBOOKS[3]}}.get(student, set()))


def test_the_report_names_the_problems_of_a_real_grading(run, tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["report", ASSIGNMENT, "--course", str(run.course), "--db-url",
                         run.db_url, "--out", str(tmp_path)]) == 0, out.getvalue()
    with open(tmp_path / f"{ASSIGNMENT}-integrity.csv", newline="") as file:
        integrity = {(row["student"], row["kind"]): row for row in csv.DictReader(file)}
    assert {("missing", "hit_limit"), ("perfect", "patched_check"), ("asleep", "grading_failed"),
            ("asleep", "not_graded"), ("corrupt", "grading_note"), ("corrupt", "corrupt_notebook"),
            ("buggy", "skip_tag"), ("missing", "missing_notebook"),
            ("hollow", "grading_failed")} <= set(integrity)
    assert "killed after 60 s of CPU" in integrity["missing", "hit_limit"]["explanation"]
    with open(tmp_path / f"{ASSIGNMENT}-scores.csv", newline="") as file:
        scores = {row["student"]: row for row in csv.DictReader(file)}
    assert scores["corrupt"]["graded"] == "yes" and "grading_note" in scores["corrupt"]["flags"]
    assert scores["asleep"]["graded"] == "no"
    page = (tmp_path / f"{ASSIGNMENT}.html").read_text()
    assert "answers.ipynb.txt is a symbolic link: left out" in page
    assert "test-accuracy-85" in page


def test_no_grade_is_lost_or_duplicated(run):
    cells = sum(len(notebook) for notebook in CELLS.values())
    found = counts(run.db_url)
    assert {student: found[student] for student in GRADED} == dict.fromkeys(GRADED, (1, cells))
    # A failed autograde leaves at most one submission row (nbgrader writes it first).
    assert found.get("asleep", (1, 0))[0] == 1
    assert "hollow" not in found  # never given to nbgrader
    assert sorted(gradebook.read_scores(run.db_url, "digitlab", ASSIGNMENT)) == sorted(found)


def test_the_submissions_are_left_untouched_and_postgresql_replaces_sqlite(run):
    assert tree_digest(run.course / "submitted") == run.before
    if run.db_url.startswith("postgresql"):
        assert not (run.course / "gradebook.db").exists()
    else:  # and feedback is made from autograded/ as before
        nbgrader(run.course, "generate_feedback", ASSIGNMENT, "--student", "corrupt")
        assert sorted(path.name for path in (run.course / "feedback" / "corrupt" / ASSIGNMENT)
                      .glob("*.html")) == [Path(name).stem + ".html" for name in
                                           (NOTEBOOKS[1], NOTEBOOKS[2], NOTEBOOKS[4])]


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


def test_it_does_not_start_when_the_grading_kernels_could_not(class_course, tmp_path):
    """Without its grading users every kernel would fail and every student score 0: the
    driver refuses to start and says how to create them."""
    if os.geteuid() != 0:
        pytest.skip("grading users matter only to a root grader")
    course = tmp_path / "course"
    shutil.copytree(class_course, course, symlinks=True)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write('\nc.GradingLimits.user = "digitlab-nobody"\n')
    status, out, _ = grade(course, "--jobs", "2")
    assert status == 1
    assert "The grading kernels cannot start on this machine" in out
    assert "useradd --system" in out and "digitlab-nobody-2" in out
    assert not (course / "autograded").exists()


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


def test_a_slot_is_held_by_one_grader_at_a_time():
    slots, lock, holders, seen = SlotPool(3), threading.Lock(), {}, []

    def work(task: int) -> None:
        with slots.hold() as slot:
            with lock:
                assert slot not in holders, f"slot {slot} held by {holders[slot]} and {task}"
                holders[slot] = task
                seen.append((slot, len(holders)))
            time.sleep(0.01)
            with lock:
                del holders[slot]

    # More threads than slots, so some wait for a slot to come back.
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(30)))
    assert {slot for slot, _ in seen} == {1, 2, 3}
    assert max(held for _, held in seen) == 3 and len(seen) == 30


def test_staging_copies_all_but_what_nbgrader_must_not_read(tmp_path):
    folder = tmp_path / "submitted" / "s" / ASSIGNMENT
    (folder / "data").mkdir(parents=True)
    good = nbformat.v4.new_notebook()
    nbformat.write(good, folder / "good.ipynb")
    (folder / "cut.ipynb").write_text(nbformat.writes(good)[:40])
    (folder / "prose.ipynb").write_text("my answers are in the essay")
    (folder / "future.ipynb").write_text(json.dumps({**good, "nbformat": 5}))
    (folder / "linked.ipynb").symlink_to(folder / "good.ipynb")
    (folder / "data" / "numbers.txt").write_text("1 2 3")
    (folder / "data" / "key").symlink_to(KEY)
    (folder / "data" / "nested.ipynb").write_text("not checked: nbgrader grades top-level only")
    os.mkfifo(folder / "pipe")
    (folder / "timestamp.txt").write_text(TIMESTAMP)
    before = tree_digest(tmp_path / "submitted")

    left_out = stage_submission(CourseLayout(tmp_path), ASSIGNMENT, "s")

    staged = CourseLayout(tmp_path).staging(ASSIGNMENT) / "s" / ASSIGNMENT
    assert sorted(str(path.relative_to(staged)) for path in staged.rglob("*")) == [
        "data", "data/nested.ipynb", "data/numbers.txt", "good.ipynb", "timestamp.txt"]
    assert (staged / "timestamp.txt").read_text() == TIMESTAMP
    assert tree_digest(tmp_path / "submitted") == before
    assert sorted(left_out) == ["cut.ipynb", "data/key", "future.ipynb", "linked.ipynb",
                                "pipe", "prose.ipynb"]
    assert left_out["prose.ipynb"] == (
        "prose.ipynb is not a valid notebook (NotJSONError: the file is not JSON (cut off, or "
        "not a notebook)): graded as missing")
    assert left_out["future.ipynb"].startswith("future.ipynb is not a valid notebook (")
    assert left_out["cut.ipynb"].endswith(": graded as missing")
    assert left_out["linked.ipynb"] == "linked.ipynb is a symbolic link: graded as missing"
    assert left_out["data/key"] == "data/key is a symbolic link: left out"
    assert left_out["pipe"] == "pipe is not a regular file: left out"
    # Staging again starts from a fresh copy.
    (staged / "stale.txt").write_text("from a killed run")
    assert stage_submission(CourseLayout(tmp_path), ASSIGNMENT, "s") == left_out
    assert not (staged / "stale.txt").exists()


def test_the_summary_shows_a_few_problems_per_student_and_counts_the_rest():
    findings = tuple(Finding("many", NOTEBOOKS[0], "edited_test", f"test-{number}", "...")
                     for number in range(7))
    many = StudentResult(GradingRecord("many", "graded", 3.0, limits=(LIMIT,)), None, findings)
    calm = StudentResult(GradingRecord("calm", "graded", 2.0), None)
    lines = summary(ClassResult(ASSIGNMENT, "sqlite://", 1, (), (calm, many), 5.0,
                                scan_error="There are no notebooks in release/digit-lab"))
    assert lines[-1] == "No integrity scan: There are no notebooks in release/digit-lab"
    column = lines[0].index("problems")
    assert lines[1].startswith("calm") and len(lines[1]) <= column
    assert lines[2].startswith("many") and lines[2][column:] == (
        "04-randomness: CPU time limit (killed after 60 s of CPU)")
    below = lines[3:3 + MAX_PROBLEM_LINES - 1]
    assert below == [" " * column + f"01-linear-backward test-{number}: edited test"
                     for number in range(MAX_PROBLEM_LINES - 2)] + [
        " " * column + "... and 4 more (digitlab report lists them all)"]
    assert lines[3 + MAX_PROBLEM_LINES - 1] == ""
