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
from notebook_factory import answer, reference_answer, write_notebook

from digitlab.course.checks import backward_check
from digitlab.course.checks.box import PlainBox
from digitlab.course.sandbox.budget import RESERVE_SECONDS, StudentBudget, budget_of
from digitlab.student import (
    HUNG_CODE_VARIABLE,
    NOTEBOOK_01,
    StudentCodeError,
    answer_source,
    code_digest,
    load_student_linear,
)

ENDLESS = answer("while True:\n    pass\n")
CASES = backward_check.make_cases([(3, 2)], [2], seed=0)


def test_once_on_the_clock_a_notebook_leaves_the_reserve_of_those_after_it():
    budget = StudentBudget(150, time.monotonic() + 150)
    notebooks = {f"0{n}.ipynb" for n in range(1, 6)}
    budget.begin("01.ipynb", notebooks)
    assert budget.deadline_now() == math.inf  # no code of the student has timed out yet
    budget.on_the_clock = True
    assert budget.deadline_now() == budget.deadline - 4 * RESERVE_SECONDS
    for name in ("02.ipynb", "03.ipynb", "04.ipynb", "05.ipynb"):
        budget.begin(name, notebooks)
    assert budget.deadline_now() == budget.deadline


def test_hung_code_is_remembered_once_and_passed_on():
    budget = StudentBudget(150, time.monotonic() + 150)
    assert budget.environment() == {}
    assert budget.remember_hung("abc", "it looped")
    assert not budget.remember_hung("abc", "it looped again")
    assert json.loads(budget.environment()[HUNG_CODE_VARIABLE]) == {"abc": "it looped"}


def test_a_students_budget_starts_once_per_process():
    first = budget_of("test_budget-student", 150)
    time.sleep(0.01)
    assert budget_of("test_budget-student", 150) is first
    assert first.deadline - time.monotonic() < 150


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
