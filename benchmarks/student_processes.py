"""Where one student's CPU goes, by process: every process one autograde starts, by kind.

    .venv/bin/python benchmarks/student_processes.py [--kernel-server]

Builds a throwaway course with one complete, correct submission, autogrades it (the command
`digitlab grade` runs for each student) and, while it runs, reads /proc every 2 ms: each
process descended from the autograde is classed by its command line (nbgrader, kernel,
fork server and its forks, in-kernel check client, the checks started as `python -m`,
other) and its CPU is the last reading before it ended. So a process that lives less than
2 ms may be missed, and the sums are a little low. With --kernel-server the kernels are
forks of a slot's kernel server (kernel_server.py), started before the autograde, whose
forks are counted (the server's own start, once per slot, is not). It prints, per kind, the
processes and
their CPU seconds, the total, and the load average (other work on the machine slows every
process). This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
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

from digitlab.course.grading.gradebook import (  # noqa: E402
    nbgrader_command,
    nbgrader_environment,
)
from digitlab.course.sandbox import kernel_server  # noqa: E402
from digitlab.course.sandbox.sandbox import KERNEL_SERVER_VARIABLE  # noqa: E402

# The first phrase of the command line that names a kind, in this order.
KINDS = (("fork_client.py run", "in-kernel check client"),
         ("fork_client.py stand-in", "kernel's stand-in"),
         ("kernel_server", "kernel forked, and its handler"),
         ("fork_server.py serve", "fork server and its forks"),
         ("grading_kernel", "kernel"), ("ipykernel", "kernel"),
         ("launch_kernel", "sandbox launcher"),
         ("-m digitlab.course.checks", "check started as python -m"),
         ("nbgrader", "nbgrader"))
TICKS = os.sysconf("SC_CLK_TCK")


def kind_of(command: str) -> str:
    return next((kind for phrase, kind in KINDS if phrase in command), "other")


class Census:
    """The processes descended from one pid, their kind and their last CPU reading."""

    def __init__(self, root: int, server: int | None = None):
        """server: a kernel server whose forks count, not its own start."""
        self.family = {root, server} - {None}
        self.server = server
        self.kinds: dict[tuple[int, int], str] = {}  # (pid, start time): kind
        self.cpu: dict[tuple[int, int], float] = {}
        self.running = True

    def watch(self) -> None:
        while self.running:
            for name in os.listdir("/proc"):
                if name.isdigit():
                    self._read(int(name))
            time.sleep(0.002)

    def _read(self, pid: int) -> None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            key = (pid, int(fields[19]))
            if key not in self.kinds or self.kinds[key] == "sandbox launcher":  # it execs
                if pid not in self.family and int(fields[1]) not in self.family:
                    return
                self.family.add(pid)
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                self.kinds[key] = kind_of(command.decode(errors="replace"))
            if pid != self.server:
                self.cpu[key] = (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError):
            pass  # it ended while being read

    def by_kind(self) -> dict[str, tuple[int, float]]:
        totals = defaultdict(lambda: [0, 0.0])
        for key, kind in self.kinds.items():
            if key not in self.cpu:
                continue  # the kernel server itself
            totals[kind][0] += 1
            totals[kind][1] += self.cpu.get(key, 0.0)
        return {kind: tuple(value) for kind, value in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernel-server", action="store_true",
                        help="fork the kernels from a kernel server, as a grading slot does")
    forked = parser.parse_args().kernel_server
    with tempfile.TemporaryDirectory() as folder:
        course = copy_course(Path(folder) / "course")
        nbgrader(course, "generate_assignment", ASSIGNMENT)
        submit(course, "student", solved_release(course), {"submission.csv": KEY})
        print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        environment = nbgrader_environment()
        environment.pop("DIGITLAB_DB_URL", None)  # the course's SQLite gradebook
        server = kernel_server.start(folder) if forked else None
        if server is not None:
            environment[KERNEL_SERVER_VARIABLE] = str(server.socket)
        begun = time.monotonic()
        autograde = subprocess.Popen(
            nbgrader_command("autograde", ASSIGNMENT, "--student", "student", "--force"),
            cwd=course, env=environment, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        census = Census(autograde.pid, server.process.pid if server else None)
        watcher = threading.Thread(target=census.watch)
        watcher.start()
        autograde.wait()
        census.running = False
        watcher.join()
        if server is not None:
            server.stop()
        print(f"one autograde: {time.monotonic() - begun:.1f} s, exit {autograde.returncode}")
        totals = census.by_kind()
        for kind, (count, cpu) in sorted(totals.items(), key=lambda item: -item[1][1]):
            print(f"  {kind:<30} {count:3d} processes {cpu:6.2f} CPU s")
        print(f"  {'all':<30} {sum(n for n, _ in totals.values()):3d} processes "
              f"{sum(c for _, c in totals.values()):6.2f} CPU s")
        print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
