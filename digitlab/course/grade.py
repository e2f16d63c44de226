"""Autograde a whole class: one `nbgrader autograde --student S` process per student, N at
a time, against one gradebook (SQLite or PostgreSQL).

    result = grade_class(course, "digit-lab", jobs=2, progress=ProgressBar(sys.stderr))
    print("\\n".join(summary(result)))

Each student's autograde runs in its own process group, so one broken or endless submission
never stops the others: at the per-student time limit the whole group is killed. Each
student's outcome is kept as a GradingRecord in grading/<assignment>/<student>.json, and
nbgrader's log in grading/<assignment>/logs/<student>.log. A student whose autograde failed
is "not graded", never 0 points: nbgrader leaves rows (with no scores, or the previous run's)
in the gradebook even then, so only the record tells.

Kernel resource limits belong in the course's nbgrader_config.py: every autograde here runs
with that config, so they apply to every student.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from digitlab.course import gradebook
from digitlab.course.leaderboard import find_submissions
from digitlab.course.records import GradingRecord, record_path, records_folder

# A complete submission autogrades in about 10 s and a stuck cell is interrupted after
# Execute.timeout (60 s), so a student still running after 15 minutes is hung.
DEFAULT_TIMEOUT = 900.0
# The last exception of a traceback in nbgrader's log: "    nbformat.reader.NotJSONError: ...".
EXCEPTION = re.compile(r"^\s*([\w.]*(?:Error|Exception|Exit)): ?(.*)$")
MISSING_NOTEBOOK = re.compile(r"No submitted file: .*?([^/\\]+\.ipynb)\s*$")


@dataclass(frozen=True)
class StudentResult:
    """One student's grading: the record, the score if graded, and what nbgrader noticed."""

    record: GradingRecord
    score: gradebook.StudentScore | None  # None: not graded
    notes: tuple[str, ...] = ()  # e.g. "no 05-competition.ipynb": graded, but worth a look


@dataclass(frozen=True)
class ClassResult:
    assignment: str
    db_url: str
    jobs: int
    prepared: tuple[str, ...]  # what the one-time gradebook preparation did
    results: tuple[StudentResult, ...]  # sorted by student
    seconds: float  # wall time of the grading, preparation excluded


def find_students(course: str | Path, assignment: str,
                  only: list[str] | None = None) -> list[str]:
    """The students to grade: every folder under submitted/, or those of `only`.

    Raises FileNotFoundError when there is nothing to grade, ValueError for a student in
    `only` who has no folder.
    """
    students = list(find_submissions(course, assignment))
    if only:
        unknown = sorted(set(only) - set(students))
        if unknown:
            raise ValueError(f"No folder in {Path(course) / 'submitted'} for: "
                             f"{', '.join(unknown)}")
        return sorted(set(only))
    return students


class _Processes:
    """The running autogrades, so that an interrupted run kills them all and starts no more."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopped = False

    def start(self, arguments: list[str], **options) -> subprocess.Popen | None:
        """Popen(arguments) in a new session (a process group of its own); None once stopped."""
        with self._lock:
            if self.stopped:
                return None
            process = subprocess.Popen(arguments, start_new_session=True, **options)
            self._running.add(process)
            return process

    def finished(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(process)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for process in self._running:
                _kill_group(process)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process's whole group: nbgrader and what it started. The kernel, which
    jupyter_client starts in a session of its own, exits when it sees its parent gone."""
    with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
        os.killpg(process.pid, signal.SIGKILL)


def grade_student(course: Path, assignment: str, student: str, worker: tuple[dict, list[str]],
                  timeout: float, processes: _Processes) -> GradingRecord:
    """Run `nbgrader autograde ASSIGNMENT --student STUDENT --force` and record the outcome.

    --force always: without it nbgrader skips a student graded before and exits with 0, which
    would pass for success. worker is (environment, extra arguments) from
    gradebook.worker_settings.
    """
    environment, arguments = worker
    log = records_folder(course, assignment) / "logs" / f"{student}.log"
    start = time.perf_counter()
    with open(log, "w") as output:
        # nbgrader logs to stderr; stdout joins it so the log reads in order.
        process = processes.start(
            gradebook.nbgrader_command("autograde", assignment, "--student", student, "--force",
                                       *arguments),
            cwd=course, env=environment, stdout=output, stderr=subprocess.STDOUT)
        if process is None:
            return GradingRecord(student, "failed", 0.0, error="grading was interrupted")
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            code = process.wait()
            error = (f"timed out: stopped after {timeout:g} s (the time limit for one "
                     "student, --timeout)")
        else:
            error = None if code == 0 else (
                "grading was interrupted" if processes.stopped
                else failure_reason(log.read_text(errors="replace"), code))
        finally:
            processes.finished(process)
    seconds = time.perf_counter() - start
    if code != 0:
        # nbgrader removes its output after an error it caught, but a killed autograde
        # leaves a half-written folder that would look like a graded one.
        shutil.rmtree(Path(course) / "autograded" / student / assignment, ignore_errors=True)
    record = GradingRecord(student, "graded" if error is None else "failed", round(seconds, 2),
                           error=error)
    _write(record_path(course, assignment, student), record.to_json())
    return record


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


def _notes(log: Path) -> tuple[str, ...]:
    """What nbgrader's log says about a graded submission: the notebooks it lacked."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return tuple(f"no {match[1]}" for match in map(MISSING_NOTEBOOK.search, text.splitlines())
                 if match)


def _write(path: Path, text: str) -> None:
    """Write text to path through a temporary file, so no reader sees half a record."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def grade_class(course: str | Path, assignment: str, *, jobs: int, db_url: str | None = None,
                students: list[str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                progress: ProgressBar | None = None) -> ClassResult:
    """Autograde every student in submitted/ (or those named), `jobs` at a time.

    Raises FileNotFoundError or ValueError when there is no one to grade and
    gradebook.GradebookError when the gradebook cannot be used: then nothing was graded.
    submitted/ is only read, by nbgrader.
    """
    course = Path(course).resolve()
    names = find_students(course, assignment, students)
    url = gradebook.resolve_db_url(course, db_url)
    course_id = gradebook.course_settings(course).course_id
    prepared = tuple(gradebook.prepare(course, assignment, url, names))
    worker = gradebook.worker_settings(course, url)
    (records_folder(course, assignment) / "logs").mkdir(parents=True, exist_ok=True)

    processes, results = _Processes(), []
    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(grade_student, course, assignment, name, worker, timeout,
                               processes) for name in names]
        for future in as_completed(futures):
            record = future.result()
            score = (gradebook.read_scores(url, course_id, assignment, [record.student])
                     .get(record.student) if record.status == "graded" else None)
            log = records_folder(course, assignment) / "logs" / f"{record.student}.log"
            results.append(StudentResult(record, score, _notes(log)))
            if progress is not None:
                progress.update(len(results), len(names), results[-1])
    except BaseException:  # Ctrl+C included: no autograde may outlive the run
        pool.shutdown(wait=False, cancel_futures=True)
        processes.stop()
        raise
    finally:
        pool.shutdown()
        if progress is not None:
            progress.close()
    return ClassResult(assignment, url, jobs, prepared,
                       tuple(sorted(results, key=lambda result: result.record.student)),
                       time.perf_counter() - start)


def _points(value: float) -> str:
    return f"{value:g}"


def describe(result: StudentResult) -> tuple[str, str]:
    """(status, score) of one student as the summary and the progress line show them."""
    status = "graded" if result.record.status == "graded" else "NOT GRADED"
    if result.score is None:
        return status, "-"
    return status, f"{_points(result.score.score)}/{_points(result.score.max_score)}"


class ProgressBar:
    """`[ 12/40] alice graded 14/36 in 9.1 s` on one line rewritten in place on a terminal,
    one line per student otherwise (a log file, CI)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.in_place = stream.isatty()
        self._width = 0

    def update(self, done: int, total: int, result: StudentResult) -> None:
        status, score = describe(result)
        line = " ".join([f"[{done:>{len(str(total))}}/{total}]", result.record.student, status,
                         *([score] if result.score else []),
                         f"in {result.record.seconds:.1f} s"])
        if self.in_place:
            # Padded to the longest line so far, so no tail of an earlier one stays visible.
            self._width = max(self._width, len(line))
            self.stream.write("\r" + line.ljust(self._width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.in_place and self._width:
            self.stream.write("\n")
            self.stream.flush()


def summary(result: ClassResult) -> list[str]:
    """The table of every student (student, status, score, seconds, problem), then totals."""
    rows = [("student", "status", "score", "seconds", "problem")]
    for student in result.results:
        status, score = describe(student)
        problem = student.record.error or "; ".join(student.notes)
        rows.append((student.record.student, status, score, f"{student.record.seconds:.1f}",
                     problem))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [("  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
              + "  " + row[4]).rstrip() for row in rows]
    failed = [student.record.student for student in result.results
              if student.record.status != "graded"]
    count = len(result.results)
    lines += ["", f"{count} students: {count - len(failed)} graded, {len(failed)} not graded"
              + (f" ({', '.join(failed)})" if failed else "") + "."
              f" Wall time {result.seconds:.1f} s with {result.jobs} jobs, "
              f"{result.seconds / count:.1f} s per student.",
              "Scores are the autograded points: written answers count once graded by hand "
              "(nbgrader formgrader)."]
    return lines
