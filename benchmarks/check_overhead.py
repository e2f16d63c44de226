"""What one hidden check costs, started from nothing and through the fork servers.

    .venv/bin/python benchmarks/check_overhead.py [--calls 6]

Runs notebook 01's hidden check (backward_check, the reference answer, 2 layers x 2 batch
sizes, as a hidden test cell calls it) `--calls` times each way, and prints the wall and
the CPU seconds (this process's children, all of them) per call:

- in the kernel, started from nothing: the check as a new interpreter, with its child
  started the same way (through the box's command line), as before the fork servers; and
  `python -I -m digitlab.course.checks.backward_check` as it runs now from a shell (its
  child forked);
- in the kernel, as check() runs it now: a small client asks the kernel's fork server (its
  start counted in the first call) for a fork that runs the check, and the check forks its
  child;
- the grader's run, as root, one sandbox per call and its child started through the
  launcher, as before;
- the grader's run now: one sandbox for all the calls, each child forked by the sandbox's
  fork server (its start counted).

A student's grading makes 12 in-kernel calls (6 in notebook 01, 2 in 04, 4 in 05) and 8
sandboxed ones (notebooks 01 and 04). It prints the load average, since the cores may be
shared. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from notebook_factory import reference_answer, write_notebook  # noqa: E402

from digitlab.course.checks import backward_check, hidden_check  # noqa: E402
from digitlab.course.checks.box import PlainBox  # noqa: E402
from digitlab.course.sandbox.limits import GradingLimits  # noqa: E402
from digitlab.course.sandbox.sandbox import Sandbox, sandbox  # noqa: E402
from digitlab.student import NOTEBOOK_01  # noqa: E402

ARGUMENTS = ["--quantity", "all", "--layers", "13x7,9x9", "--batch-sizes", "1,6", "--seed", "5"]


def cpu() -> float:
    """CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(name: str, calls: int, call, finish=lambda: None) -> None:
    """Time `calls` calls, then finish(): a server's CPU (and its runs') reaches this
    process's count of its children only once the server is stopped and reaped."""
    begun, used = time.monotonic(), cpu()
    with contextlib.redirect_stdout(io.StringIO()):  # check() prints PASSED
        for _ in range(calls):
            assert call(), f"{name}: the reference answer failed"
    finish()
    wall, used = time.monotonic() - begun, cpu() - used
    print(f"  {name:<58} {wall / calls:5.3f} s wall, {used / calls:5.3f} CPU s per call",
          flush=True)


# The check as it ran before the fork servers: a fresh interpreter whose child is started
# through the box's command line, as a fresh interpreter too.
BEFORE = ("import sys; from digitlab.course.checks import backward_check, box; "
          "del box.PlainBox.run_module; sys.exit(backward_check.main(sys.argv[1:]))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=6)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        os.chmod(folder, 0o755)  # the grading users read the notebook through it
        write_notebook(folder / NOTEBOOK_01, reference_answer())
        os.chdir(folder)
        print(f"{calls} calls of backward_check each way; load average at the start: "
              f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}", flush=True)
        before = [sys.executable, "-I", "-c", BEFORE, *ARGUMENTS]
        timed("kernel, check and child both started afresh (before)", calls,
              lambda: subprocess.run(before, capture_output=True).returncode == 0)
        fresh = [sys.executable, "-I", "-m", "digitlab.course.checks.backward_check",
                 *ARGUMENTS]
        timed("kernel, check started afresh, its child forked", calls,
              lambda: subprocess.run(fresh, capture_output=True).returncode == 0)
        timed("kernel, check() through the fork server (now)", calls,
              lambda: hidden_check.check("backward_check", *ARGUMENTS) is None,
              lambda: hidden_check._server.stop())
        timed("plain box, child forked from this process", calls,
              lambda: backward_check.outside(
                  ARGUMENTS, folder,
                  lambda: contextlib.nullcontext(PlainBox(folder, dict(os.environ))))[0])
        if os.geteuid() != 0:
            print("  (not root: the grader's sandboxed runs are left out)")
            return
        limits = GradingLimits()
        timed("grader, a sandbox per call, child through the launcher (before)", calls,
              lambda: backward_check.outside(ARGUMENTS, folder, lambda: sandbox(limits))[0])
        shared = Sandbox(limits)
        try:
            timed("grader, one sandbox, children forked by its server (now)", calls,
                  lambda: backward_check.outside(ARGUMENTS, folder,
                                                 lambda: contextlib.nullcontext(shared))[0],
                  shared.close)
        finally:
            shared.close()
        print(f"load average at the end: "
              f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
