"""Autograde a whole class: one `nbgrader autograde --student S` per student, N at a time,
against one gradebook (SQLite or PostgreSQL). Each is a fork of its grading slot's nbgrader
server, which imported nbgrader once (autograde_servers), or its own process when the slot
has no server; its kernels are forks of the slot's kernel server (sandbox/kernel_server.py)
when the slot has one.

    result = grade_class(course, "digit-lab", jobs=2, progress=ProgressBar(sys.stderr))

(ProgressBar, and the summary that `digitlab grade` prints, are in grading.summary.)

Each student's autograde runs in its own process group, so one broken or endless submission
never stops the others: at the per-student time limit the whole group is killed. Each
student's outcome is kept as a GradingRecord in grading/<assignment>/<student>.json, and
nbgrader's log in grading/<assignment>/logs/<student>.log. A student whose autograde failed
is "not graded", never 0 points: nbgrader leaves rows (with no scores, or the previous run's)
in the gradebook even then, so only the record tells.

nbgrader never opens submitted/: each student's folder is first copied to
grading/<assignment>/staged/<student>/<assignment>/ and autograde reads that copy
(--CourseDirectory.submitted_directory). The copy leaves out what would make nbgrader drop
the whole student or read outside the submission: notebooks that nbformat rejects (graded as
missing, 0 points), symbolic links and special files. The record's notes name each. The copy
is deleted once the student is graded: autograded/ keeps what was graded.

Kernel resource limits belong in the course's nbgrader_config.py: every autograde here runs
with that config, so they apply to every student. Each running autograde holds one of the
slots 1..jobs (DIGITLAB_GRADER_SLOT), so two running kernels never share a grading user.
Limit hits and patched checks reach the driver as events (digitlab.course.records) in
grading/<assignment>/events/<student>.jsonl; after the whole class, the integrity scan of
submitted/ against release/ adds what students changed in the test cells to the summary.
grading/<assignment>/ is readable by its owner only, so a grading kernel (another user) can
neither read other students' staged work nor write events.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from digitlab.atomic import atomic_write
from digitlab.course.grading import gradebook
from digitlab.course.grading.autograde_servers import AutogradeServers
from digitlab.course.grading.integrity import Finding, read_notebook, scan_class
from digitlab.course.grading.stop_signals import POLL_SECONDS, StopSignals
from digitlab.course.layout import CourseLayout
from digitlab.course.records import EVENTS_VARIABLE, GradingRecord, read_events
from digitlab.course.sandbox import fork_client, fork_server
from digitlab.course.sandbox.budget import started_environment
from digitlab.course.sandbox.limits import SLOT_VARIABLE, GradingLimits
from digitlab.course.sandbox.sandbox import check_ready

# A complete submission autogrades in about 10 s and a stuck cell is interrupted after
# Execute.timeout (30 s), so a student still running after 15 minutes is hung.
DEFAULT_TIMEOUT = 900.0
# Seconds a killed autograde has to end: a server's client waits up to KILLED_GRACE for its
# server to confirm the run killed.
STOP_GRACE = fork_client.KILLED_GRACE + 5
_LIBC = ctypes.CDLL(None, use_errno=True)
# The last exception of a traceback in nbgrader's log: "    nbformat.reader.NotJSONError: ...".
EXCEPTION = re.compile(r"^\s*([\w.]*(?:Error|Exception|Exit)): ?(.*)$")
MISSING_NOTEBOOK = re.compile(r"No submitted file: .*?([^/\\]+\.ipynb)\s*$")
# Integrity findings the record's notes already tell (a notebook missing, or left out as
# invalid), so the summary does not say them twice.
NOTED_KINDS = ("missing_notebook", "corrupt_notebook")


@dataclass(frozen=True)
class StudentResult:
    """One student's grading: the record, the score if graded, and the integrity findings."""

    record: GradingRecord
    score: gradebook.StudentScore | None  # None: not graded
    findings: tuple[Finding, ...] = ()  # from integrity.scan_class, after the whole class


@dataclass(frozen=True)
class ClassResult:
    assignment: str
    db_url: str
    jobs: int
    prepared: tuple[str, ...]  # what the one-time gradebook preparation did
    results: tuple[StudentResult, ...]  # sorted by student
    seconds: float  # wall time of the grading, preparation excluded
    scan_error: str | None = None  # why the integrity scan could not run (no release/)
    weaker_limits: tuple[str, ...] = ()  # grading limits this machine could not enforce
    # On a Dask cluster (grading.cluster): (student, why) graded again after a lost worker,
    # and the students not graded again because their record shows this submission graded.
    retried: tuple[tuple[str, str], ...] = ()
    skipped: tuple[str, ...] = ()


class NotReady(Exception):
    """This machine cannot run the course's grading kernels; the message says what to do."""


class Progress(Protocol):
    """What grade_class tells as it goes (grading.summary.ProgressBar shows it)."""

    def update(self, done: int, total: int, result: StudentResult) -> None: ...

    def close(self) -> None: ...


def find_students(layout: CourseLayout, assignment: str,
                  only: list[str] | None = None) -> list[str]:
    """The students to grade: every folder under submitted/, or those of `only`.

    Raises FileNotFoundError when there is nothing to grade, ValueError for a student in
    `only` who has no folder.
    """
    students = layout.students(assignment)
    if only:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise ValueError(f"No folder in {layout.submitted_folder()} for: "
                             f"{', '.join(unknown)}")
        return sorted(set(only))
    return students


class Autogrades:
    """The running autogrades, so that an interrupted run kills them all and starts no more.

    Each is started through its slot's fork server (autograde_servers) when the slot has
    one, else as its own nbgrader process; `servers` outlive a run of the class on a Dask
    worker, so their owner stops them.
    """

    def __init__(self, servers: AutogradeServers):
        self.servers = servers
        self._lock = threading.Lock()
        self._running: dict[subprocess.Popen, int | None] = {}  # {process: its server's slot}
        self.stopped = False

    def start(self, arguments: list[str], slot: int, *, env: dict[str, str], cwd: str | Path,
              **options) -> subprocess.Popen | None:
        """`nbgrader ARGUMENTS` (through the slot's server, or plain) in a new session, a
        process group of its own; None once stopped."""
        client = None if self.stopped else self.servers.command(slot, arguments, env=env,
                                                                 cwd=cwd)
        env = env if self.stopped else self.servers.environment(slot, env, cwd)
        with self._lock:
            if self.stopped:
                return None
            process = subprocess.Popen(client or gradebook.nbgrader_command(*arguments),
                                       start_new_session=True, preexec_fn=_die_with_parent,
                                       env=env, cwd=cwd, **options)
            self._running[process] = slot if client else None
            return process

    def server_failed(self, process: subprocess.Popen, code: int, slot: int) -> bool:
        """Whether a server of the process's slot failed it: its nbgrader server, or its
        kernel server, which the run's kernels died with (then the slot starts them plainly
        from now on, and the student must be graded again)."""
        if self.servers.kernel_server_failed(slot):
            return True
        if self._running.get(process) is None or code != fork_client.SERVER_GONE:
            return False
        self.servers.give_up(slot, "its server stopped answering mid-run")
        return True

    def kill(self, process: subprocess.Popen) -> None:
        """Kill the autograde and wait until it, and what it started in its group, ended."""
        self._signal(process)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:  # a client whose server does not answer
            _kill_group(process)
            process.wait()

    def finished(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.pop(process, None)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for process in self._running:
                self._signal(process)

    def _signal(self, process: subprocess.Popen) -> None:
        """A server's client is interrupted: it then waits until its server has killed the
        run's group. A plain nbgrader's group is killed."""
        if self._running.get(process) is None:
            _kill_group(process)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the grader dies (a Dask worker killed
    mid-grade), so that no autograde outlives its grader and writes after its replacement.
    libc is loaded beforehand: an import in a child forked from threads may deadlock."""
    _LIBC.prctl(fork_server.PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process's whole group: nbgrader and what it started. The kernel, which
    jupyter_client starts in a session of its own, exits when it sees its parent gone."""
    with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
        os.killpg(process.pid, signal.SIGKILL)


class SlotPool:
    """Slot numbers 1..size, each held by one grader at a time.

    The slot names the kernel's grading user (digitlab-grader-<slot>): the per-user process
    limit and the sweep that kills a finished kernel's processes count every process of that
    user, so two kernels running at once must never share one.
    """

    def __init__(self, size: int):
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(1, size + 1):
            self._free.put(slot)

    @contextlib.contextmanager
    def hold(self) -> Iterator[int]:
        """A free slot, waiting for one if all are taken; given back on leaving."""
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)


def stage_submission(layout: CourseLayout, assignment: str, student: str) -> dict[str, str]:
    """Copy submitted/<student>/<assignment>/ to its staged copy, leaving out what
    nbgrader must not read; {name left out: the note that says so and what grading does}.

    A notebook that nbformat cannot read or validate makes nbgrader 0.9.6 drop the student's
    whole autograde, so it is left out and graded as missing. Symbolic links (which could
    point at another student's work or at the answer key) and special files (a pipe would
    block the copy) are left out too. Everything else, timestamp.txt included, is copied.
    """
    target = layout.staged(student, assignment)
    shutil.rmtree(target.parent, ignore_errors=True)  # a copy a killed run left behind
    left_out: dict[str, str] = {}
    _stage_folder(layout.submitted(student, assignment), target, "", left_out)
    return left_out


def _stage_folder(source: Path, target: Path, prefix: str, left_out: dict[str, str]) -> None:
    """Copy source into target, recursively; prefix is source's path in the submission."""
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        name = prefix + path.name
        mode = path.lstat().st_mode
        # Only top-level notebooks are graded, so only they are "graded as missing".
        graded = not prefix and path.suffix == ".ipynb"
        consequence = "graded as missing" if graded else "left out"
        if stat.S_ISLNK(mode):
            left_out[name] = f"{name} is a symbolic link: {consequence}"
        elif stat.S_ISDIR(mode):
            _stage_folder(path, target / path.name, f"{name}/", left_out)
        elif not stat.S_ISREG(mode):
            left_out[name] = f"{name} is not a regular file: {consequence}"
        elif graded and (problem := read_notebook(path)[1]):
            left_out[name] = f"{name} is not a valid notebook ({problem[:120]}): {consequence}"
        else:
            shutil.copy2(path, target / path.name, follow_symlinks=False)


def grade_student(layout: CourseLayout, assignment: str, student: str,
                  worker: tuple[dict, list[str]], timeout: float, processes: Autogrades,
                  slots: SlotPool) -> GradingRecord:
    """Stage the student's submission, autograde it holding a slot, and record the outcome
    with the events the autograde reported and the notes on what it graded.

    worker is (environment, extra arguments) from gradebook.worker_settings.
    """
    log, events = layout.log(student, assignment), layout.events_file(student, assignment)
    for path in (log, events):
        path.write_text("")  # only this run's: nothing from an earlier run is read back
    environment, arguments = worker
    start = time.perf_counter()
    try:
        left_out, error = stage_submission(layout, assignment, student), None
    except OSError as problem:  # an unreadable file, a full disk: this student only
        left_out, error = {}, f"the submission could not be copied for grading: {problem}"
    staged = layout.staged(student, assignment)
    if error is None and not any(staged.glob("*.ipynb")):
        # nbgrader would fail with "did you forget to run generate_assignment?"
        error = "no notebook to grade: none was submitted, or none is a valid notebook"
    try:
        if error is None:
            with slots.hold() as slot:
                error = _autograde(layout, assignment, student, log, timeout, processes,
                                   slot, {**environment, EVENTS_VARIABLE: str(events),
                                    SLOT_VARIABLE: str(slot), **started_environment(student)},
                                   [f"--CourseDirectory.submitted_directory="
                                    f"{layout.staging_step(assignment)}", *arguments])
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)
    limits, patched = read_events(events)
    record = GradingRecord(student, "graded" if error is None else "failed",
                           round(time.perf_counter() - start, 2), limits, patched, error,
                           notes=(*left_out.values(), *_missing(log, left_out)))
    # Whole, so no reader sees half a record.
    with atomic_write(layout.record(student, assignment)) as file:
        file.write(record.to_json())
    return record


def _autograde(layout: CourseLayout, assignment: str, student: str, log: Path, timeout: float,
               processes: Autogrades, slot: int, environment: dict[str, str],
               arguments: list[str]) -> str | None:
    """Run `nbgrader autograde ASSIGNMENT --student STUDENT --force ARGUMENTS` holding slot;
    None when it succeeded, else why it failed. A run that the slot's server failed is run
    again without it, within the same time limit.

    --force always: without it nbgrader skips a student graded before and exits with 0, which
    would pass for success.
    """
    deadline = time.monotonic() + timeout
    with open(log, "w") as output:
        while True:  # twice at most: a slot whose server failed has none any more
            try:
                error, code = _autograde_once(layout, assignment, student, log, deadline,
                                              timeout, processes, slot, environment, arguments,
                                              output)
                break
            except fork_server.ServerGone:
                shutil.rmtree(layout.autograded(student, assignment), ignore_errors=True)
                output.seek(0)
                output.truncate()  # the log of the run again, not of the failed one
                # Nor its events: a kernel that died with its server is no limit hit.
                layout.events_file(student, assignment).write_text("")
    if code not in (0, None):
        # nbgrader removes its output after an error it caught, but a killed autograde
        # leaves a half-written folder that would look like a graded one.
        shutil.rmtree(layout.autograded(student, assignment), ignore_errors=True)
    return error


def _autograde_once(layout: CourseLayout, assignment: str, student: str, log: Path,
                    deadline: float, timeout: float, processes: Autogrades, slot: int,
                    environment: dict[str, str], arguments: list[str], output
                    ) -> tuple[str | None, int | None]:
    """One start of the autograde, logging to output: (why it failed or None, its exit
    status, None if it never started). fork_server.ServerGone when the slot's server failed
    the run: the slot has no server any more, and the run must start again."""
    # nbgrader logs to stderr; stdout joins it so the log reads in order.
    process = processes.start(
        ["autograde", assignment, "--student", student, "--force", *arguments], slot,
        cwd=layout.root, env=environment, stdout=output, stderr=subprocess.STDOUT)
    if process is None:
        return "grading was interrupted", None
    try:
        code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        processes.kill(process)
        return (f"timed out: stopped after {timeout:g} s (the time limit for one student, "
                "--timeout)"), process.returncode
    else:
        if not processes.stopped and processes.server_failed(process, code, slot):
            raise fork_server.ServerGone(f"the server of slot {slot} failed {student}'s run")
        if code == 0:
            return None, code
        if processes.stopped:
            return "grading was interrupted", code
        return failure_reason(log.read_text(errors="replace"), code), code
    finally:
        processes.finished(process)


def failure_reason(log: str, code: int) -> str:
    """The reason an autograde failed, from its log: the last exception, else the last
    error line, else the exit status."""
    lines = log.splitlines()
    for line in reversed(lines):
        if match := EXCEPTION.match(line):
            return f"{match[1].rsplit('.', 1)[-1]}: {match[2]}"[:300]
    for line in reversed(lines):
        if "ERROR" in line:
            return line.split("]", 1)[-1].strip()[:300]
    return f"nbgrader autograde exited with status {code}"


def _missing(log: Path, left_out: dict[str, str]) -> list[str]:
    """Notes on the notebooks nbgrader's log says it lacked (and scored 0), except those
    the staging left out: their notes already say so."""
    text = log.read_text(errors="replace") if log.exists() else ""
    names = [match[1] for match in map(MISSING_NOTEBOOK.search, text.splitlines()) if match]
    return [f"{name} was not submitted: graded as missing" for name in names
            if name not in left_out]


def make_private_folders(layout: CourseLayout, assignment: str) -> None:
    """Make grading/<assignment>/ and its logs/, events/ and staged/ folders, readable by
    the instructor only: a grading kernel, which runs as another user, must not read other
    students' staged work nor write events."""
    for path in (layout.grading(assignment), layout.logs(assignment), layout.events(assignment),
                 layout.staging(assignment)):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)


def grade_class(course: str | Path, assignment: str, *, jobs: int, db_url: str | None = None,
                students: list[str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                progress: Progress | None = None) -> ClassResult:
    """Autograde every student in submitted/ (or those named), `jobs` at a time, then scan
    the class's submissions for tampered test cells.

    Raises FileNotFoundError or ValueError when there is no one to grade,
    gradebook.GradebookError when the gradebook cannot be used and NotReady when the grading
    kernels could not start here (say, a grading user is missing): then nothing was graded.
    submitted/ is only read, by this driver.
    """
    course = Path(course).resolve()
    layout = CourseLayout(course)  # reads the course's config: before any thread starts
    names = find_students(layout, assignment, students)
    settings = gradebook.course_settings(course)
    # Checked first: without the grading users every kernel would fail, and every student
    # would score 0 for the machine's fault.
    stoppers, weaker_limits = check_ready(GradingLimits(**settings.grading_limits), jobs)
    if stoppers:
        raise NotReady("The grading kernels cannot start on this machine:\n- "
                       + "\n- ".join(stoppers))
    url = gradebook.resolve_db_url(course, db_url)
    course_id = settings.course_id
    prepared = tuple(gradebook.prepare(course, assignment, url, names))
    worker = gradebook.worker_settings(course, url)
    make_private_folders(layout, assignment)

    servers = AutogradeServers()
    processes, slots, results = Autogrades(servers), SlotPool(jobs), []
    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(grade_student, layout, assignment, name, worker, timeout,
                               processes, slots) for name in names]
        with StopSignals() as stop:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, POLL_SECONDS, FIRST_COMPLETED)
                stop.check()
                for future in finished:
                    record = future.result()
                    results.append(StudentResult(record, read_score(url, course_id, assignment,
                                                                    record)))
                    if progress is not None:
                        progress.update(len(results), len(names), results[-1])
    except BaseException:  # Ctrl+C included: no autograde may outlive the run
        pool.shutdown(wait=False, cancel_futures=True)
        processes.stop()
        raise
    finally:
        pool.shutdown()
        servers.stop()
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - start
    with contextlib.suppress(OSError):  # empty unless a copy could not be deleted
        layout.staging(assignment).rmdir()
    findings, scan_error = scan_integrity(course, assignment, names)
    results = [replace(result, findings=tuple(findings[result.record.student]))
               for result in results]
    return ClassResult(assignment, url, jobs, prepared,
                       tuple(sorted(results, key=lambda result: result.record.student)),
                       seconds, scan_error, tuple(weaker_limits))


def read_score(db_url: str, course_id: str, assignment: str,
           record: GradingRecord) -> gradebook.StudentScore | None:
    """The student's scores in the gradebook; None when they were not graded."""
    if record.status != "graded":
        return None
    return gradebook.read_scores(db_url, course_id, assignment, [record.student]).get(
        record.student)


def scan_integrity(course: Path, assignment: str, students: list[str]
          ) -> tuple[dict[str, list[Finding]], str | None]:
    """({student: integrity findings}, None) for the graded students, or ({}, why) when
    there is no release to compare with. It only reads submitted/ and release/."""
    findings = defaultdict(list)
    try:
        for finding in scan_class(course, assignment):
            if finding.student in students and finding.kind not in NOTED_KINDS:
                findings[finding.student].append(finding)
    except FileNotFoundError as error:
        return findings, str(error)
    return findings, None
