"""The grading kernels' limits, the sandbox and its launcher, the process tree."""
