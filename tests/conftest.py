"""Shared fixtures, tests/ on sys.path so tests can import reference.py (the correct
backward that never ships in the package), and how the suite shares its work.

pyproject.toml runs the suite on two workers (`-n 2 --dist loadscope`): each module runs
whole on one worker, so its module-scoped fixtures (a class grading, say) are made once.
The workers take the modules LONGEST first, in that order, then the rest in pytest's order:
the short ones fill the end evenly (pytest_collection_modifyitems). Nothing holds the
grading users between modules: each sandbox claims a free one, and test_sandbox, which
asserts which user each of its sandboxes gets, has users of its own (its USERS).

Work shared between modules, made once per run for both workers (made_once):
generated_course, the course after `nbgrader generate_assignment`, which every module that
grades copies (course_builder.copy_generated) rather than generating its own; graded_course,
the report class after one `nbgrader autograde` (test_report, test_lms_export,
test_hidden_feedback); and source_preview, one `digitlab preview` of the source notebooks
(test_preview, test_source_notebooks). A module that needs a graded class reads
graded_course when the report class holds the students it needs (copying it first if it
changes it) rather than grading one of its own: each grading costs half a minute or more.
"""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Before anything loads nbformat, as the `digitlab` command does: jsonschema would build an
# IRI parser that no test uses, a third of each pytest process's collection (about 2 CPU s).
import digitlab.course.grading.no_iri_parser  # noqa: F401, I001

sys.path.insert(0, str(Path(__file__).parent))

from course_builder import (  # noqa: E402
    ASSIGNMENT,
    SOURCE,
    copy_course,
    copy_generated,
    fix_cases_key,
    nbgrader,
    preview,
    submit_report_class,
    tree_digest,
)

import digitlab  # noqa: E402 - after the path, like every test module

# The modules that run longest (5 s or more on a machine where the suite takes 400 s),
# started first in this order, so that the rest, short, follow in pytest's order and
# fill the end evenly. test_sandbox waits on the clock much of its time (its sleeping and
# stuck kernels): second, beside test_dask_grading's two busy workers, and done before
# test_adversarial_class, whose spinner must get half a core to reach its CPU limit before
# its wall limit. test_report makes graded_course (see its fixture); its other readers,
# short now that they grade nothing of their own, are in the rest, so that they find it
# made and never wait for it.
LONGEST = ("test_dask_grading", "test_sandbox", "test_nbgrader_pipeline",
           "test_adversarial_class", "test_report", "test_hub", "test_grade_class",
           "test_grading_budget", "test_preview", "test_autograde_server",
           "test_student_bundle", "test_browser_lab", "test_rubrics", "test_quoted_figures",
           "test_verify_outside", "test_backward_check", "test_grading_umask",
           "test_panel_runs")


def pytest_configure(config: pytest.Config) -> None:
    """Tests that stop a grading as Ctrl+C does send SIGINT, to the test's process or to a
    command it started. A shell starts a script's background job with SIGINT ignored, and
    every child inherits that: take it back, so the suite runs the same however started."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        module = item.path.stem
        return LONGEST.index(module) if module in LONGEST else len(LONGEST)

    items.sort(key=rank)  # stable: within a module, pytest's order stays


@pytest.fixture(scope="session")
def data():
    """The bundled digits split with seed 0: 3,000 training and 1,000 validation images."""
    return digitlab.load_digits(seed=0)


@pytest.fixture
def not_grading(monkeypatch):
    """As in JupyterLab: NBGRADER_EXECUTION unset, even when the suite runs under nbgrader."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


@pytest.fixture(scope="session")
def generated_course(tmp_path_factory) -> Path:
    """The course after `nbgrader generate_assignment` (once per run: see made_once). Never
    change it: course_builder.copy_generated gives a module a copy of its own."""
    def generate(folder: Path) -> None:
        nbgrader(copy_course(folder / "course"), "generate_assignment", ASSIGNMENT)

    return made_once(tmp_path_factory, "generated-course", generate) / "course"


@pytest.fixture(scope="session")
def report_course(generated_course, tmp_path_factory):
    """A generated course with the six students of submit_report_class, not yet graded, and
    course_builder's fixed CASES_KEY (test_hidden_feedback names the cases it draws)."""
    course = copy_generated(generated_course, tmp_path_factory.mktemp("report-course"))
    fix_cases_key(course)
    submit_report_class(course)
    return course


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str,
              make: Callable[[Path], None]) -> Path:
    """The folder `name`, filled by make(folder) once per run: under xdist the first worker
    to need it makes it in the run's shared folder (this run's, not a past one's), and the
    other waits for it. Read it, never change it: both workers may."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder, made = root / name, root / f"{name}.made"
    with open(f"{folder}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():  # made in place (its paths are the ones the tests read)
            shutil.rmtree(folder, ignore_errors=True)  # a failed make's
            folder.mkdir()
            make(folder)
            made.touch()
    return folder


@pytest.fixture(scope="session")
def graded_course(report_course, tmp_path_factory):
    """report_course after one real `nbgrader autograde` (about a minute, once per run: see
    made_once), with the tree_digest of submitted/ taken before it."""
    def grade(folder: Path) -> None:
        shutil.copytree(report_course, folder / "course", symlinks=True)
        (folder / "submitted.digest").write_text(_autograde_report_course(folder / "course"))

    graded = made_once(tmp_path_factory, "graded-course", grade)
    shutil.rmtree(report_course)  # this worker's own copy, which its tests may change
    shutil.copytree(graded / "course", report_course, symlinks=True)
    return report_course, (graded / "submitted.digest").read_text()


@pytest.fixture(scope="session")
def source_preview(tmp_path_factory) -> tuple[subprocess.CompletedProcess, str, Path]:
    """One real `digitlab preview` of the lab's source notebooks (slow: every experiment
    trains; once per run, see made_once): the command's run, the tree_digest of the source
    folder before it, and its --out folder (the pages, and ran-digit-lab/)."""
    def run_preview(folder: Path) -> None:
        before = tree_digest(SOURCE)
        run = preview(ASSIGNMENT, "--out", str(folder / "out"))
        (folder / "run.json").write_text(json.dumps(
            {"args": run.args, "returncode": run.returncode, "stdout": run.stdout,
             "stderr": run.stderr, "before": before}))

    made = made_once(tmp_path_factory, "source-preview", run_preview)
    saved = json.loads((made / "run.json").read_text())
    run = subprocess.CompletedProcess(saved["args"], saved["returncode"], saved["stdout"],
                                      saved["stderr"])
    return run, saved["before"], made / "out"


def _autograde_report_course(course: Path) -> str:
    """Autograde the report class in place; the tree_digest of submitted/ before it."""
    before = tree_digest(course / "submitted")
    result = nbgrader(course, "autograde", ASSIGNMENT, check=False)
    # nbgrader 0.9.6 cannot grade a corrupt notebook, and says so (`digitlab grade` leaves
    # such a notebook out of its staged copy instead). A duplicated test cell is graded.
    failed = set(re.findall(r"error processing assignment '[^']+' for student '(\w+)'",
                            result.stderr))
    assert (result.returncode, failed) == (1, {"corrupt"}), result.stderr[-3000:]
    return before
