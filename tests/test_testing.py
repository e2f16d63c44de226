"""The public test cells of notebook 01 catch each mistake in the test that is about it, and
say what is wrong in words: the helpers of digitlab.testing, run as the cells run them."""

import re

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_factory import AVERAGED_BIAS, answer, reference_solution, write_notebook
from reference import SOURCE_NOTEBOOK_01

from digitlab.student import NOTEBOOK_01, run_answer
from digitlab.testing import PublicTestFailure

ASSIGNS_REST = """\
self.grad_bias = grad.sum(axis=0, keepdims=True)
return grad @ self.weights.T
"""
ADDS_ON_A_FRESH_LAYER = "self.grad_weights += self.input.T @ grad\n" + ASSIGNS_REST
ADDS_AFTER_ZEROS = ("if self.grad_weights is None:\n"
                    "    self.grad_weights = np.zeros_like(self.weights)\n"
                    "self.grad_weights += self.input.T @ grad\n" + ASSIGNS_REST)
ADDS_TO_BIAS = ("self.grad_weights = self.input.T @ grad\n"
                "if self.grad_bias is None:\n"
                "    self.grad_bias = np.zeros_like(self.bias)\n"
                "self.grad_bias = self.grad_bias + grad.sum(axis=0, keepdims=True)\n"
                "return grad @ self.weights.T\n")
NO_TRANSPOSE = ("self.grad_weights = self.input.T @ grad\n"
                "self.grad_bias = grad.sum(axis=0, keepdims=True)\nreturn grad @ self.weights\n")


def _public_cells():
    """The imports cell, then {grade id: public source} of each test cell of notebook 01."""
    notebook = nbformat.read(SOURCE_NOTEBOOK_01, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tests = {cell.metadata.nbgrader["grade_id"]: re.sub(
        r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n", "", cell.source, flags=re.S)
        for cell in code if cell.metadata.get("nbgrader", {}).get("grade")}
    return code[0].source, tests


def failures(folder, body):
    """{grade id: the failure's message} for each public test cell that fails with `body`
    as the answer of a notebook 01 saved in `folder`."""
    imports, tests = _public_cells()
    saved = write_notebook(folder / NOTEBOOK_01, answer(body))
    failed = {}
    for grade_id, source in tests.items():
        namespace = {}
        exec(imports, namespace)
        namespace = run_answer(saved, names=namespace)
        try:
            exec(source, namespace)
        except AssertionError as error:
            failed[grade_id] = str(error)
    return failed


def test_the_reference_solution_passes_every_public_cell(tmp_path):
    assert failures(tmp_path, reference_solution()) == {}


@pytest.mark.parametrize(("body", "cell", "words"), [
    (ADDS_AFTER_ZEROS, "test-weights-gradient",
     "grad_weights doubled when backward ran twice on the same batch"),
    (ADDS_TO_BIAS, "test-bias-gradient",
     "grad_bias doubled when backward ran twice on the same batch"),
    (AVERAGED_BIAS, "test-bias-gradient", "grad_bias is 1/4 of the numerical gradient"),
])
def test_a_wrong_gradient_fails_its_own_test_and_the_sizes_test_only(tmp_path, body, cell,
                                                                      words):
    """An accumulating backward no longer passes 5 of the 6 cells: the test about the
    gradient it accumulates names it."""
    failed = failures(tmp_path, body)

    assert set(failed) == {cell, "test-sizes"}
    assert words in " ".join(failed[cell].split())


def test_adding_to_a_fresh_gradient_is_named_in_every_cell_with_its_line(tmp_path):
    failed = failures(tmp_path, ADDS_ON_A_FRESH_LAYER)

    assert set(failed) == {"test-shapes", "test-input-gradient", "test-weights-gradient",
                           "test-bias-gradient", "test-parameters-unchanged", "test-sizes"}
    for message in failed.values():
        message = " ".join(message.split())
        assert "on the line `self.grad_weights += self.input.T @ grad`" in message
        assert "Gradients are assigned, never accumulated" in message


def test_a_notebook_shows_the_failure_and_the_students_line_not_a_traceback(tmp_path):
    """In a real kernel, a test cell's error is the message alone, quoting the line of the
    answer cell that raised (IPython keeps the cell's source where the checker reads it)."""
    notebook = nbformat.read(SOURCE_NOTEBOOK_01, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "linear-backward":
            cell.source = answer(NO_TRANSPOSE)
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n", "",
                                 cell.source, flags=re.S)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.outputs
               for cell in notebook.cells if cell.cell_type == "code"}

    [error] = [output for output in outputs["test-input-gradient"]
               if output.output_type == "error"]

    assert error.ename == PublicTestFailure.__name__
    assert error.traceback == [f"PublicTestFailure: {error.evalue}"]
    assert "on the line `return grad @ self.weights`" in error.evalue
    assert "`grad @ self.weights.T` has that shape" in error.evalue
