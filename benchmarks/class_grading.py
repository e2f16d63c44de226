"""How long `digitlab grade` takes for a class, with 1 job and with more.

    .venv/bin/python benchmarks/class_grading.py [--students 40] [--jobs 1 2]

Builds a throwaway course (the real config and notebooks), releases the assignment and
submits a class of complete submissions: the reference solutions, every fifth with the seed's
bias bug. Then grades the whole class once per --jobs value on the default SQLite gradebook
(digitlab.course.grading.grade.grade_class, which runs the real `nbgrader autograde` per
student) and prints the wall time, the time per student, the speed-up over the first value and
the load average before and after, since other work on the machine slows every figure. The one-time
gradebook preparation is not in the times. About 6-7 minutes for 40 students on 2 cores.
This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_builder import (  # noqa: E402 - the course tooling for tests lives in tests/
    ASSIGNMENT,
    KEY,
    averaged_bias,
    copy_course,
    nbgrader,
    solved_release,
    submit,
)

from digitlab.course.grading.grade import grade_class  # noqa: E402


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.pop("DIGITLAB_DB_URL", None)  # always the course's SQLite gradebook
    with tempfile.TemporaryDirectory() as folder:
        course = copy_course(Path(folder) / "course")
        nbgrader(course, "generate_assignment", ASSIGNMENT)
        solved = solved_release(course)
        for number in range(args.students):
            submit(course, f"student{number:03d}", solved, {"submission.csv": KEY},
                   change=averaged_bias if number % 5 == 4 else None)
        print(f"{args.students} submissions, {os.cpu_count()} cores; load average (1, 5, "
              f"15 min) at the start: {load()}", flush=True)
        first = None
        for jobs in args.jobs:
            result = grade_class(course, ASSIGNMENT, jobs=jobs)
            failed = sum(student.record.status != "graded" for student in result.results)
            first = first or result.seconds
            print(f"--jobs {jobs}: {result.seconds:.1f} s, "
                  f"{result.seconds / args.students:.1f} s per student, "
                  f"speed-up {first / result.seconds:.2f}x, {failed} not graded; "
                  f"load average after: {load()}", flush=True)


if __name__ == "__main__":
    main()
