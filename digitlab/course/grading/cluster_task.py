"""The function that each student's Dask task names, which imports the grading only once it
runs, on a worker.

A Dask scheduler unpickles the tasks it is given, and so imports the module of each task's
function. cluster.py imports nbgrader, SQLAlchemy and jsonschema (2 s): on a scheduler's first
run that held the first students back by 1.3 s (benchmarks/README.md). This module imports
none of them, and on a worker cluster.py is imported already, by `digitlab worker`.
"""

from __future__ import annotations


def grade(course: str, assignment: str, student: str, run: str, shown_url: str,
          timeout: float):
    """cluster.grade_task: (the student's GradingRecord, why it was retried or None)."""
    from digitlab.course.grading.cluster import grade_task

    return grade_task(course, assignment, student, run, shown_url, timeout)
