"""A student whose Linear.backward loops forever, graded by the real `digitlab grade` with the
course's DEFAULT limits: the whole grading stays within GradingLimits.student_wall_seconds
(plus MARGIN_SECONDS), the summary names the loop, and the notebooks that do not need the
Linear (04's summarize_accuracies, 05's submission.csv) keep their points.

Before the budget (digitlab.course.sandbox.budget), each of notebook 01's seven cells that
call backward, each of its six outside checks and each load of the Linear in notebooks 02-05
waited out its own timeout: about 12 minutes for this one student.

Needs root, like every test of the sandbox (it skips otherwise, and fails under CI=true).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import adversarial
import nbformat
import pytest
from adversarial import LINEAR, MAX_SCORES, expected_points
from course_builder import (
    ASSIGNMENT,
    KEY,
    copy_generated,
    replace_answer,
    solved_release,
    submit,
)
from lab_browser import require_root
from summary_table import summary_problems, summary_rows

from digitlab.course.grading import gradebook
from digitlab.course.records import read_records
from digitlab.course.sandbox.limits import GradingLimits

STUDENT = "looper"
# A backward that never returns, as students write it: a while loop whose exit is never met.
LOOPING_BACKWARD = '''
import numpy as np

import digitlab


class Linear(digitlab.Linear):
    def backward(self, grad):
        self.grad_weights = self.input.T @ grad
        done = False
        while not done:
            self.grad_bias = grad.sum(axis=0, keepdims=True)
        return grad @ self.weights.T
'''
BUDGET = GradingLimits().student_wall_seconds
# The budget reserves an estimate of the work still to come (the cost of the notebooks so
# far): what that estimate misses, and the staging and the clean-up around the autograde.
MARGIN_SECONDS = 30
DIGITLAB = Path(sys.executable).with_name("digitlab")


@dataclass
class Run:
    course: Path
    status: int
    out: str
    err: str
    seconds: float


@pytest.fixture(scope="module")
def run(generated_course, tmp_path_factory) -> Run:
    require_root("the grading sandbox needs root (users, cgroups, network namespaces)")
    course = copy_generated(generated_course, tmp_path_factory.mktemp("budget") / "course")
    submit(course, STUDENT, solved_release(course), {"submission.csv": KEY},
           change=lambda notebooks: replace_answer(notebooks, LINEAR, "linear-backward",
                                                   lambda _: LOOPING_BACKWARD))
    environment = {name: value for name, value in os.environ.items()
                   if name != gradebook.DB_URL_VARIABLE}
    start = time.perf_counter()
    result = subprocess.run([str(DIGITLAB), "grade", ASSIGNMENT, "--jobs", "1"], cwd=course,
                            env=environment, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    print(result.stdout)
    print(f"digitlab grade took {seconds:.0f} s")
    return Run(course, result.returncode, result.stdout, result.stderr, seconds)


def test_the_page_quotes_the_bound_and_the_points_kept():
    page = " ".join((Path(__file__).resolve().parents[1] / "docs" / "grading-budget.md")
                    .read_text().split())
    assert f"at most the budget plus {MARGIN_SECONDS} s" in page
    kept = sum(expected_points(failing=adversarial.tests_of(LINEAR)).values())
    assert f"`submission.csv` tests: {kept:g} points." in page


def test_the_loop_is_graded_within_the_budget(run):
    assert run.status == 0, run.out + run.err[-3000:]
    record = read_records(run.course, ASSIGNMENT)[0][STUDENT]
    assert record.status == "graded", record
    assert record.seconds <= BUDGET + MARGIN_SECONDS, record


def test_the_summary_names_the_loop(run):
    problems = "\n".join(summary_problems(run.out, [STUDENT])[STUDENT])
    assert "01-linear-backward: endless loop (Linear.backward in the answer cell " \
           "linear-backward" in problems, run.out
    record = read_records(run.course, ASSIGNMENT)[0][STUDENT]
    assert {hit.limit for hit in record.limits} == {"endless_loop"}, record


def test_the_notebooks_that_do_not_need_the_linear_keep_their_points(run):
    expected = expected_points(failing=adversarial.tests_of(LINEAR))
    scores = gradebook.read_scores(f"sqlite:///{run.course / 'gradebook.db'}", "digitlab",
                                   ASSIGNMENT, [STUDENT])[STUDENT]
    assert {f"{notebook.notebook}.ipynb": notebook.score
            for notebook in scores.notebooks} == expected
    assert sum(expected.values()) > 0
    assert summary_rows(run.out, [STUDENT])[STUDENT].split()[1:3] == [
        "graded", f"{sum(expected.values()):g}/{sum(MAX_SCORES.values()):g}"]


def test_later_loads_and_checks_fail_at_once_with_the_same_reason(run):
    """Notebooks 02-05 do not run the Linear again: the loads of those with tests (04, 05)
    say why, those of written answers alone (02, 03) are not run at all, and notebook 01's
    outside checks say why too, whatever the machine's load."""
    folder = run.course / "autograded" / STUDENT / ASSIGNMENT
    for notebook in sorted(folder.glob("0[2-5]-*.ipynb")):
        code = [cell for cell in nbformat.read(notebook, 4).cells if cell.cell_type == "code"]
        if not adversarial.tests_of(notebook.name):
            assert not any(cell.outputs for cell in code), notebook.name
            continue
        said = "\n".join(output.get("evalue", "") for output in code[0].outputs)
        assert "Not run again while grading: Linear.backward in the answer cell " \
               "linear-backward" in said, (notebook.name, code[0].outputs)
    checks = [output.evalue for cell in nbformat.read(folder / LINEAR, 4).cells
              for output in cell.get("outputs", [])
              if output.get("evalue", "").startswith("Checked by the grader outside")]
    assert len(checks) == len(adversarial.tests_of(LINEAR))
    assert all("Not run again while grading: Linear.backward in the answer cell "
               "linear-backward" in check for check in checks), checks
