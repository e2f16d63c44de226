"""A grading slot's kernel server: kernels forked from a Python that imported them once.

    python -I -m digitlab.course.sandbox.kernel_server LISTENING_FD

A fresh grading kernel pays the interpreter's start, then ipykernel's imports (IPython, zmq,
tornado), then numpy's and digitlab's in its first cells: some 0.5-0.7 CPU s of each of a
student's kernels. This server (fork_server.serve, runs overlapping) imports them once,
as the grader (root), outside any sandbox, and each kernel is a fork of it that first enters
its own sandbox exactly as launch_kernel.py would (cgroup, network namespace, rlimits, slot
user: RLIMIT_CPU counts the fork's own CPU, from zero) and only then takes the caller's
folder, streams and environment (fork_server.become_child) and runs grading_kernel.main.
LimitedKernelManager starts fork_client's `stand-in` for it, which is the kernel to
jupyter_client (signals, exit status), and starts the kernel afresh if the server fails.

It imports only what every kernel imports itself (the notebooks' first cells), so nothing
is in a fork that the student's code could not have loaded anyway: no key, no check's data.
A fork must have one thread: QUIET_THREADS (one BLAS thread) is in the server's environment,
and a server with more than one refuses to serve (the slot then starts kernels afresh).
"""

from __future__ import annotations

import os
import sys

from digitlab.course.sandbox import fork_server, grading_kernel, launch_kernel
from digitlab.course.sandbox.sandbox import PASSED_VARIABLES, QUIET_THREADS

# What the kernel and the lab's notebooks import at their top (hidden_check: the hidden test
# cells', which registers the kernel's server of the checks in grading_kernel.AT_START: the
# checks themselves import in 2.5 ms once these are in); matplotlib and ipywidgets stay
# out, as digitlab.plots and digitlab.widgets load them only when a figure or a panel is made.
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "digitlab",
             "digitlab.plots", "digitlab.testing", "digitlab.student", "digitlab.stats",
             "digitlab.competition", "digitlab.course.hidden_check")
# Seconds a server may take to import them before it is given up (about 1 s idle).
START_SECONDS = 60


def threads() -> int:
    """The threads of this process, native ones (a BLAS pool) included."""
    return len(os.listdir("/proc/self/task"))


def run_kernel(request: dict) -> int:
    """In a fork that entered its sandbox: grading_kernel.AT_START (the kernel's server of
    the checks, forked before anything of the kernel's runs), then the grading kernel with
    the request's argv."""
    sys.argv = [grading_kernel.__file__, *request["argv"]]
    for start_first in grading_kernel.AT_START:
        start_first()
    return fork_server.exit_status(grading_kernel.main)


def start(cwd: str | os.PathLike) -> fork_server.Server:
    """Start a kernel server in cwd, a folder of the grader's; fork_server.ServerGone when it
    does not start. Its environment is a kernel's (PASSED_VARIABLES, QUIET_THREADS), never
    the grader's: a fork's /proc/self/environ still shows the one its server started with."""
    environment = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    return fork_server.start([], env={**environment, **QUIET_THREADS}, cwd=cwd,
                             seconds=START_SECONDS,
                             program=[sys.executable, "-I", "-m", __spec__.name])


def serve(listening_fd: int) -> int:
    grading_kernel.block_debugger()
    for module in PRELOADED:
        __import__(module)
    if threads() != 1:
        print(f"kernel server: {threads()} threads after the imports; a fork keeps one of "
              "them: set QUIET_THREADS in its environment", file=sys.stderr)
        return 1
    return fork_server.serve(listening_fd, [], enter=launch_kernel.enter, run=run_kernel,
                             at_once=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    sys.exit(serve(int(sys.argv[1])))
