"""The one call a hidden test makes: run a check of digitlab.course.checks in a fresh process.

The hidden part of a test cell (in the instructor's source notebook only) calls, say,

    check("backward_check", "--quantity", QUANTITY, "--layers", LAYERS, ...)

In the student's kernel, check runs `python -I -m digitlab.course.checks.<name> ARGUMENTS`
and fails the cell (AssertionError with the check's report) unless it exits with status 0.
It runs it through a fork server (digitlab.course.sandbox.fork_server) that has imported the
checks, forked from the kernel at its start when a kernel server forked the kernel
(fork_checks_server), else started by the kernel's first check: each run is a fresh child of
it, started by a small client process (fork_client.py), which saves a Python start and
the imports of numpy and digitlab per check and per child (0.15-0.2 s each).
That run can be faked: the student's own code in the kernel may replace this function or
subprocess.run. So it is not the verdict. After the notebook has run, the grader
(digitlab.course.checks.verify_outside) finds these calls in the cell's source, as the
instructor wrote it, runs the same checks in its own process, and scores the cell from both.
The test cells import it as digitlab.course.hidden_check (see that module).
"""

from __future__ import annotations

import atexit
import subprocess

from digitlab.course.checks.registry import MODULES, module_name
from digitlab.course.sandbox import fork_client, fork_server, grading_kernel

# The exit status of a check that cannot judge inside the notebook (notebook 05's scorer
# when the kernel may not read the answer key): the cell passes here, the grader judges it.
ONLY_OUTSIDE = 3
# How the notebook says so; the grader then does not count the kernel's run as a pass.
NOT_CHECKED_HERE = "Not checked in the notebook: "
SECONDS = 120  # the cell's own timeout (nbgrader's Execute.timeout) stops it sooner
# This process's server: forked at its start (fork_checks_server), else started by its first
# check, and started again if the student's code stopped it.
_server: fork_server.Server | fork_server.ForkedServer | None = None


def _checks_server() -> fork_server.Server | fork_server.ForkedServer:
    """This process's fork server of the checks."""
    global _server
    if _server is None or not _server.alive():
        _server = fork_server.start(list(MODULES))
        atexit.register(_server.stop)
    return _server


def fork_checks_server() -> None:
    """Start this process's server of the checks now, as a fork of it (fork_server.fork_serve).
    A kernel forked from a kernel server calls this before anything else runs in it: the fork
    starts from the server's state (the checks imported, no code of the student's run), and
    the kernel's first check does not wait for a server's start (0.15-0.2 s)."""
    global _server
    _server = fork_server.fork_serve(list(MODULES))
    atexit.register(_server.stop)


grading_kernel.AT_START.append(fork_checks_server)


def check(name: str, *arguments: str) -> None:
    """Run the check `name` (registry.CHECKS) with `arguments`; AssertionError if it fails."""
    command = fork_client.run_command(_checks_server().socket, module_name(name),
                                      list(arguments))
    # Through subprocess.run, and the client's exit status: all of it can be faked by the
    # student's code in the kernel, which is why the grader judges again outside.
    run = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS)
    if run.returncode == ONLY_OUTSIDE:
        print(NOT_CHECKED_HERE + run.stdout.strip())
        return
    assert run.returncode == 0, run.stdout + run.stderr
    print(run.stdout.strip())
