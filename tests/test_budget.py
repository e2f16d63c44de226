"""The student's grading budget (digitlab.course.sandbox.budget) and what obeys it: the seam
that refuses code that hung before, and the outside checks' children, cut to the deadline.

The whole budget on a real `digitlab grade` is tests/test_grading_budget.py.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from nbgrader.preprocessors import Execute
from notebook_factory import answer, reference_answer, write_notebook

from digitlab.course.checks import backward_check
from digitlab.course.checks.box import PlainBox
from digitlab.course.layout import course_config
from digitlab.course.sandbox.bounded_execute import COMPUTING_CORES, IGNORED_AFTER_SECONDS
from digitlab.course.sandbox.budget import (
    LEAST_SECONDS,
    SLOWEST_FACTOR,
    STARTED_VARIABLE,
    StudentBudget,
    budget_of,
    started_environment,
)
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.student import (
    HUNG_CODE_VARIABLE,
    NOTEBOOK_01,
    StudentCodeError,
    answer_source,
    code_digest,
    load_student_linear,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "grading-budget.md"
ENDLESS = answer("while True:\n    pass\n")
CASES = backward_check.make_cases([(3, 2)], [2], seed=0)


class Clock:
    """A clock that moves only when told: the budget's arithmetic, exactly."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(seconds_ago: float, clock: Clock, seconds: float = 150) -> StudentBudget:
    """A budget of `seconds` begun `seconds_ago` on `clock`, in the first of five notebooks."""
    budget = StudentBudget(seconds, clock.now - seconds_ago, clock=clock)
    budget.begin(NOTEBOOKS[0], set(NOTEBOOKS))
    return budget


NOTEBOOKS = [f"0{n}.ipynb" for n in range(1, 6)]


def test_on_a_quiet_host_a_cell_keeps_its_own_timeout():
    """8 s into notebook 01: each of the five notebooks is reserved 8 s, and one retry 10 s;
    what is left, 150 - 8 - 50 = 92 s, is more than a cell's own 60 s."""
    budget = started(8, Clock())
    assert budget.allowance() == 92
    assert budget.timeout(60) == 60


def test_on_a_loaded_host_the_wait_shrinks_to_the_least():
    """25 s into notebook 01, whose kernel took 5 s to start: the notebooks still to come
    are reserved more than is left, so code may run for the least: 3 x 5 s."""
    budget = started(25, Clock())
    budget.ended(5)
    assert budget.least() == SLOWEST_FACTOR * 5 == 15
    assert budget.timeout(60) == 15


def test_the_least_is_never_below_least_seconds():
    budget = started(0, Clock())
    budget.ended(0.5)
    assert budget.least() == LEAST_SECONDS


def test_waiting_is_not_counted_as_the_cost_of_a_notebook():
    """70 s in, 60 of them waited on a hung cell, notebook 02 begins: notebook 01 cost 10 s,
    and the four notebooks left (02 included) and a retry are reserved 50 s."""
    clock = Clock()
    budget = started(70, clock)
    budget.waited_for(60)
    budget.begin(NOTEBOOKS[1], set(NOTEBOOKS))
    assert budget.notebook_seconds() == 10
    assert budget.allowance() == 150 - 70 - (10 + 4 * 10)
    clock.now += 2  # notebook 02 runs: less is left, and it counts as notebook 01's cost
    assert budget.allowance() == 150 - 72 - (10 + 4 * 12)


def test_without_a_student_nothing_is_cut():
    assert budget_of(None, 150).timeout(60) == 60
    assert budget_of("", 150).allowance() == math.inf


def test_hung_code_is_remembered_once_and_passed_on():
    budget = StudentBudget(150, time.monotonic())
    assert budget.environment() == {}
    assert budget.remember_hung("abc", "it looped")
    assert not budget.remember_hung("abc", "it looped again")
    assert json.loads(budget.environment()[HUNG_CODE_VARIABLE]) == {"abc": "it looped"}


def test_a_students_budget_starts_once_per_process():
    first = budget_of("test_budget-student", 150)
    time.sleep(0.01)
    assert budget_of("test_budget-student", 150) is first
    assert first.started < time.monotonic()


def test_the_clock_starts_when_digitlab_grade_started_the_autograde(monkeypatch):
    """The grader's start, told in the environment, counts: for that student only."""
    assert json.loads(started_environment("someone")[STARTED_VARIABLE])["student"] == "someone"
    monkeypatch.setenv(STARTED_VARIABLE, json.dumps({"student": "test_budget-told",
                                                     "at": time.time() - 20}))
    assert 19 < time.monotonic() - budget_of("test_budget-told", 150).started < 25
    assert time.monotonic() - budget_of("test_budget-other", 150).started < 5


def test_the_seam_refuses_code_that_hung_before_with_the_same_reason(tmp_path, monkeypatch):
    notebook = write_notebook(tmp_path / NOTEBOOK_01, ENDLESS)
    digest = code_digest(answer_source(notebook))
    monkeypatch.setenv(HUNG_CODE_VARIABLE, json.dumps({digest: "backward was still running"}))
    begun = time.monotonic()
    with pytest.raises(StudentCodeError, match="Not run again while grading: backward was "
                                               "still running"):
        load_student_linear(notebook)
    assert time.monotonic() - begun < 1


def test_the_seam_runs_other_code(tmp_path, monkeypatch):
    notebook = write_notebook(tmp_path / NOTEBOOK_01, reference_answer())
    monkeypatch.setenv(HUNG_CODE_VARIABLE, json.dumps({code_digest(ENDLESS): "it hung"}))
    assert load_student_linear(notebook).__name__ == "Linear"


def _box(folder: Path, deadline: float):
    """An open_box for a plain child that must end by `deadline`."""
    @contextmanager
    def open_box():
        yield PlainBox(folder, dict(os.environ), deadline)
    return open_box


def test_a_check_child_is_cut_to_the_budgets_deadline(tmp_path):
    """The child's own limit is 60 s; the budget ends in 2 s, and the report says so."""
    notebook = write_notebook(tmp_path / NOTEBOOK_01, ENDLESS)
    (tmp_path / "box").mkdir()
    begun = time.monotonic()
    results, reason = backward_check.CHECK.run_student(
        notebook, CASES, 60, _box(tmp_path / "box", time.monotonic() + 2))
    assert results is None
    assert reason == "your Linear did not finish within 2 s."
    assert time.monotonic() - begun < 10


def test_no_child_starts_once_the_budget_is_spent(tmp_path):
    notebook = write_notebook(tmp_path / NOTEBOOK_01, reference_answer())
    (tmp_path / "box").mkdir()
    results, reason = backward_check.CHECK.run_student(
        notebook, CASES, 60, _box(tmp_path / "box", time.monotonic() - 1))
    assert results is None
    assert reason == "your Linear was not run: the grading time for this student is spent."
    assert not (tmp_path / "box" / "results.npz").exists()


def test_the_scale_page_quotes_the_courses_cell_timeout():
    page = " ".join((PAGE.parent / "grading-at-scale.md").read_text().split())
    assert f"`Execute.timeout = {course_config(PAGE.parents[1]).Execute.timeout}` per cell" in page


def test_the_page_quotes_the_budgets_settings():
    page = " ".join(PAGE.read_text().split())
    assert (f"`GradingLimits.student_wall_seconds`, {GradingLimits().student_wall_seconds} s "
            "by default") in page
    assert f"{SLOWEST_FACTOR} times the slowest step that ended by itself" in page
    assert f"and at least {LEAST_SECONDS} s" in page
    cell_timeout = course_config(PAGE.parents[1]).Execute.timeout
    assert f"(`c.Execute.timeout`, {cell_timeout} s, for a cell)" in page
    assert f"still running after {cell_timeout} s)" in page
    assert page.count(f"at its time limit of {cell_timeout} s") == 2
    assert f"On a quiet host that is {cell_timeout} s and {LEAST_SECONDS} s" in page
    # A kernel that ignored the interrupt: nbclient's wait for its idle, then the grader's.
    idle, answer = Execute().iopub_timeout, IGNORED_AFTER_SECONDS
    assert f"nbclient waits {idle} s (`Execute.iopub_timeout`)" in page
    assert f"waits {answer} s more (`IGNORED_AFTER_SECONDS`)" in page
    assert f"later than its timeout plus {idle + answer} s" in page
    assert f"needs more than {idle + answer} s to stop" in page
    assert f"waited {idle + answer} s more without computing" in page
    # What a kernel that ignored the interrupt must use to count as computing.
    assert COMPUTING_CORES == 1 / 50
    assert "(a fiftieth of a core or more, `COMPUTING_CORES`)" in page
    assert "share its core with 50 others to fall under a fiftieth" in page
