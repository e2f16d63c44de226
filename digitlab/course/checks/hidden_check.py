"""The one call a hidden test makes: run a check of digitlab.course.checks in a fresh process.

The hidden part of a test cell (in the instructor's source notebook only) calls, say,

    check("backward_check", "--quantity", QUANTITY, "--layers", LAYERS, ...)

In the student's kernel, check runs `python -I -m digitlab.course.checks.<name> ARGUMENTS`
and fails the cell (AssertionError with the check's report) unless it exits with status 0.
That run can be faked: the student's own code in the kernel may replace this function or
subprocess.run. So it is not the verdict. After the notebook has run, the grader
(digitlab.course.checks.verify_outside) finds these calls in the cell's source, as the
instructor wrote it, runs the same checks in its own process, and scores the cell from both.
The test cells import it as digitlab.course.hidden_check (see that module).
"""

from __future__ import annotations

import subprocess
import sys

from digitlab.course.checks.registry import module_name

# The exit status of a check that cannot judge inside the notebook (notebook 05's scorer
# when the kernel may not read the answer key): the cell passes here, the grader judges it.
ONLY_OUTSIDE = 3
# How the notebook says so; the grader then does not count the kernel's run as a pass.
NOT_CHECKED_HERE = "Not checked in the notebook: "
SECONDS = 120  # the cell's own timeout (nbgrader's Execute.timeout) stops it sooner


def check(name: str, *arguments: str) -> None:
    """Run the check `name` (registry.CHECKS) with `arguments`; AssertionError if it fails."""
    run = subprocess.run([sys.executable, "-I", "-m", module_name(name), *arguments],
                         capture_output=True, text=True, timeout=SECONDS)
    if run.returncode == ONLY_OUTSIDE:
        print(NOT_CHECKED_HERE + run.stdout.strip())
        return
    assert run.returncode == 0, run.stdout + run.stderr
    print(run.stdout.strip())
