"""Shared fixtures, tests/ on sys.path so tests can import reference.py (the correct
backward that never ships in the package), and how pytest-xdist shares the work.

pyproject.toml runs the suite on two workers (`-n 2 --dist loadscope`): each module runs
whole on one worker, so its module-scoped class gradings are made once, and the longest
modules start first so that the short ones fill the end. The session's graded_course is
graded once for both workers. Gradings on the two workers share the grading users (each
sandbox claims a free one); tests/test_sandbox.py needs every user free, so it holds them
alone while no other grading module runs (grading_users).
"""

import contextlib
import fcntl
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
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

# The modules that hold the grading users alone: they assert which user their sandbox gets
# and that none of its processes is left, and one test claims every user.
ALONE = ("test_sandbox",)
# Modules that never grade, which the other worker runs while ALONE (first) holds the users:
# they take no lock (about as long as ALONE, so that neither worker waits for the other).
BESIDE_ALONE = ("test_backward_check", "test_widgets_depth", "test_plots")
# The modules that run longest, started next in this order; the rest follow in pytest's order.
LONGEST = ("test_dask_grading", "test_nbgrader_pipeline", "test_adversarial_class",
           "test_report", "test_hub", "test_grade_class", "test_grading_budget",
           "test_lms_export", "test_hidden_feedback", "test_verify_outside", "test_preview")
LOCKS = Path(tempfile.gettempdir()) / f"digitlab-tests-{os.geteuid()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [*ALONE, *BESIDE_ALONE, *LONGEST]

    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return first.index(module) if module in first else len(first)

    items.sort(key=rank)  # stable: within a module, pytest's order stays


@contextlib.contextmanager
def grading_users(alone: bool = False, *, at_gate: bool = True) -> Iterator[None]:
    """Hold the grading users, shared with the other worker's modules or alone.

    A module waiting to be alone holds the gate, so no new module starts beside it while it
    waits for those already running. at_gate=False is for a grading inside a module that
    already holds them shared (passing the gate there could wait on the very module).
    """
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    with open(LOCKS / "gate", "a") as gate, open(LOCKS / "users", "a") as users:
        if at_gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(users, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files releases both locks


@pytest.fixture(scope="module", autouse=True)
def _module_grading_users(request) -> Iterator[None]:
    """Every module but BESIDE_ALONE holds the grading users while it runs (see
    grading_users)."""
    module = request.module.__name__
    with (contextlib.nullcontext() if module in BESIDE_ALONE
          else grading_users(alone=module in ALONE)):
        yield


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
def graded_course(report_course, tmp_path_factory):
    """report_course after one real `nbgrader autograde` (about a minute), with the
    tree_digest of submitted/ taken before it.

    Graded once per run: under xdist the first worker to need it grades and keeps a copy in
    the run's shared folder; the other worker waits for it and takes the copy instead.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return report_course, _autograde_report_course(report_course)
    shared = tmp_path_factory.getbasetemp().parent / "graded-course"  # this run's, not a past one's
    with open(f"{shared}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shared.exists():
            shutil.rmtree(report_course)
            shutil.copytree(shared / "course", report_course, symlinks=True)
        else:
            digest = _autograde_report_course(report_course)
            shutil.copytree(report_course, shared / "course", symlinks=True)
            (shared / "submitted.digest").write_text(digest)
    return report_course, (shared / "submitted.digest").read_text()


def _autograde_report_course(course: Path) -> str:
    """Autograde the report class in place; the tree_digest of submitted/ before it."""
    before = tree_digest(course / "submitted")
    # Session-scoped, so made before its module's users are held: it holds them itself.
    with grading_users(at_gate=False):
        result = nbgrader(course, "autograde", ASSIGNMENT, check=False)
    # nbgrader 0.9.6 cannot grade a corrupt notebook, and says so (`digitlab grade` leaves
    # such a notebook out of its staged copy instead). A duplicated test cell is graded.
    failed = set(re.findall(r"error processing assignment '[^']+' for student '(\w+)'",
                            result.stderr))
    assert (result.returncode, failed) == (1, {"corrupt"}), result.stderr[-3000:]
    return before
