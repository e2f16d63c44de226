"""One wall budget per student: every notebook, every in-kernel and outside check of one
student's autograde shares GradingLimits.student_wall_seconds.

Without it, each test cell and each outside check waits out its own timeout, so a student
whose Linear.backward loops forever cost about 12 minutes. A student's grading is made of
two kinds of time, and the budget treats them apart:

* work that ends by itself: starting nbgrader and the kernels, the cells and checks that
  finish, the gradebook. Its cost is the host's (a loaded host takes several times longer),
  not the student's, so the budget never cuts it: a cell that finishes is never stopped
  early because the host is slow, and the notebooks that do not run the looping code keep
  their points whatever the load;
* waiting for code that does not end: a cell or a check's child that runs out of time. The
  budget bounds this. Whenever a cell or a check's child starts, it may run for what is
  left of the budget less a reserve for the work still to come (`allowance`): each notebook
  still to run (this one included) at the cost the student's notebooks have had so far on
  this host, and one retry. Never longer than its own timeout, and never shorter than
  `least()`: SLOWEST_FACTOR times the slowest step that ended by itself so far (a kernel's
  start, a cell, a check), and at least LEAST_SECONDS, so a correct cell has time to finish
  however slow the host is. On a loaded host the reserve grows and the wait shrinks: the
  whole grading stays within the budget while the host grades a correct submission within
  it, less two least waits (the hang and its retry).

Code that ran out of time is not run again: it is remembered here by its digest
(digitlab.student.code_digest). Every later kernel and check child gets these in
$DIGITLAB_HUNG_CODE, and the seam (digitlab.student.run_answer) then fails at once with the
same reason. So notebooks 04 and 05, which load notebook 01's Linear, fail their loads in
a moment, and keep the points of the cells that do not need it (02 and 03 hold written
answers alone and are not run: bounded_execute). A check whose child ran out
of time is not run again for the student either (hung_checks).

The budgets live in the autograde process, one per student (nbgrader autograde grades
students one after another in one process). `digitlab grade` starts a student's clock when
it starts the autograde ($DIGITLAB_GRADING_STARTED), so nbgrader's own start counts; a bare
`nbgrader autograde` starts it at the student's first notebook.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from digitlab.student import HUNG_CODE_VARIABLE

# The least time a cell or a check's child is given, and the most a cell gets once code has
# hung in its kernel: a correct cell needs under 2 s while grading on a quiet host (it
# trains nothing), and its slowest, the first (imports), about as long as the kernel's start.
LEAST_SECONDS = 10
SLOWEST_FACTOR = 3  # times the slowest step that ended by itself: the least on a slow host
# {"student": id, "at": time.time()}: when `digitlab grade` started the student's autograde.
STARTED_VARIABLE = "DIGITLAB_GRADING_STARTED"


@dataclass
class StudentBudget:
    """The wall time of one student's grading, what waiting took, and the code that hung."""

    seconds: float
    started: float  # clock() when the student's grading began
    hung: dict[str, str] = field(default_factory=dict)  # {code digest: why}
    # {check name: what the student reads} of the grader's checks whose child ran out of
    # time: the same check is not run again for this student (the kernel ignored the
    # interrupt, say, so no traceback named the code)
    hung_checks: dict[str, str] = field(default_factory=dict)
    waited: float = 0.0  # seconds spent in cells and checks that ran out of time
    slowest: float = 0.0  # seconds of the slowest step that ended by itself
    begun: set[str] = field(default_factory=set)  # the notebooks begun so far
    still_to_run: int = 0  # notebooks after the one being graded
    clock: Callable[[], float] = time.monotonic

    def begin(self, notebook: str, notebooks: set[str]) -> None:
        """`notebook`, one of the student's `notebooks`, starts now."""
        self.begun.add(notebook)
        self.still_to_run = len(notebooks - self.begun)

    def waited_for(self, seconds: float) -> None:
        """A cell or a check's child ran out of time after `seconds`."""
        self.waited += seconds

    def ended(self, seconds: float) -> None:
        """A step (a kernel's start, a cell, a check) ended by itself after `seconds`."""
        self.slowest = max(self.slowest, seconds)

    def least(self) -> float:
        """The least time a cell or a check is given: what healthy code surely needs on
        this host, and the most a cell gets once code has hung in its kernel."""
        return max(LEAST_SECONDS, SLOWEST_FACTOR * self.slowest)

    def notebook_seconds(self) -> float:
        """What one notebook has cost so far, on average, waiting left out; the notebook
        being graded is counted as a whole one only when it is the first."""
        work = self.clock() - self.started - self.waited
        return work / max(1, len(self.begun) - 1)

    def allowance(self) -> float:
        """How long code that starts now may run before it is stopped as hung (seconds,
        at least least()): the budget left, less the work still to come and one retry."""
        least = self.least()
        reserve = least + self.notebook_seconds() * (self.still_to_run + 1)
        left = self.started + self.seconds - self.clock()
        return max(least, left - reserve)

    def timeout(self, seconds: float) -> float:
        """The timeout of code that starts now and would be given `seconds` on its own."""
        return min(seconds, self.allowance())

    def remember_hung(self, digest: str, reason: str) -> bool:
        """Record that the code with this digest ran out of time; False if known already."""
        if digest in self.hung:
            return False
        self.hung[digest] = reason
        return True

    def environment(self) -> dict[str, str]:
        """What a later kernel or check child needs to know: the code not to run again."""
        return {HUNG_CODE_VARIABLE: json.dumps(self.hung)} if self.hung else {}


_BUDGETS: dict[str, StudentBudget] = {}


def budget_of(student: str | None, seconds: float) -> StudentBudget:
    """The student's budget in this process, started now if this is its first use; no
    student (nbgrader validate, say): a budget that never cuts."""
    student = student or ""
    if student not in _BUDGETS:
        _BUDGETS[student] = StudentBudget(seconds if student else math.inf,
                                          _start_of(student))
    return _BUDGETS[student]


def started_environment(student: str) -> dict[str, str]:
    """The environment that tells the student's autograde its clock starts now."""
    return {STARTED_VARIABLE: json.dumps({"student": student, "at": time.time()})}


def _start_of(student: str) -> float:
    """time.monotonic() when the student's grading began: when `digitlab grade` started
    its autograde, or now."""
    try:
        told = json.loads(os.environ.get(STARTED_VARIABLE) or "{}")
        at = float(told["at"]) if told.get("student") == student else None
    except (ValueError, TypeError, KeyError, AttributeError):
        at = None
    now = time.monotonic()
    return now if at is None else now - max(0.0, time.time() - at)
