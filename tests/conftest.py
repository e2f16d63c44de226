"""Shared fixtures, and tests/ on sys.path so tests can import reference.py: the correct
backward that never ships in the package."""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from course_builder import (  # noqa: E402
    ASSIGNMENT,
    copy_course,
    nbgrader,
    submit_report_class,
    tree_digest,
)

import digitlab  # noqa: E402 - after the path, like every test module


@pytest.fixture(scope="session")
def data():
    """The bundled digits split with seed 0: 3,000 training and 1,000 validation images."""
    return digitlab.load_digits(seed=0)


@pytest.fixture
def not_grading(monkeypatch):
    """As in JupyterLab: NBGRADER_EXECUTION unset, even when the suite runs under nbgrader."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


@pytest.fixture(scope="session")
def report_course(tmp_path_factory):
    """A generated course with the six students of submit_report_class, not yet graded."""
    course = copy_course(tmp_path_factory.mktemp("report-course"))
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    submit_report_class(course)
    return course


@pytest.fixture(scope="session")
def graded_course(report_course):
    """report_course after one real `nbgrader autograde` (about a minute), with the
    tree_digest of submitted/ taken before it."""
    before = tree_digest(report_course / "submitted")
    result = nbgrader(report_course, "autograde", ASSIGNMENT, check=False)
    # nbgrader 0.9.6 cannot grade a corrupt notebook, and says so (`digitlab grade` leaves
    # such a notebook out of its staged copy instead). A duplicated test cell is graded.
    failed = set(re.findall(r"error processing assignment '[^']+' for student '(\w+)'",
                            result.stderr))
    assert (result.returncode, failed) == (1, {"corrupt"}), result.stderr[-3000:]
    return report_course, before
