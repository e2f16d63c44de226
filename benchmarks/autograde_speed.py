"""How long nbgrader takes to autograde one complete, correct submission of the lab.

    .venv/bin/python benchmarks/autograde_speed.py [repeats]

Builds a throwaway course (the real config and notebooks), releases the assignment, submits
the reference solutions with a perfect submission.csv, and times the real command
`nbgrader autograde digit-lab --student perfect --force`, start-up included. The target is
20 s on 2 cores. This prints figures; it is not a test.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_builder import (  # noqa: E402 - the course tooling for tests lives in tests/
    ASSIGNMENT,
    KEY,
    copy_course,
    nbgrader,
    solved_release,
    submit,
)


def main(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        course = copy_course(Path(folder) / "course")
        nbgrader(course, "generate_assignment", ASSIGNMENT)
        submit(course, "perfect", solved_release(course), {"submission.csv": KEY})
        start = time.perf_counter()
        nbgrader(course, "--version")
        startup = time.perf_counter() - start
        print(f"nbgrader start-up alone: {startup:.1f} s")
        for run in range(1, repeats + 1):
            start = time.perf_counter()
            nbgrader(course, "autograde", ASSIGNMENT, "--student", "perfect", "--force")
            print(f"autograde of one complete submission, run {run}: "
                  f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
