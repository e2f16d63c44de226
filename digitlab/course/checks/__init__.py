"""The hidden checks: the call in the kernel, the checks and their children that run
student code, the grader's outside run, and the one registry of checks."""
