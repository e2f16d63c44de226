"""The function that each student's Dask task names. It imports nothing of the grading.

A Dask scheduler unpickles the tasks it is given, and so imports the module of each task's
function. cluster.py imports nbgrader, SQLAlchemy and jsonschema (2 s): on a scheduler's first
run that held the first students back by 1.3 s (benchmarks/README.md). So the task names
grade below, and `digitlab worker` (cluster.serve) hands it the worker's grading before the
worker joins the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable

# cluster.grade_task once cluster.serve has set this worker up; None anywhere else.
grading: Callable | None = None


def grade(course: str, assignment: str, student: str, run: str, shown_url: str,
          timeout: float):
    """The student's grading on this worker (cluster.grade_task): (the GradingRecord, why
    the student was graded again or None)."""
    if grading is None:
        raise RuntimeError("this Dask worker was not started by `digitlab worker`")
    return grading(course, assignment, student, run, shown_url, timeout)
