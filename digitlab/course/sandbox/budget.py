"""One wall budget per student: every notebook, every in-kernel and outside check of one
student's autograde shares GradingLimits.student_wall_seconds.

Without it, each test cell and each outside check waits out its own timeout, so a student
whose Linear.backward loops forever cost about 12 minutes. With it:

* once the student's answer code has timed out (a cell stuck in an answer cell's code, or
  an outside check's child), the student is on the clock: each notebook may then run until
  its own wall time (notebook_wall_seconds) or until the student's budget, less
  RESERVE_SECONDS for each notebook still to run, is spent, whichever comes first, so a
  notebook that hangs cannot take the time of the notebooks after it; an outside check's
  child must end by then too (its box carries the deadline). Before that the budget cuts
  nothing: a student whose answers never hung is not cut short because the machine is slow
  (a busy grading host can take minutes for a correct submission), and other code that runs
  too long (a loop in a cell of the student's own) is stopped by the notebook's limits as
  before;
* once an answer's code has run out of time (a cell timed out inside it, or a check's child
  running it did), it is remembered here by its digest (digitlab.student.code_digest).
  Every later kernel and check child gets these in $DIGITLAB_HUNG_CODE, and the seam
  (digitlab.student.run_answer) then fails at once with the same reason instead of running
  the code again. So notebooks 02-05, which load notebook 01's Linear, fail their loads in a
  moment, and keep the points of the cells that do not need it.

The budgets live in the autograde process, one per student (nbgrader autograde grades
students one after another in one process); the first notebook of a student starts its clock.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

from digitlab.student import HUNG_CODE_VARIABLE

# Kept back from a notebook's wall time for each notebook of the student still to run: a
# correct notebook is graded in 2-8 s while grading (kernel start, cells, outside checks).
RESERVE_SECONDS = 15.0
# Once student code has hung in a kernel, the later cells of that kernel get at most this
# long each: a correct cell needs under 5 s while grading (it trains nothing).
RETRY_SECONDS = 10


@dataclass
class StudentBudget:
    """The wall time left for one student's grading, and the code that already hung."""

    seconds: float
    deadline: float  # time.monotonic() by which the whole grading ends
    hung: dict[str, str] = field(default_factory=dict)  # {code digest: why}
    # {check name: its report} of the grader's checks whose child ran out of time: the same
    # check is not run again for this student (the kernel ignored the interrupt, say, so no
    # traceback named the code)
    hung_checks: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # the notebooks begun so far
    still_to_run: int = 0  # notebooks after the one being graded
    on_the_clock: bool = False  # the student's code has timed out: the budget applies

    def begin(self, notebook: str, notebooks: set[str]) -> None:
        """`notebook`, one of the student's `notebooks`, starts now."""
        self.started.add(notebook)
        self.still_to_run = len(notebooks - self.started)

    def deadline_now(self) -> float:
        """When what runs now (a notebook's cells, or its outside checks) must end: the
        budget, less what the notebooks still to run are owed; never (inf) while no code
        of the student has timed out."""
        if not self.on_the_clock:
            return math.inf
        return self.deadline - RESERVE_SECONDS * self.still_to_run

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


def budget_of(student: str, seconds: float) -> StudentBudget:
    """The student's budget in this process, started now if this is its first use."""
    if student not in _BUDGETS:
        _BUDGETS[student] = StudentBudget(seconds, time.monotonic() + seconds)
    return _BUDGETS[student]
