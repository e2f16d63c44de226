"""One student's autograde started as its own process, and forked from a slot's servers.

    .venv/bin/python benchmarks/autograde_start.py [--rounds 3]

Builds a throwaway course with one complete, correct submission and autogrades it --rounds
times each way, in turn (so that other work on the machine weighs on all alike): the plain
start `digitlab grade` fell back to (`python -m digitlab.course.grading.nbgrader_app
autograde ...`); the `run` client of a fork server that imported nbgrader once
(grading.autograde_servers), its kernels started afresh; and that client with its kernels
forked from the slot's kernel server as well (sandbox/kernel_server.py), as `digitlab grade`
runs a slot. The servers' own starts are not counted. All with the environment
grade_student gives (the grading slot, so the kernels run in the sandbox).

It prints, per run, the wall time and the CPU seconds of everything the run started (for the
servers, the CPU their forks and their children added to them), then the means and the
savings. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_builder import (  # noqa: E402 - the course tooling for tests lives in tests/
    ASSIGNMENT,
    KEY,
    copy_course,
    nbgrader,
    solved_release,
    submit,
)

from digitlab.course.grading.autograde_servers import PRELOADED, client_command  # noqa: E402
from digitlab.course.grading.gradebook import (  # noqa: E402
    DB_URL_VARIABLE,
    nbgrader_command,
    nbgrader_environment,
)
from digitlab.course.records import EVENTS_VARIABLE  # noqa: E402
from digitlab.course.sandbox import fork_server, kernel_server  # noqa: E402
from digitlab.course.sandbox.budget import started_environment  # noqa: E402
from digitlab.course.sandbox.limits import SLOT_VARIABLE  # noqa: E402
from digitlab.course.sandbox.sandbox import KERNEL_SERVER_VARIABLE  # noqa: E402

SLOT = 1
TICKS = os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds of a running process and of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(field) for field in fields[11:15]) / TICKS


def settled_cpu(pid: int) -> float:
    """process_cpu(pid) once it has waited for all its children (a kernel server reaps its
    handlers as they end)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + 10
    while children.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.01)
    return process_cpu(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        course = copy_course(Path(folder) / "course")
        nbgrader(course, "generate_assignment", ASSIGNMENT)
        submit(course, "student", solved_release(course), {"submission.csv": KEY})
        environment = nbgrader_environment({EVENTS_VARIABLE: f"{folder}/events.jsonl",
                                            SLOT_VARIABLE: str(SLOT)})
        environment.pop(DB_URL_VARIABLE, None)  # the course's SQLite gradebook
        arguments = ["autograde", ASSIGNMENT, "--student", "student", "--force"]
        started = fork_server.start(list(PRELOADED), env=environment, cwd=course)
        kernels = kernel_server.start(folder)
        client, servers = client_command(started, arguments), (started.process.pid,
                                                               kernels.process.pid)
        forking = {KERNEL_SERVER_VARIABLE: str(kernels.socket)}
        print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        ways = {"plain": (nbgrader_command(*arguments), {}), "server": (client, {}),
                "server+kernels": (client, forking)}
        figures = {way: [] for way in ways}
        for _ in range(rounds):
            for way, (command, extra) in ways.items():
                cpu = children_cpu() + sum(map(settled_cpu, servers))
                begun = time.perf_counter()
                run = subprocess.run(command, cwd=course, capture_output=True, env={
                    **environment, **started_environment("student"), **extra})
                wall = time.perf_counter() - begun
                cpu = children_cpu() + sum(map(settled_cpu, servers)) - cpu
                figures[way].append((wall, cpu))
                print(f"{way:14} exit {run.returncode}: {wall:5.1f} s, {cpu:5.2f} CPU s",
                      flush=True)
        started.stop()
        kernels.stop()
        means = {way: [statistics.mean(column) for column in zip(*runs, strict=True)]
                 for way, runs in figures.items()}
        for way, (wall, cpu) in means.items():
            print(f"mean {way:14}: {wall:5.1f} s, {cpu:5.2f} CPU s")
        for way in ("server", "server+kernels"):
            saved = [plain - forked for plain, forked in zip(means["plain"], means[way],
                                                              strict=True)]
            print(f"saved per student by {way}: {saved[0]:.1f} s, {saved[1]:.2f} CPU s")
        print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
