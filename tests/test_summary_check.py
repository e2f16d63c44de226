"""Notebook 04's hidden check of summarize_accuracies, run for real: the student's function
runs in a child process that sends back numbers, and this process judges each by the
property that defines it (no summary is computed in the package)."""

import contextlib
import io

import nbformat
import pytest
from course_builder import SOURCE, grade_id
from notebook_factory import write_notebook

from digitlab.course.checks import summary_check
from digitlab.course.checks.run_summary import ANSWER_CELL_ID, NOTEBOOK_04

[REFERENCE] = [cell.source for cell in nbformat.read(SOURCE / NOTEBOOK_04, 4).cells
               if grade_id(cell) == ANSWER_CELL_ID]
ARGUMENTS = {"mean-std": ["--sizes", "2,7,40", "--seed", "404"],
             "interval": ["--sizes", "2,7,12", "--seed", "405"]}


def run(folder, source, quantity):
    """(exit status, printed) of summary_check on `source` as notebook 04's answer cell."""
    write_notebook(folder / NOTEBOOK_04, source, grade_id=ANSWER_CELL_ID)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = summary_check.main(["--notebook", str(folder / NOTEBOOK_04),
                                     "--quantity", quantity, *ARGUMENTS[quantity]])
    return status, printed.getvalue()


MISTAKES = {
    # name: (a change to the reference answer, the quantities it fails, a phrase of the
    # first one's reason). A wrong std also moves the interval, whose half-width uses it.
    "reference": (lambda source: source, set(), ""),
    "std divided by n": (lambda source: source.replace("ddof=1", "ddof=0"),
                         {"mean-std", "interval"}, "is not the sample standard deviation"),
    "normal instead of t": (lambda source: source.replace("t_critical_95(len(values) - 1)",
                                                          "1.96"),
                            {"interval"}, "does not have the half-width"),
    "median instead of mean": (lambda source: source.replace("values.mean()",
                                                             "np.median(values)"),
                               {"mean-std", "interval"}, "is not the average"),
    "three numbers": (lambda source: source.replace(", float(mean + half_width)", ""),
                      {"mean-std", "interval"}, "return four numbers"),
    "numpy patched in the answer": (lambda source: source.replace(
        "ddof=1", "ddof=0") + "\nnp.isclose = np.allclose = lambda *args, **kwargs: True\n"
        "import math\nmath.isclose = lambda *args, **kwargs: True\n",
        {"mean-std", "interval"}, "divide by n - 1"),
    "raises": (lambda source: "def summarize_accuracies(accuracies):\n    raise ValueError('no')\n",
               {"mean-std", "interval"}, "ValueError: no"),
}


@pytest.mark.parametrize(("change", "failing", "reason"), MISTAKES.values(), ids=MISTAKES)
def test_each_mistake_fails_the_quantities_it_gets_wrong(tmp_path, change, failing, reason):
    """The reference passes both; each mistake fails its own quantities, saying why, and
    patching numpy or math in the student's code changes nothing."""
    printed = {}
    for quantity in summary_check.QUANTITIES:
        status, printed[quantity] = run(tmp_path, change(REFERENCE), quantity)
        assert (status == 1) == (quantity in failing), printed[quantity]
        assert printed[quantity].startswith("FAILED: " if quantity in failing else "PASSED\n")
    if failing:
        first = min(failing, key=summary_check.QUANTITIES.index)
        assert reason in printed[first], printed[first]
