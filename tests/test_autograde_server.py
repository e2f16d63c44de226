"""Autogrades forked from one nbgrader server per grading slot (grading.autograde_servers),
with the real nbgrader: a class graded through the server, as the grader and with the
environment a plain start has; a run stopped by the time limit or by an interrupt leaves no
process; a server killed mid-run costs no student (the slot falls back to the plain start).

The course's config gains a probe: every autograde notes who started it (its parent's
command), its user, its environment and sys.path[0] next to its events file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import nbformat
import pytest
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    copy_generated,
    replace_answer,
    solved_release,
    submit,
)

from digitlab.course.grading import autograde_servers, gradebook
from digitlab.course.grading.grade import grade_class
from digitlab.course.layout import CourseLayout
from digitlab.course.records import EVENTS_VARIABLE
from digitlab.course.sandbox.budget import STARTED_VARIABLE

SERVER = "fork_server.py serve"
KERNEL_SERVER = "-m digitlab.course.sandbox.kernel_server"
# Per student by design: where the events go, and when the student's clock started.
PER_STUDENT = {EVENTS_VARIABLE, STARTED_VARIABLE}
# Appended to the course's nbgrader_config.py; runs in each autograde (once: config files
# may be loaded twice).
PROBE = """
if os.environ.get("DIGITLAB_GRADING_EVENTS") and not os.environ.get("PROBED"):
    import json
    parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\\0", b" ")
    Path(os.environ["DIGITLAB_GRADING_EVENTS"]).with_suffix(".probe").write_text(json.dumps(
        {"ppid": os.getppid(), "parent": parent.decode(), "uid": os.getuid(),
         "gid": os.getgid(), "path0": sys.path[0], "env": dict(os.environ)}))
    os.environ["PROBED"] = "1"
"""
STUDENTS = ["first", "second"]
# What a correct submission scores before the written answers are graded by hand.
AUTOGRADED_POINTS = sum(cell.metadata.nbgrader.points for name in NOTEBOOKS
                        for cell in nbformat.read(SOURCE / name, 4).cells
                        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get(
                            "grade"))
TIMEOUT = 8  # s: the sleeping student is stopped within its notebooks, through the server


def _sleeping(notebooks):
    replace_answer(notebooks, NOTEBOOKS[3], "summarize-accuracies",
                   lambda source: "import time\ntime.sleep(600)\n" + source)


@pytest.fixture(scope="module")
def course(generated_course, tmp_path_factory) -> Path:
    course = copy_generated(generated_course, tmp_path_factory.mktemp("servers") / "course")
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(PROBE)
    solved = solved_release(course)
    for student in STUDENTS:
        submit(course, student, solved, {"submission.csv": KEY})
    submit(course, "asleep", solved, {"submission.csv": KEY}, change=_sleeping)
    return course


@pytest.fixture(autouse=True)
def sqlite_gradebook(monkeypatch):
    monkeypatch.delenv(gradebook.DB_URL_VARIABLE, raising=False)


def _probe(course: Path, student: str) -> dict:
    path = CourseLayout(course).events_file(student, ASSIGNMENT).with_suffix(".probe")
    return json.loads(path.read_text())


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _our_servers() -> list[int]:
    """This process's nbgrader servers (not another engineer's, nor a kernel's)."""
    return [pid for pid in _pids() if SERVER in _command(pid)
            and gradebook.NBGRADER_MODULE in _command(pid) and _parent(pid) == os.getpid()]


def _our_kernel_servers() -> list[int]:
    """This process's kernel servers (not their forks, nor another engineer's)."""
    return [pid for pid in _pids() if KERNEL_SERVER in _command(pid)
            and _parent(pid) == os.getpid()]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return None


def _of_course(course: Path) -> list[str]:
    """The processes (other than this one) whose command, environment or working folder
    name the course folder: what an autograde of it started."""
    found = []
    for pid in _pids():
        if pid == os.getpid():
            continue
        try:
            seen = (_command(pid) + Path(f"/proc/{pid}/environ").read_bytes().decode(
                errors="replace") + os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue  # it ended meanwhile
        if str(course) in seen:
            found.append(f"{pid}: {_command(pid)[:200]}")
    return found


def _none_left(course: Path, seconds: float = 10) -> list[str]:
    """The course's processes still there after `seconds` (a killed kernel exits when it
    sees its parent gone, a moment later)."""
    deadline = time.monotonic() + seconds
    while (left := _of_course(course)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _kill_server_mid_run(student_running: threading.Event, killed: list[int]) -> None:
    """Once the second student's run is going, SIGKILL the slot's server."""
    student_running.wait(600)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for server in _our_servers():
            if any(_parent(pid) == server for pid in _pids()):  # its run (a fork) is going
                time.sleep(0.5)
                os.kill(server, signal.SIGKILL)
                killed.append(server)
                return
        time.sleep(0.05)


def test_a_slot_grades_through_one_server_and_survives_its_death(course, caplog):
    layout = CourseLayout(course)
    second_running, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_server_mid_run, args=(second_running, killed))
    killer.start()

    class Watch:
        def update(self, done, total, result):
            if done == 1:
                second_running.set()

        def close(self):
            second_running.set()  # never left waiting

    with caplog.at_level(logging.WARNING):
        result = grade_class(course, ASSIGNMENT, jobs=1, students=STUDENTS, timeout=300,
                             progress=Watch())
    killer.join()
    records = {student.record.student: student for student in result.results}
    assert {student: (records[student].record.status, records[student].record.error)
            for student in STUDENTS} == dict.fromkeys(STUDENTS, ("graded", None))
    # Every test cell's points for both, the second graded again without the server.
    assert {student: records[student].score.score for student in STUDENTS} == dict.fromkeys(
        STUDENTS, AUTOGRADED_POINTS)
    first, second = (_probe(course, student) for student in STUDENTS)
    # The second's run went to the server that ran the first's: one per slot, not per student.
    assert SERVER in first["parent"] and killed == [first["ppid"]]
    assert SERVER not in second["parent"]  # the plain start, after the server died
    assert [record.message for record in caplog.records
            if record.name == autograde_servers.__name__] == [
        "Grading slot 1 starts nbgrader for each student from now on: its server stopped "
        "answering mid-run."]
    # The same user, folder on sys.path and environment as a plain start.
    assert {key: first[key] for key in ("uid", "gid", "path0")} == {
        key: second[key] for key in ("uid", "gid", "path0")} == {
        "uid": os.getuid(), "gid": os.getgid(), "path0": str(course)}
    assert first["env"].keys() == second["env"].keys()
    assert {key for key in first["env"] if first["env"][key] != second["env"][key]} <= PER_STUDENT
    assert "the fork server" not in layout.log("second", ASSIGNMENT).read_text()
    assert not _our_servers()  # stopped when the grading ended
    assert _none_left(course) == []


def test_a_run_stopped_by_the_time_limit_leaves_no_process(course):
    result = grade_class(course, ASSIGNMENT, jobs=1, students=["asleep"], timeout=TIMEOUT)
    record = result.results[0].record
    assert record.status == "failed"
    assert record.error.startswith(f"timed out: stopped after {TIMEOUT} s")
    assert SERVER in _probe(course, "asleep")["parent"]
    assert not (course / "autograded" / "asleep" / ASSIGNMENT).exists()
    assert not _our_servers()
    assert _none_left(course) == []


def test_an_interrupted_grading_leaves_no_process(course):
    def interrupt_once_running():
        probe = CourseLayout(course).events_file("asleep", ASSIGNMENT).with_suffix(".probe")
        deadline = time.monotonic() + 120
        while not probe.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # into the notebooks
        os.kill(os.getpid(), signal.SIGINT)

    CourseLayout(course).events_file("asleep", ASSIGNMENT).with_suffix(".probe").unlink(
        missing_ok=True)
    interrupter = threading.Thread(target=interrupt_once_running)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        grade_class(course, ASSIGNMENT, jobs=1, students=["asleep"], timeout=300)
    interrupter.join()
    record = json.loads(CourseLayout(course).record("asleep", ASSIGNMENT).read_text())
    assert record["error"] == "grading was interrupted"
    assert SERVER in _probe(course, "asleep")["parent"]
    assert not _our_servers()
    assert _none_left(course) == []


def test_a_student_whose_kernels_died_with_their_server_is_graded_again_afresh(course,
                                                                              caplog):
    killed = []

    def kill_the_kernel_server_once_it_forked():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for server in _our_kernel_servers():
                if any(_parent(pid) == server for pid in _pids()):  # a kernel's handler
                    os.kill(server, signal.SIGKILL)
                    killed.append(server)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_kernel_server_once_it_forked)
    killer.start()
    with caplog.at_level(logging.WARNING):
        result = grade_class(course, ASSIGNMENT, jobs=1, students=STUDENTS[:1], timeout=300)
    killer.join()
    graded = result.results[0]
    assert killed
    assert (graded.record.status, graded.record.error, graded.record.limits) == (
        "graded", None, ())  # its dead kernels are no limit hit
    assert graded.score.score == AUTOGRADED_POINTS
    assert [record.message for record in caplog.records
            if record.name == autograde_servers.__name__] == [
        f"Grading slot 1 starts each kernel afresh from now on: its kernel server ended "
        f"(status {-signal.SIGKILL})."]
    assert not _our_kernel_servers()
    assert _none_left(course) == []
