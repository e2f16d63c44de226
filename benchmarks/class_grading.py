"""How long `digitlab grade` takes for a class, and where one student's time goes.

    .venv/bin/python benchmarks/class_grading.py [--students 40] [--jobs 1 2] [--no-breakdown]
                                                 [--dask] [--rounds 1]

Builds a throwaway course (the real config and notebooks), releases the assignment and
submits a class of complete submissions: the reference solutions, every fifth with the seed's
bias bug. Then grades the whole class once per --jobs value on the default SQLite gradebook
(digitlab.course.grading.grade.grade_class, which runs the real `nbgrader autograde` per
student, each in the grading sandbox) and prints, for the local pool:

- the wall time and the time per student;
- seconds per student per core (wall x cores used / students, the cores used being the
  jobs, or the machine's cores when there are more jobs than cores) and students per hour
  per core, the figures that compare machines of any size;
- the CPU seconds per student, of all its processes (nbgrader, kernels, checks): a figure
  that other work on the machine changes less than the wall times;
- the speed-up over the first --jobs value and the load average before and after, since
  other work on the machine slows every figure;
- how many students got how many points: a grading whose checks fail can be fast, and
  must not pass for a speed-up.

With --dask the gradebook is a throwaway PostgreSQL server instead (a Dask cluster's hosts
share it), and after the local pool the class is graded again on a real two-worker Dask
cluster on 127.0.0.1: a `dask scheduler` and two `digitlab worker --slots 1`, through
`digitlab grade --scheduler` (cluster.grade_on_cluster, --force). Its line gives the same
figures, with 2 cores. Its CPU is read off the cluster's process trees, so it includes the
scheduler's and the workers' own (Dask's traffic, and the grading's Python that the pool runs
in this process, uncounted in the pool's figure).

With --rounds N every way grades the class N times, taking turns (the pool's --jobs values,
then Dask), and a last line gives each way's best and median seconds per student per core:
the wall times vary by several percent from run to run on shared cores, and turns spread that
evenly. The cluster starts before the first round and serves every round, as a course's
cluster serves run after run; it idles meanwhile (about 0.03 CPU s per second in all).

Then, unless --no-breakdown, it autogrades the first student once more under cProfile (the
same command grade_class starts) and splits that run's wall time into phases: nbgrader's
start (the process's start-up, imports and configuration), kernel starts and shutdowns (the
sandbox's set-up and clean-up included), cells (the in-kernel hidden checks included), the
grader's outside checks, the gradebook's reads and writes, and the rest (reading, sanitizing
and writing the notebooks). cProfile slows Python code, imports most, so the phases add up to
more than an unprofiled run; compare them with each other, and the totals with the pool's.

The one-time gradebook preparation is not in the times. About 5 minutes for 40 students on 2
cores. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_builder import (  # noqa: E402 - the course tooling for tests lives in tests/
    ASSIGNMENT,
    KEY,
    averaged_bias,
    copy_course,
    nbgrader,
    solved_release,
    submit,
)
from lab_browser import free_port  # noqa: E402
from postgres_server import find_bindir, postgres_server  # noqa: E402

from digitlab.course.grading.cluster import grade_on_cluster  # noqa: E402
from digitlab.course.grading.grade import ClassResult, grade_class  # noqa: E402
from digitlab.course.grading.gradebook import (  # noqa: E402
    nbgrader_command,
    nbgrader_environment,
)

# Each phase of one autograde: the functions whose cumulative time it is, as
# (end of the file's path, function name). What no phase claims is "the rest".
PHASES = {
    "kernel starts and shutdowns": [("nbclient/client.py", "setup_kernel")],
    "cells": [("nbconvert/preprocessors/execute.py", "preprocess_cell")],
    "outside checks": [("digitlab/course/checks/verify_outside.py", "preprocess")],
    "gradebook": [("nbgrader/converters/autograde.py", "init_assignment"),
                  ("nbgrader/preprocessors/overwritecells.py", "preprocess"),
                  ("nbgrader/preprocessors/saveautogrades.py", "preprocess")],
}
# Everything after nbgrader's start: the phases above run inside it.
CONVERSION = ("nbgrader/converters/base.py", "convert_notebooks")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def children_cpu() -> float:
    """CPU seconds (user and system) of this process's finished children, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(processes: list[subprocess.Popen]) -> float:
    """CPU seconds so far of the processes and all their descendants, finished or not."""
    import psutil

    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(process.pid)
            for member in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = member.cpu_times()
                    total += times.user + times.system + times.children_user + \
                        times.children_system
    return total


@contextlib.contextmanager
def two_worker_cluster(course: Path, db_url: str, logs: Path
                       ) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A `dask scheduler` and two one-slot `digitlab worker`s on 127.0.0.1, joined; yields
    the scheduler's address and the processes, and stops them all (and waits for them) on
    leaving."""
    from distributed import Client

    port, bin_folder = free_port(), Path(sys.executable).parent
    address = f"tcp://127.0.0.1:{port}"
    commands = [[str(bin_folder / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                 str(port), "--no-dashboard"]] + [
        [sys.executable, "-m", "digitlab.cli", "worker", address, "--slots", "1",
         "--course", str(course), "--db-url", db_url]] * 2
    processes = []
    try:
        for number, command in enumerate(commands):
            with open(logs / f"dask-{number}.log", "w") as log:
                processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
            if number == 0:
                time.sleep(2)  # the scheduler listens before the workers look for it
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, processes
    finally:
        for process in reversed(processes):  # the workers first, then the scheduler
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def report(what: str, result: ClassResult, cores: int, students: int, cpu: float,
           first: float) -> float:
    """Print one line of figures for one grading of the class; return its seconds per
    student per core."""
    failed = sum(student.record.status != "graded" for student in result.results)
    # A grading that fails its checks can be fast: the points show that it did not.
    points = Counter(student.score.score for student in result.results
                     if student.score is not None)
    per_core = result.seconds * cores / students
    print(f"{what}: {result.seconds:.1f} s, {result.seconds / students:.1f} s per student, "
          f"{per_core:.1f} s per student per core "
          f"({3600 / per_core:.0f} students per hour per core), "
          f"{cpu / students:.1f} CPU s per student, "
          f"speed-up {first / result.seconds:.2f}x, {failed} not graded, "
          f"points {', '.join(f'{n} x {score:g}' for score, n in sorted(points.items()))}; "
          f"load average after: {load()}", flush=True)
    return per_core


def cumulative(stats: pstats.Stats, functions: list[tuple[str, str]]) -> float:
    """The summed cumulative seconds of the functions (each file's end and name)."""
    return sum(row[3] for (file, _, name), row in stats.stats.items()
               if any(file.endswith(end) and name == wanted for end, wanted in functions))


def breakdown(course: Path, student: str) -> dict[str, float]:
    """{phase: seconds} of one profiled `nbgrader autograde` of student, with "total"."""
    profile = course / "autograde.prof"
    # The command grade_class runs, behind cProfile: [python, -m, cProfile, -o, FILE, -m, ...].
    command = nbgrader_command("autograde", ASSIGNMENT, "--student", student, "--force")
    subprocess.run([command[0], "-m", "cProfile", "-o", str(profile), *command[1:]], cwd=course,
                   env=nbgrader_environment(), check=True, capture_output=True)
    stats = pstats.Stats(str(profile))
    total = stats.total_tt
    phases = {"nbgrader's start": total - cumulative(stats, [CONVERSION])}
    phases.update({name: cumulative(stats, functions) for name, functions in PHASES.items()})
    phases["the rest"] = total - sum(phases.values())
    return {**phases, "total": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                        help="skip the profiled autograde of one student")
    parser.add_argument("--dask", action="store_true",
                        help="on a throwaway PostgreSQL gradebook, and then on a two-worker "
                             "Dask cluster on 127.0.0.1 too")
    parser.add_argument("--rounds", type=int, default=1,
                        help="grade the class this many times with each way, taking turns")
    args = parser.parse_args()
    os.environ.pop("DIGITLAB_DB_URL", None)  # the course's SQLite gradebook, or --dask's
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        db_url = None
        if args.dask:
            if (bindir := find_bindir()) is None:
                sys.exit("--dask needs PostgreSQL's programs: apt-get install -y postgresql")
            db_url = stack.enter_context(postgres_server(bindir))
        course = copy_course(Path(folder) / "course")
        nbgrader(course, "generate_assignment", ASSIGNMENT)
        solved = solved_release(course)
        for number in range(args.students):
            submit(course, f"student{number:03d}", solved, {"submission.csv": KEY},
                   change=averaged_bias if number % 5 == 4 else None)
        print(f"{args.students} submissions, {os.cpu_count()} cores, gradebook "
              f"{'PostgreSQL' if db_url else 'SQLite'}; load average (1, 5, 15 min) at the "
              f"start: {load()}", flush=True)
        first, per_core = None, defaultdict(list)
        scheduler, cluster = (stack.enter_context(two_worker_cluster(course, db_url,
                                                                     Path(folder)))
                              if args.dask else (None, []))
        for _ in range(args.rounds):
            for jobs in args.jobs:
                cpu = children_cpu()
                result = grade_class(course, ASSIGNMENT, jobs=jobs, db_url=db_url)
                first = first or result.seconds
                what, cores = f"local pool, --jobs {jobs}", min(jobs, os.cpu_count() or 1)
                per_core[what].append(report(what, result, cores, args.students,
                                             children_cpu() - cpu, first))
            if scheduler:
                # The cluster's processes outlive the run: their CPU is read off their trees
                # (the scheduler's and the workers' own included).
                cpu = tree_cpu(cluster)
                result = grade_on_cluster(course, ASSIGNMENT, scheduler, db_url=db_url,
                                          force=True)
                what = "Dask, 2 workers x 1 slot"
                per_core[what].append(report(what, result, 2, args.students,
                                             tree_cpu(cluster) - cpu, first))
        if args.rounds > 1:
            print(f"seconds per student per core over {args.rounds} rounds, best and median: "
                  + "; ".join(f"{what} {min(figures):.2f} and {median(figures):.2f}"
                              for what, figures in per_core.items()), flush=True)
        if args.breakdown:
            phases = breakdown(course, "student000")
            print(f"one student's autograde under cProfile, {phases.pop('total'):.1f} s "
                  f"(load average after: {load()}):")
            for name, seconds in phases.items():
                print(f"  {name:<28} {seconds:5.1f} s")


if __name__ == "__main__":
    main()
