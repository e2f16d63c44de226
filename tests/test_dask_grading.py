"""`digitlab grade --scheduler` on a real Dask cluster on 127.0.0.1: a `dask scheduler`, two
`digitlab worker` processes with one grading slot each, a real PostgreSQL gradebook, and a
class of eight students (three perfect, two with the seed's bias bug, two blank, one without
notebook 05).

The module shares one course, one gradebook server, one scheduler and its two workers between
its tests (a worker a test kills is replaced before the next test). In file order:
- a run interrupted with Ctrl+C, then run again: the second run grades only the students the
  first did not, and nobody twice;
- a `--force` run during which one worker is SIGKILLed mid-grade: everyone is graded again,
  once, with the scores test_grade_class knows for such submissions, and the lost worker's
  students by the other worker;
- a run whose scheduler is SIGKILLed: the command ends with status 1 and names who is graded.
Every wait is on something observable (a record, an autograde process, a log line), never a
fixed sleep; every server runs in a session of its own, killed with its group afterwards.
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
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    copy_course,
    copy_generated,
    solved_release,
    submit,
)
from lab_browser import free_port
from postgres_server import throwaway_server_url
from test_grade_class import CELLS, MAX_SCORES, _buggy_and_skipping, counts, expected_points

from digitlab import cli
from digitlab.atomic import atomic_write
from digitlab.course.grading import gradebook
from digitlab.course.grading.cluster import finished, submission_digest
from digitlab.course.layout import CourseLayout
from digitlab.course.records import GradingRecord, read_records

EXPECTED = {"perfect-1": expected_points(), "perfect-2": expected_points(),
            "perfect-3": expected_points(),
            "buggy-1": expected_points(failing=("test-bias-gradient", "test-sizes")),
            "buggy-2": expected_points(failing=("test-bias-gradient", "test-sizes")),
            "blank-1": dict.fromkeys(CELLS, 0), "blank-2": dict.fromkeys(CELLS, 0),
            "missing-1": expected_points(missing=(Path(NOTEBOOKS[4]).stem,))}
STUDENTS = sorted(EXPECTED)
BIN = Path(sys.executable).parent
RUN_TIMEOUT = 900  # seconds for a whole run on two cores busy with other work
START_TIMEOUT = 120  # seconds for a server to start


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


def wait_for(condition, what: str, timeout: float = START_TIMEOUT, log: Path | None = None):
    """condition()'s first true value, polled every 0.2 s; the test fails after timeout."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}" + (
            f"; {log}:\n{log.read_text()}" if log else "")
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def class_course(generated_course, tmp_path_factory) -> Path:
    course = copy_generated(generated_course, tmp_path_factory.mktemp("dask-class") / "course")
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
def db_url() -> Iterator[str]:
    """The module's own PostgreSQL server: the session's holds other tests' students."""
    yield from throwaway_server_url()


def start_scheduler(stack: contextlib.ExitStack, folder: Path) -> tuple[str, subprocess.Popen]:
    """A `dask scheduler` on 127.0.0.1 (stopped with the stack): (its address, process)."""
    port, log = free_port(), folder / f"scheduler-{time.monotonic_ns()}.log"
    process = stack.enter_context(server(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"], log))
    wait_for(lambda: _answers(port), "the scheduler", log=log)
    return f"tcp://127.0.0.1:{port}", process


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Cluster:
    """The module's course, gradebook and scheduler, and its `digitlab worker`s (one slot
    each), all stopped with the stack."""

    def __init__(self, course: Path, db_url: str, folder: Path, stack: contextlib.ExitStack):
        self.course, self.db_url, self.folder, self.stack = course, db_url, folder, stack
        self.environment = {**os.environ, gradebook.DB_URL_VARIABLE: db_url}
        self.scheduler, _ = start_scheduler(stack, folder)
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, scheduler: str | None = None) -> subprocess.Popen:
        """A worker joined to the scheduler (the module's by default)."""
        log = self.folder / f"worker-{time.monotonic_ns()}.log"
        process = self.stack.enter_context(server(
            [sys.executable, "-m", "digitlab.cli", "worker", scheduler or self.scheduler,
             "--slots", "1", "--course", str(self.course)], log, self.environment))
        # distributed logs this once the scheduler has the worker.
        wait_for(lambda: "Registered to:" in log.read_text() or process.poll() is not None,
                 "the worker to join the scheduler", log=log)
        assert process.poll() is None, f"the worker stopped:\n{log.read_text()}"
        return process

    def two_workers(self) -> list[subprocess.Popen]:
        """The two live workers, starting one for each that a test killed."""
        self.workers = [worker for worker in self.workers if worker.poll() is None]
        while len(self.workers) < 2:
            self.workers.append(self.start_worker())
        return self.workers

    def start_grading(self, *arguments: str, scheduler: str | None = None
                      ) -> tuple[subprocess.Popen, Path]:
        """`digitlab grade digit-lab --scheduler ...` in the background, killed at the end
        of the module if still running; (process, its output)."""
        output = self.folder / f"grade-{time.monotonic_ns()}.log"
        process = self.stack.enter_context(server(
            [sys.executable, "-m", "digitlab.cli", "grade", ASSIGNMENT, "--course",
             str(self.course), "--scheduler", scheduler or self.scheduler, *arguments],
            output, self.environment))
        return process, output

    def forget_grading(self) -> None:
        """Back to a class never graded: no records, attempts, staging or autograded/ (the
        gradebook's rows stay: autograde replaces a student's)."""
        shutil.rmtree(CourseLayout(self.course).grading(ASSIGNMENT), ignore_errors=True)
        shutil.rmtree(self.course / "autograded", ignore_errors=True)


@pytest.fixture(scope="module")
def module_cluster(class_course, db_url, tmp_path_factory) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        yield Cluster(class_course, db_url, tmp_path_factory.mktemp("cluster"), stack)


@pytest.fixture
def cluster(module_cluster) -> Cluster:
    module_cluster.two_workers()
    return module_cluster


def _name(worker: subprocess.Popen) -> str:
    return f"{socket.gethostname()}-{worker.pid}"


def attempts(course: Path) -> dict[str, list[str]]:
    """{student: the workers that started grading them, in order}."""
    folder = CourseLayout(course).grading(ASSIGNMENT) / "attempts"
    return {path.stem: [json.loads(line)["worker"] for line in path.read_text().splitlines()]
            for path in sorted(folder.glob("*.jsonl"))}


def new_attempts(before: dict[str, list[str]], after: dict[str, list[str]]
                 ) -> dict[str, list[str]]:
    """{student: the workers that started grading them since `before`}."""
    return {student: workers[len(before.get(student, [])):]
            for student, workers in after.items() if len(workers) > len(before.get(student, []))}


def done(course: Path) -> list[str]:
    """The students whose record shows their submission graded."""
    return sorted(finished(CourseLayout(course), ASSIGNMENT, STUDENTS))


def assert_graded_once_with_known_scores(course: Path, db_url: str) -> None:
    records, unreadable = read_records(course, ASSIGNMENT)
    assert not unreadable
    assert {student: record.status for student, record in records.items()} == dict.fromkeys(
        STUDENTS, "graded")
    assert done(course) == STUDENTS
    scores = gradebook.read_scores(db_url, "digitlab", ASSIGNMENT)
    for student, expected in EXPECTED.items():
        notebooks = {notebook.notebook: notebook for notebook in scores[student].notebooks}
        assert {name: notebook.score for name, notebook in notebooks.items()} == expected, \
            student
        assert {name: notebook.max_score for name, notebook in notebooks.items()} == MAX_SCORES
    cells = sum(len(notebook) for notebook in CELLS.values())
    assert counts(db_url) == dict.fromkeys(STUDENTS, (1, cells))


def stopped_message(out: str) -> tuple[list[str], list[str]]:
    """(graded, not graded) as the "Grading stopped" message names them."""
    line = next(line for line in out.splitlines() if line.startswith("Grading stopped: "))
    graded, rest = line.split(" Graded: ", 1)[1].split(". Not graded: ", 1)
    rest = rest.split(". Run the command again", 1)[0]
    return ([] if graded == "nobody" else graded.split(", "),
            [] if rest == "nobody" else rest.split(", "))


def _grading(worker: subprocess.Popen) -> str | None:
    """The student whose autograde the worker runs now, if any."""
    with contextlib.suppress(psutil.NoSuchProcess):
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


def scheduler_imported(address: str, module: str) -> bool:
    """Whether the scheduler at address has imported module."""
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT) as client:
        return client.run_on_scheduler(eval, f"{module!r} in __import__('sys').modules")


def test_an_interrupted_run_resumes_without_grading_anyone_twice(cluster):
    course = cluster.course
    cluster.forget_grading()
    process, output = cluster.start_grading()
    # Two graded: each worker has just started its next student when Ctrl+C comes.
    wait_for(lambda: len(done(course)) >= 2, "two students graded", timeout=RUN_TIMEOUT,
             log=output)
    process.send_signal(signal.SIGINT)  # Ctrl+C
    assert process.wait(timeout=120) == 130, output.read_text()
    out = output.read_text()
    assert "Grading stopped: interrupted (Ctrl+C)." in out
    # The command ends once the workers have stopped: its message and the records agree,
    # and nothing of the run is left running.
    first = done(course)
    assert stopped_message(out) == (first, sorted(set(STUDENTS) - set(first)))
    assert 2 <= len(first) < len(STUDENTS), "the run finished before it was interrupted"
    assert not any(_grading(worker) for worker in cluster.workers)
    records_before, before = read_records(course, ASSIGNMENT)[0], attempts(course)

    process, output = cluster.start_grading()
    assert process.wait(timeout=RUN_TIMEOUT) == 0, output.read_text()
    out = output.read_text()
    print(out)
    assert f"Not graded again, their submission already graded: {', '.join(first)} " \
           "(--force grades them again)." in out
    assert_graded_once_with_known_scores(course, cluster.db_url)
    records = read_records(course, ASSIGNMENT)[0]
    assert {student: records[student] for student in first} == {
        student: records_before[student] for student in first}
    # Nobody graded twice: the second run started each of the others once, and none of
    # the first run's.
    second = new_attempts(before, attempts(course))
    assert {student: len(workers) for student, workers in second.items()} == dict.fromkeys(
        sorted(set(STUDENTS) - set(first)), 1)
    # The scheduler unpickled every task, yet imported nothing of the grading (cluster_task).
    assert not scheduler_imported(cluster.scheduler, "nbgrader")


def test_a_worker_killed_mid_grade_leaves_its_students_to_the_other(cluster):
    """With --force: everyone is graded again, those of the lost worker by the other."""
    course, (lost, kept) = cluster.course, cluster.workers
    before = attempts(course)
    process, output = cluster.start_grading("--force")

    def grading_the_fifth_or_later() -> str | None:
        """The student the first worker grades once five students have been started (so
        that the other worker, alone after the kill, has few left), if any."""
        started = sum(map(len, new_attempts(before, attempts(course)).values()))
        return _grading(lost) if started >= 5 else None

    # Mid-grade: an autograde runs under the worker, the student on its command line.
    victim = wait_for(grading_the_fifth_or_later, "the first worker to grade a student",
                      timeout=RUN_TIMEOUT, log=output)
    left_behind = psutil.Process(lost.pid).children(recursive=True)
    os.kill(lost.pid, signal.SIGKILL)
    assert process.wait(timeout=RUN_TIMEOUT) == 0, output.read_text()
    out = output.read_text()
    print(out)
    assert "Not graded again" not in out

    assert_graded_once_with_known_scores(course, cluster.db_url)
    tried = new_attempts(before, attempts(course))
    assert sorted(tried) == STUDENTS  # --force: everyone, whatever their records said
    retried = sorted(student for student, workers in tried.items() if len(workers) > 1)
    assert victim in retried
    assert all(tried[student] == [_name(lost), _name(kept)] for student in retried)
    records, _ = read_records(course, ASSIGNMENT)
    assert all(records[student].worker == _name(kept) for student in retried)
    # The summary says who was graded again, and why.
    line = next(line for line in out.splitlines() if line.startswith("Graded again"))
    assert [part.split(" (")[0] for part in line.split(": ", 1)[1].split("; ")] == retried
    assert f"worker {_name(lost)} was lost while grading (attempt 2)" in line
    # What the lost worker left: its autogrades and kernels, its staged copies and events.
    wait_for(lambda: not any(_alive(child) for child in left_behind),
             "the lost worker's processes to end", timeout=30)
    lost_layout = CourseLayout(course, worker=_name(lost))
    assert not [path for path in lost_layout.staging(ASSIGNMENT).glob("*")
                if path.name in retried]
    assert not [student for student in retried
                if lost_layout.events_file(student, ASSIGNMENT).exists()]


def test_a_lost_scheduler_ends_the_run_with_a_message(cluster):
    """A scheduler of its own with one worker of the module's course and gradebook."""
    cluster.forget_grading()
    with contextlib.ExitStack() as stack:
        scheduler, scheduler_process = start_scheduler(stack, cluster.folder)
        worker = cluster.start_worker(scheduler)
        process, output = cluster.start_grading("--student", "perfect-1", "blank-1",
                                                scheduler=scheduler)
        wait_for(lambda: _grading(worker), "the worker to grade a student",
                 timeout=RUN_TIMEOUT, log=output)
        left_behind = psutil.Process(worker.pid).children(recursive=True)
        os.killpg(scheduler_process.pid, signal.SIGKILL)
        assert process.wait(timeout=120) == 1, output.read_text()
        out = output.read_text()
        assert f"Grading stopped: the scheduler {scheduler} was lost." in out
        graded, rest = stopped_message(out)
        assert sorted(graded + rest) == ["blank-1", "perfect-1"]
        assert graded == done(cluster.course)
        # The worker, without its scheduler, closes and kills its autograde.
        assert worker.wait(timeout=120) is not None
        wait_for(lambda: not any(_alive(child) for child in left_behind),
                 "the worker's autograde to end", timeout=30)


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


def test_done_means_a_graded_record_of_the_submission_as_it_is_now(tmp_path):
    """What resume skips: a record that says "graded" with the digest of submitted/ now; a
    failed grading, a changed file, an added file or no record is not done."""
    layout = CourseLayout(copy_course(tmp_path / "course"))
    layout.grading(ASSIGNMENT).mkdir(parents=True)
    for student in ("graded", "failed", "changed", "added", "unrecorded"):
        folder = layout.submitted(student, ASSIGNMENT)
        (folder / "data").mkdir(parents=True)
        (folder / "01.ipynb").write_text("{}")
        (folder / "data" / "submission.csv").write_text("id,label\n")
        if student != "unrecorded":
            record = GradingRecord(student, "failed" if student == "failed" else "graded", 1.0,
                                   submission=submission_digest(layout, ASSIGNMENT, student))
            with atomic_write(layout.record(student, ASSIGNMENT)) as file:
                file.write(record.to_json())
    (layout.submitted("changed", ASSIGNMENT) / "data" / "submission.csv").write_text("id\n")
    (layout.submitted("added", ASSIGNMENT) / "02.ipynb").write_text("{}")
    students = ["added", "changed", "failed", "graded", "unrecorded"]
    assert list(finished(layout, ASSIGNMENT, students)) == ["graded"]
    assert read_records(layout.root, ASSIGNMENT)[0]["graded"].submission == submission_digest(
        layout, ASSIGNMENT, "graded")
