"""A grading kernel: ipykernel's own launcher, without the debugger.

    python grading_kernel.py -f CONNECTION_FILE

LimitedKernelManager starts this in place of `python -m ipykernel_launcher -f ...`, or has
a kernel server (kernel_server.py) fork one that runs main(). At its start ipykernel imports
debugpy (about 0.07 s of CPU, in each of a student's five kernels) to serve a debugger that
no grading uses. Here debugpy cannot be imported, so ipykernel starts without one, as it
does wherever debugpy is not installed; nothing else changes.

Run by file, like ipykernel_launcher: this file's folder leaves sys.path before anything
is imported, and IPython puts the kernel's working folder there, as it does for that one.
"""

import sys


def block_debugger() -> None:
    """Make `import debugpy` raise ImportError in this process (before ipykernel's import)."""
    sys.modules["debugpy"] = None


def main() -> None:
    """The kernel, with sys.argv its command line: what both ways of starting one run."""
    block_debugger()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    del sys.path[0]  # this file's folder
    main()
