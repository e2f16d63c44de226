"""A grading kernel: ipykernel's own launcher, without the debugger.

    python grading_kernel.py -f CONNECTION_FILE

LimitedKernelManager starts this in place of `python -m ipykernel_launcher -f ...`, or has
a kernel server (kernel_server.py) fork one that runs main(). At its start ipykernel imports
debugpy (about 0.07 s of CPU, in each of a student's kernels) to serve a debugger that
no grading uses. Here debugpy cannot be imported, so ipykernel starts without one, as it
does wherever debugpy is not installed; nothing else changes.

On SIGUSR1 the kernel writes the Python stacks of its threads (faulthandler) to STACKS_FILE
beside its connection file, in the sandbox's folder: even while a cell that ignores the
interrupt runs, or waits in C code, the grader reads there which answer it is stuck in.

Run by file, like ipykernel_launcher: this file's folder leaves sys.path before anything
is imported, and IPython puts the kernel's working folder there, as it does for that one.
"""

import faulthandler
import os
import signal
import sys

STACKS_FILE = "stacks.txt"
# What a kernel forked from a kernel server calls first, before the kernel itself: what the
# server's imports registered (hidden_check: the kernel's server of the checks, forked from
# the kernel's clean state). The sandbox's modules import nothing of the checks' wing.
AT_START = []


def block_debugger() -> None:
    """Make `import debugpy` raise ImportError in this process (before ipykernel's import)."""
    sys.modules["debugpy"] = None


def dump_stacks_on_sigusr1(connection_file: str) -> None:
    """On SIGUSR1, write every thread's stack to STACKS_FILE beside the connection file."""
    # Kept open for the kernel's life: faulthandler writes to its descriptor.
    stacks = open(os.path.join(os.path.dirname(connection_file), STACKS_FILE), "w")  # noqa: SIM115
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)


def main() -> None:
    """The kernel, with sys.argv its command line: what both ways of starting one run."""
    block_debugger()
    dump_stacks_on_sigusr1(sys.argv[sys.argv.index("-f") + 1])
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    del sys.path[0]  # this file's folder
    main()
