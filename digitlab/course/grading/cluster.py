"""Grade a class on a Dask cluster: one task per student, each running grade.grade_student.

    digitlab worker tcp://SCHEDULER:8786 --slots 2        # on every grading host
    digitlab grade digit-lab --scheduler tcp://SCHEDULER:8786

A worker (serve) first checks that its host can grade (check_host: the grading users, the
interpreter, the course folder at the same path, the gradebook), then runs a real
distributed.Worker that advertises its slots as the Dask resource "grading-slots"; each task
asks for one, so a worker runs at most --slots students at once. The tasks share only the
course folder (CourseLayout, each worker with its own staging and events) and the gradebook,
which must be a server (PostgreSQL): SQLite cannot be shared between hosts.

A worker lost mid-grade: its autogrades die with it (grade.Autogrades asks the kernel for
SIGKILL when their parent dies), the scheduler gives its students to another worker, and that
worker removes the lost one's staged copy before grading. Every start of a student's grading
is a line in grading/<assignment>/attempts/<student>.jsonl, so the second start of the same run
knows it is a retry and which worker was lost. nbgrader's autograde --force replaces a
student's rows, so the gradebook holds each student once.

A stopped run (Ctrl+C, kill) kills its autogrades on every worker and waits until their
tasks have ended (stop_run), so that the records say who is graded when the command reports;
a worker that loses its scheduler closes, killing its autogrades first.

Resume: a student whose record says "graded" for the same submission (the digest of
submitted/<student>/<assignment>/) is not graded again unless force is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from digitlab.atomic import atomic_write
from digitlab.course.grading import cluster_task, gradebook
from digitlab.course.grading.autograde_servers import AutogradeServers
from digitlab.course.grading.grade import (
    DEFAULT_TIMEOUT,
    Autogrades,
    ClassResult,
    NotReady,
    Progress,
    SlotPool,
    StudentResult,
    find_students,
    grade_student,
    make_private_folders,
    read_score,
    scan_integrity,
)
from digitlab.course.grading.stop_signals import POLL_SECONDS, StopSignals
from digitlab.course.layout import CourseLayout
from digitlab.course.records import GradingRecord, read_records
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import check_ready

RESOURCE = "grading-slots"
# How long `digitlab grade` waits for the scheduler to answer before giving up.
CONNECT_TIMEOUT = "20s"
# How long a stopped run waits for each worker's tasks to end once their autogrades are
# killed (they then only write a record).
STOP_WAIT = 60.0
# A grading task only waits for its autograde's processes and returns a record: what Dask's
# worker watches by default costs the grading host's CPU for nothing. Its statistical
# profiler samples the task's thread every 10 ms, its event-loop health check ticks every
# 20 ms, and its memory monitor (every 100 ms) would spill or pause data that a grading
# worker never holds; the kernels have their own memory limit (GradingLimits).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.admin.tick.interval": "1s"}
WORKER_MEMORY_LIMIT = 0  # no memory monitor


class GradingStopped(Exception):
    """The run stopped before every student was graded; the message names who was and who
    was not, and status is the exit status the command ends with."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def submission_digest(layout: CourseLayout, assignment: str, student: str) -> str:
    """sha256 of every file's path and bytes in submitted/<student>/<assignment>/ (links by
    their target, unfollowed): the same digest means the same submission."""
    folder = layout.submitted(student, assignment)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def finished(layout: CourseLayout, assignment: str, students: list[str]
             ) -> dict[str, GradingRecord]:
    """{student: record} of the students whose record shows a finished grading of the
    submission that is in submitted/ now."""
    records, _ = read_records(layout.root, assignment)
    return {student: records[student] for student in students
            if student in records and records[student].status == "graded"
            and records[student].submission == submission_digest(layout, assignment, student)}


# The worker's side ---------------------------------------------------------------------------

@dataclass
class _Host:
    """What serve() checked, for the tasks that run in this worker process."""

    layout: CourseLayout  # with the worker's name: its own staging and events
    db_url: str
    nbgrader: tuple[dict, list[str]]  # gradebook.worker_settings
    slots: SlotPool
    runs: dict[str, Autogrades]  # {run: its autogrades here}, so a stopped run ends them
    servers: AutogradeServers  # the slots' nbgrader servers, for every run
    active: Counter[str]  # {run: its tasks running here}, which stop_run waits for
    lock: threading.Lock

    def processes(self, run: str) -> Autogrades:
        with self.lock:
            return self.runs.setdefault(run, Autogrades(self.servers))

    def stop_all(self) -> None:
        with self.lock:
            for processes in self.runs.values():
                processes.stop()


_HOST: _Host | None = None


def course_resource(course: Path, db_url: str) -> str:
    """The Dask resource only the workers of this course and gradebook advertise (as many as
    their grading slots), so that a scheduler shared by several courses never gives a
    student's task to another course's worker."""
    key = hashlib.sha256(f"{course}\0{gradebook.shown(db_url)}".encode()).hexdigest()[:12]
    return f"{RESOURCE}-{key}"


def worker_name() -> str:
    """host-pid: unique among the workers, and says where to look."""
    return f"{socket.gethostname()}-{os.getpid()}"


def check_host(course: Path, db_url: str, slots: int) -> list[str]:
    """What stops this host from grading the course, each a sentence saying what to do."""
    if not (course / "nbgrader_config.py").is_file():
        return [f"There is no course at {course} (no nbgrader_config.py): mount the shared "
                "course folder here at the same path as where `digitlab grade` runs."]
    settings = gradebook.course_settings(course)
    stoppers, _ = check_ready(GradingLimits(**settings.grading_limits), slots)
    if db_url.startswith("sqlite"):
        stoppers.append(f"The gradebook is SQLite ({gradebook.shown(db_url)}): a cluster needs "
                        "a gradebook server; give a postgresql+psycopg:// URL in "
                        f"${gradebook.DB_URL_VARIABLE} or --db-url.")
    else:
        import sqlalchemy

        engine = sqlalchemy.create_engine(db_url, connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
        except sqlalchemy.exc.SQLAlchemyError as error:
            stoppers.append(f"The gradebook {gradebook.shown(db_url)} cannot be reached from "
                            f"here ({str(error.orig or error).strip()[:200]}): check the URL, "
                            "the server's address and its pg_hba.conf.")
        finally:
            engine.dispose()
    return stoppers


def serve(scheduler: str, course: Path, db_url: str, slots: int, name: str) -> None:
    """Run a Dask worker with `slots` grading slots until it is stopped (check_host first)."""
    import asyncio

    import dask
    from distributed import Worker, WorkerPlugin

    global _HOST
    # Built before the worker's threads start: reading the course's config changes os.environ.
    host = _HOST = _Host(CourseLayout(course, worker=name), db_url,
                         gradebook.worker_settings(course, db_url), SlotPool(slots), {},
                         AutogradeServers(), Counter(), threading.Lock())
    cluster_task.grading = grade_task  # the function the tasks name calls it

    class StopAutogradesOnClose(WorkerPlugin):
        """A worker that loses its scheduler closes, and waits for its running tasks: kill
        their autogrades first, or it would grade on for nobody."""

        def teardown(self, worker) -> None:
            host.stop_all()

    async def run() -> None:
        resources = {RESOURCE: slots, course_resource(course, db_url): slots}
        with dask.config.set(WORKER_CONFIG):
            async with Worker(scheduler, name=name, nthreads=slots, resources=resources,
                              memory_limit=WORKER_MEMORY_LIMIT,
                              plugins={StopAutogradesOnClose()}) as worker:
                await worker.finished()

    try:
        asyncio.run(run())
    finally:
        host.stop_all()
        host.servers.stop()


async def stop_run(run: str) -> list[str]:
    """Kill this worker's autogrades of the run and wait (at most STOP_WAIT seconds) until
    its tasks of the run have ended, so that their records are written when the grading
    command reports (client.run calls it on every worker). Returns the worker's name."""
    import asyncio

    host = _HOST
    if host is None:
        return []
    host.processes(run).stop()
    deadline = time.monotonic() + STOP_WAIT
    while host.active[run] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return [str(host.layout.worker)]


def grade_task(course: str, assignment: str, student: str, run: str, shown_url: str,
               timeout: float) -> tuple[GradingRecord, str | None]:
    """One student's grading on this worker: (the record, why it was retried or None)."""
    host = _HOST  # set by serve, which set cluster_task.grading too
    layout = host.layout
    if str(layout.root) != course or gradebook.shown(host.db_url) != shown_url:
        raise RuntimeError(f"worker {layout.worker} serves {layout.root} with gradebook "
                           f"{gradebook.shown(host.db_url)}, not {course} with {shown_url}")
    processes = host.processes(run)
    if processes.stopped:  # the run was interrupted before this task started here
        raise RuntimeError(f"run {run} was stopped: {student} was not graded")
    with host.lock:
        host.active[run] += 1
    try:
        retry = _start_attempt(layout, assignment, student, run)
        make_private_folders(layout, assignment)
        # Before grading: a submission replaced meanwhile is not taken for the graded one.
        digest = submission_digest(layout, assignment, student)
        record = grade_student(layout, assignment, student, host.nbgrader, timeout, processes,
                               host.slots)
        record = replace(record, submission=digest, worker=layout.worker)
        with atomic_write(layout.record(student, assignment)) as file:
            file.write(record.to_json())
    finally:
        with host.lock:
            host.active[run] -= 1
    return record, retry


def _start_attempt(layout: CourseLayout, assignment: str, student: str, run: str) -> str | None:
    """Note this start in the student's attempts file; when a worker of the same run started
    the student before (it was lost: Dask reruns a task only then), remove its staged copy
    and say why the student is graded again."""
    path = layout.attempts(student, assignment)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    earlier = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                attempt = json.loads(line)
            except ValueError:  # half a line from a worker killed as it wrote
                continue
            if attempt.get("run") == run:
                earlier.append(str(attempt["worker"]))
    with open(path, "a") as attempts:
        attempts.write(json.dumps({"run": run, "worker": layout.worker, "time": time.time()})
                       + "\n")
    for lost in earlier:
        left = CourseLayout(layout.root, layout.directory.config, worker=lost)
        shutil.rmtree(left.staged(student, assignment).parent, ignore_errors=True)
        left.events_file(student, assignment).unlink(missing_ok=True)
    if not earlier:
        return None
    return f"worker {earlier[-1]} was lost while grading (attempt {len(earlier) + 1})"


# The client's side ---------------------------------------------------------------------------

def grade_on_cluster(course: str | Path, assignment: str, scheduler: str, *,
                     db_url: str | None = None, students: list[str] | None = None,
                     timeout: float = DEFAULT_TIMEOUT, force: bool = False,
                     progress: Progress | None = None) -> ClassResult:
    """grade.grade_class on the Dask cluster at `scheduler`, skipping the students already
    graded (same submission) unless force.

    Raises what grade_class raises, NotReady when no digitlab worker is connected, and
    GradingStopped when the run ends early (Ctrl+C, kill, the scheduler lost).
    """
    from distributed import Client

    course = Path(course).resolve()
    layout = CourseLayout(course)
    names = find_students(layout, assignment, students)
    url = gradebook.resolve_db_url(course, db_url)
    course_id = gradebook.course_settings(course).course_id
    prepared = tuple(gradebook.prepare(course, assignment, url, names))
    make_private_folders(layout, assignment)
    done = {} if force else finished(layout, assignment, names)
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as error:
        raise NotReady(f"No Dask scheduler answers at {scheduler} ({error}): start one "
                       "(`dask scheduler`) or check the address.") from error
    start = time.perf_counter()
    try:
        ours = course_resource(course, url)
        slots = sum(int(worker.get("resources", {}).get(ours, 0))
                    for worker in client.scheduler_info()["workers"].values())
        if not slots:
            raise NotReady(f"No digitlab worker of {course} with gradebook "
                           f"{gradebook.shown(url)} is connected to {scheduler}: start "
                           f"`digitlab worker {scheduler} --slots N --course {course}` on the "
                           "grading hosts, with the same gradebook.")
        results, retried = _run(client, course, assignment, url, course_id, timeout,
                                [name for name in names if name not in done], progress)
    finally:
        client.close()
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - start
    results += [StudentResult(record, read_score(url, course_id, assignment, record))
                for record in done.values()]
    findings, scan_error = scan_integrity(course, assignment, names)
    results = sorted((replace(result, findings=tuple(findings[result.record.student]))
                      for result in results), key=lambda result: result.record.student)
    return ClassResult(assignment, url, slots, prepared, tuple(results), seconds, scan_error,
                       retried=tuple(sorted(retried.items())), skipped=tuple(sorted(done)))


def _run(client, course: Path, assignment: str, url: str, course_id: str, timeout: float,
         names: list[str], progress: Progress | None
         ) -> tuple[list[StudentResult], dict[str, str]]:
    """Submit a task per student and collect them: (results, {student: why retried})."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    run = uuid.uuid4().hex
    futures = {client.submit(cluster_task.grade, str(course), assignment, name, run,
                             gradebook.shown(url), timeout, key=f"grade-{name}-{run}",
                             resources={RESOURCE: 1, course_resource(course, url): 1},
                             pure=False): name for name in names}
    results, retried = [], {}
    try:
        with StopSignals() as stop:
            ready = as_completed(futures)
            while not ready.is_empty():
                finished = ready.next_batch(block=False)
                stop.check()
                if not finished:
                    time.sleep(POLL_SECONDS)
                for future in finished:
                    name = futures.pop(future)
                    try:
                        record, why = future.result()
                    except KilledWorker as error:  # it took down every worker it was given to
                        record, why = GradingRecord(name, "failed", 0.0, error=(
                            f"every worker given it was lost ({error}): see their logs")), None
                    finally:
                        # The result lives on its worker: were that worker lost later, the
                        # scheduler would run a task still held again, and grade the student
                        # twice.
                        future.release()
                    if why:
                        retried[name] = why
                    results.append(StudentResult(record, read_score(url, course_id, assignment,
                                                                    record)))
                    if progress is not None:
                        progress.update(len(results), len(names), results[-1])
    except BaseException as error:  # Ctrl+C, kill, the scheduler lost
        raise _stopped(client, list(futures), course, assignment, names, run,
                       error) from error
    return results, retried


def _stopped(client, futures: list, course: Path, assignment: str, names: list[str], run: str,
             error: BaseException) -> GradingStopped:
    """Stop the run's tasks on the workers, wait for them to end, and say who is graded (by
    the records) and who is not."""
    from distributed.client import FutureCancelledError

    lost = isinstance(error, FutureCancelledError) or client.status != "running"
    if not lost:
        with contextlib.suppress(Exception):
            client.cancel(futures)
            client.run(stop_run, run)
    # Without the scheduler each worker closes and kills its autogrades itself.
    if isinstance(error, KeyboardInterrupt):
        why, status = "interrupted (Ctrl+C)", 130
    elif isinstance(error, SystemExit):
        why = "stopped by a signal"
        status = error.code if isinstance(error.code, int) and error.code else 1
    elif lost:
        why, status = f"the scheduler {client.scheduler.address} was lost", 1
    else:
        why, status = f"{type(error).__name__}: {error}", 1
    graded = sorted(finished(CourseLayout(course), assignment, names))
    rest = sorted(set(names) - set(graded))
    return GradingStopped(
        f"Grading stopped: {why}. Graded: {', '.join(graded) or 'nobody'}. Not graded: "
        f"{', '.join(rest) or 'nobody'}. Run the command again, without --force, to grade "
        "only the rest.", status)
