"""`digitlab grade --scheduler` on a real Dask cluster on 127.0.0.1: a `dask scheduler`, two
`digitlab worker` processes with one grading slot each, a real PostgreSQL gradebook, and a
class of eight students (three perfect, two with the seed's bias bug, two blank, one without
notebook 05).

One test SIGKILLs a worker while it grades and checks that every student ends up graded once,
with the scores test_grade_class knows for such submissions; the other interrupts a run with
Ctrl+C and runs it again, checking that nobody is graded twice. Each test has its own
gradebook server and its own workers; every server is killed with its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from course_builder import ASSIGNMENT, KEY, NOTEBOOKS, copy_course, nbgrader, solved_release, submit
from lab_browser import free_port
from postgres_server import find_bindir, postgres_server
from test_grade_class import CELLS, MAX_SCORES, _buggy_and_skipping, counts, expected_points

from digitlab import cli
from digitlab.course.grading import gradebook
from digitlab.course.layout import CourseLayout
from digitlab.course.records import read_records

EXPECTED = {"perfect-1": expected_points(), "perfect-2": expected_points(),
            "perfect-3": expected_points(),
            "buggy-1": expected_points(failing=("test-bias-gradient", "test-sizes")),
            "buggy-2": expected_points(failing=("test-bias-gradient", "test-sizes")),
            "blank-1": dict.fromkeys(CELLS, 0), "blank-2": dict.fromkeys(CELLS, 0),
            "missing-1": expected_points(missing=(Path(NOTEBOOKS[4]).stem,))}
STUDENTS = sorted(EXPECTED)
BIN = Path(sys.executable).parent
RUN_TIMEOUT = 1800  # seconds for a whole run on two cores busy with other work


@contextlib.contextmanager
def server(arguments: list[str], log: Path, environment: dict | None = None
           ) -> Iterator[subprocess.Popen]:
    """A process in a session of its own, its output in log; its whole group killed after."""
    with open(log, "w") as output:
        process = subprocess.Popen(arguments, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=environment)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def class_course(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("dask-class") / "course")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    solved = solved_release(course)
    release = {name: nbformat.read(course / "release" / ASSIGNMENT / name, 4)
               for name in NOTEBOOKS}
    for student in STUDENTS:
        kind = student.split("-")[0]
        if kind == "missing":
            submit(course, student, {name: solved[name] for name in NOTEBOOKS[:4]})
        else:
            submit(course, student, release if kind == "blank" else solved,
                   None if kind == "blank" else {"submission.csv": KEY},
                   change=_buggy_and_skipping if kind == "buggy" else None)
    return course


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("scheduler") / "scheduler.log"
    with server([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard"], log):
        address = f"tcp://127.0.0.1:{port}"
        wait_for(lambda: _answers(port), "the scheduler", timeout=60)
        yield address


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def cluster(class_course, scheduler, tmp_path) -> Iterator[dict]:
    """A copy of the class, its own PostgreSQL gradebook, and two fresh one-slot workers."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: apt-get install -y postgresql")
    course = tmp_path / "course"
    shutil.copytree(class_course, course, symlinks=True)
    with postgres_server(bindir) as db_url, contextlib.ExitStack() as stack:
        environment = {**os.environ, gradebook.DB_URL_VARIABLE: db_url}
        workers = [stack.enter_context(server(
            [sys.executable, "-m", "digitlab.cli", "worker", scheduler, "--slots", "1",
             "--course", str(course)], tmp_path / f"worker-{index}.log", environment))
            for index in (1, 2)]
        for index in (1, 2):
            wait_for(lambda index=index: "grading slots" in
                     (tmp_path / f"worker-{index}.log").read_text(), f"worker {index}")
        _wait_for_workers(scheduler, {_name(worker) for worker in workers})
        yield {"course": course, "db_url": db_url, "scheduler": scheduler,
               "workers": workers, "environment": environment, "folder": tmp_path,
               "stack": stack}


def _name(worker: subprocess.Popen) -> str:
    return f"{socket.gethostname()}-{worker.pid}"


def _wait_for_workers(scheduler: str, names: set[str]) -> None:
    from distributed import Client

    with Client(scheduler, timeout="20s", set_as_default=False) as client:
        wait_for(lambda: names <= {worker["name"] for worker in
                                   client.scheduler_info()["workers"].values()},
                 "the workers to join the scheduler")


def start_grading(cluster: dict, *arguments: str) -> tuple[subprocess.Popen, Path]:
    """`digitlab grade digit-lab --scheduler ...` in the background, killed with the test's
    workers if still running; (process, its output)."""
    output = cluster["folder"] / f"grade-{time.monotonic_ns()}.log"
    process = cluster["stack"].enter_context(server(
        [sys.executable, "-m", "digitlab.cli", "grade", ASSIGNMENT, "--course",
         str(cluster["course"]), "--scheduler", cluster["scheduler"], *arguments],
        output, cluster["environment"]))
    return process, output


def attempts(course: Path) -> dict[str, list[str]]:
    """{student: the workers that started grading them, in order}."""
    folder = CourseLayout(course).grading(ASSIGNMENT) / "attempts"
    return {path.stem: [json.loads(line)["worker"] for line in path.read_text().splitlines()]
            for path in sorted(folder.glob("*.jsonl"))}


def assert_graded_once_with_known_scores(course: Path, db_url: str) -> None:
    records, unreadable = read_records(course, ASSIGNMENT)
    assert not unreadable
    assert {student: record.status for student, record in records.items()} == dict.fromkeys(
        STUDENTS, "graded")
    scores = gradebook.read_scores(db_url, "digitlab", ASSIGNMENT)
    for student, expected in EXPECTED.items():
        notebooks = {notebook.notebook: notebook for notebook in scores[student].notebooks}
        assert {name: notebook.score for name, notebook in notebooks.items()} == expected, \
            student
        assert {name: notebook.max_score for name, notebook in notebooks.items()} == MAX_SCORES
    cells = sum(len(notebook) for notebook in CELLS.values())
    assert counts(db_url) == dict.fromkeys(STUDENTS, (1, cells))


def test_a_worker_killed_mid_grade_leaves_its_students_to_the_other(cluster):
    course, (lost, kept) = cluster["course"], cluster["workers"]
    process, output = start_grading(cluster)
    # Mid-grade: an autograde runs under the worker, the student on its command line.
    victim = wait_for(lambda: _grading(lost), "the first worker to grade a student",
                      timeout=RUN_TIMEOUT)
    left_behind = psutil.Process(lost.pid).children(recursive=True)
    os.kill(lost.pid, signal.SIGKILL)
    assert process.wait(timeout=RUN_TIMEOUT) == 0, output.read_text()
    out = output.read_text()
    print(out)

    assert_graded_once_with_known_scores(course, cluster["db_url"])
    tried = attempts(course)
    retried = sorted(student for student, workers in tried.items() if len(workers) > 1)
    assert victim in retried
    assert all(tried[student] == [_name(lost), _name(kept)] for student in retried)
    records, _ = read_records(course, ASSIGNMENT)
    assert all(records[student].worker == _name(kept) for student in retried)
    # The summary says who was graded again, and why.
    line = next(line for line in out.splitlines() if line.startswith("Graded again"))
    assert [part.split(" (")[0] for part in line.split(": ", 1)[1].split("; ")] == retried
    assert f"worker {_name(lost)} was lost while grading (attempt 2)" in line
    # What the lost worker left: its autogrades and kernels, and its staged copies.
    wait_for(lambda: not any(_alive(child) for child in left_behind),
             "the lost worker's processes to end", timeout=30)
    staged = CourseLayout(course, worker=_name(lost)).staging(ASSIGNMENT)
    assert not [path for path in staged.glob("*") if path.name in retried]


def _grading(worker: subprocess.Popen) -> str | None:
    """The student whose autograde the worker runs now, if any."""
    for child in psutil.Process(worker.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            command = child.cmdline()
            if "autograde" in command and "--student" in command:
                return command[command.index("--student") + 1]
    return None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_interrupted_run_resumes_without_grading_anyone_twice(cluster):
    course = cluster["course"]
    process, output = start_grading(cluster)
    wait_for(lambda: len(read_records(course, ASSIGNMENT)[0]) >= 3, "three students graded",
             timeout=RUN_TIMEOUT)
    process.send_signal(signal.SIGINT)  # Ctrl+C
    assert process.wait(timeout=120) == 130
    out = output.read_text()
    assert "Grading stopped (KeyboardInterrupt" in out
    first = {student: record for student, record in read_records(course, ASSIGNMENT)[0].items()
             if record.status == "graded"}
    finished_line = out.split("Finished: ", 1)[1].split(". Not graded: ")
    assert set(finished_line[0].split(", ")) <= set(first)
    assert len(first) < len(STUDENTS), "the run finished before it was interrupted"

    process, output = start_grading(cluster)
    assert process.wait(timeout=RUN_TIMEOUT) == 0, output.read_text()
    out = output.read_text()
    print(out)
    assert f"Not graded again, their submission already graded: {', '.join(sorted(first))}" \
           in out
    assert_graded_once_with_known_scores(course, cluster["db_url"])
    records, _ = read_records(course, ASSIGNMENT)
    assert {student: records[student] for student in first} == first
    # Nobody graded twice: one start each for those graded before the interruption, and at
    # most one finished start (the second run's) for the others.
    tried = attempts(course)
    assert all(len(tried[student]) == 1 for student in first)
    assert all(len(tried[student]) <= 2 for student in STUDENTS)


def test_a_worker_refuses_a_host_that_cannot_grade(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(gradebook.DB_URL_VARIABLE, raising=False)
    assert cli.main(["worker", "tcp://127.0.0.1:9", "--course", str(tmp_path)]) == 1
    assert f"There is no course at {tmp_path}" in capsys.readouterr().out
    course = copy_course(tmp_path / "course")
    assert cli.main(["worker", "tcp://127.0.0.1:9", "--course", str(course)]) == 1
    assert "The gradebook is SQLite" in capsys.readouterr().out
    unreachable = f"postgresql+psycopg://grader:secret@127.0.0.1:{free_port()}/gradebook"
    assert cli.main(["worker", "tcp://127.0.0.1:9", "--course", str(course),
                     "--db-url", unreachable]) == 1
    out = capsys.readouterr().out
    assert "cannot be reached from here" in out and "secret" not in out
