"""A grading kernel: ipykernel's own launcher, without the debugger.

    python grading_kernel.py -f CONNECTION_FILE

LimitedKernelManager starts this in place of `python -m ipykernel_launcher -f ...`. At its
start ipykernel imports debugpy (about 0.07 s of CPU, in each of a student's five kernels)
to serve a debugger that no grading uses. Here debugpy cannot be imported, so ipykernel
starts without one, as it does wherever debugpy is not installed; nothing else changes.

Run by file, like ipykernel_launcher: this file's folder leaves sys.path before anything
is imported, and IPython puts the kernel's working folder there, as it does for that one.
"""

import sys

if __name__ == "__main__":
    del sys.path[0]  # this file's folder
    sys.modules["debugpy"] = None  # `import debugpy` raises ImportError

    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
