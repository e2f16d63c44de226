"""Notebooks 02-05 load the student's Linear from the saved notebook 01, or explain in one
message, naming notebook 01, what is wrong and what to do."""

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_factory import (
    AVERAGED_BIAS,
    answer,
    reference_answer,
    release_answer,
    write_notebook,
)

import digitlab
from digitlab.student import NOTEBOOK_01, StudentCodeError, load_student_linear

# A line the parser stops at: the closing parenthesis is missing.
UNCLOSED = "self.grad_weights = (self.input.T @ grad"


def test_a_correct_class_loads_and_trains(tmp_path):
    """The reference answer loads as a digitlab.Linear and trains for an epoch."""
    notebook = write_notebook(tmp_path / NOTEBOOK_01, reference_answer())

    linear = load_student_linear(notebook)
    _, history = digitlab.train(digitlab.TrainingSettings(max_epochs=1),
                                digitlab.load_digits(), linear=linear)

    assert issubclass(linear, digitlab.Linear)
    assert history.epochs == 1


def _line_of(line: str, source: str) -> int:
    """The 1-based number of the line of `source` that ends with `line`."""
    return next(number for number, text in enumerate(source.splitlines(), 1)
                if text.endswith(line))


def _saved(source, grade_id="linear-backward"):
    """Writes a notebook whose answer cell holds `source` (or what calling it returns)."""
    return lambda folder: write_notebook(folder / NOTEBOOK_01,
                                         source() if callable(source) else source, grade_id)


def _text(content):
    """Writes `content` where notebook 01 should be."""
    return lambda folder: (folder / NOTEBOOK_01).write_text(content, encoding="utf-8")


BROKEN = {
    # case: (writes notebook 01 into a folder, phrases the message must contain)
    "missing file": (lambda folder: None,
                     ["is not here", "save notebook 01 before you run this one"]),
    "not JSON": (_text("{ this is not a notebook"),
                 ["cannot be read as a notebook", "Open it in JupyterLab"]),
    "JSON but no cells": (_text('{"metadata": {}}'),
                          ["cannot be read as a notebook", "fresh copy"]),
    "answer cell deleted": (_saved(reference_answer(), grade_id="cell-1234"),
                            ["has no answer cell with id 'linear-backward'",
                             "fresh copy of the notebook"]),
    "release stub": (_saved(release_answer),  # called only when the case runs: nbgrader is slow
                     ["is not written yet, or not saved", "save the notebook (Ctrl+S)"]),
    "syntax error": (_saved(answer(UNCLOSED)),
                     [f"fails to run on line {_line_of(UNCLOSED, answer(UNCLOSED))}: "
                      "SyntaxError", "Fix it there, save"]),
    "raises at import": (_saved(answer(AVERAGED_BIAS, after="scale = 1 / 0\n")),
                         ["fails to run: ZeroDivisionError: division by zero",
                          "Fix it there, save"]),
    "no class Linear": (_saved("import digitlab\n\n\nclass MyLinear(digitlab.Linear):\n"
                               "    pass\n"),
                        ["no longer defines `class Linear`", "class Linear(digitlab.Linear):"]),
    "constructor fails": (_saved("import digitlab\n\n\nclass Linear(digitlab.Linear):\n"
                                 "    def __init__(self, sizes):\n"
                                 "        super().__init__(*sizes)\n"),
                          ["cannot be built as a 6->4 layer: TypeError"]),
    "returns a tuple": (_saved(answer(AVERAGED_BIAS.replace(
                            "return grad @ self.weights.T",
                            "return grad @ self.weights.T, self.grad_weights"))),
                        ["fails the gradient check", "backward returned a tuple of 2 items"]),
    "wrong backward": (_saved(answer(AVERAGED_BIAS)),
                       ["fails the gradient check", "Fix it there, save",
                        "Gradient check of Linear(6 -> 4) on a batch of 3", "FAIL",
                        "grad_bias is 1/3 of the numerical gradient, a factor of the batch"]),
}


@pytest.mark.parametrize(("write", "phrases"), BROKEN.values(), ids=BROKEN)
def test_each_problem_gives_one_message_that_names_notebook_01(tmp_path, write, phrases):
    """Every failure is a StudentCodeError naming notebook 01 and saying what to do, with no
    chained exception for IPython to print under it."""
    write(tmp_path)

    with pytest.raises(StudentCodeError) as caught:
        load_student_linear(tmp_path / NOTEBOOK_01)

    message = str(caught.value)
    assert NOTEBOOK_01 in message
    for phrase in phrases:
        assert phrase in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_the_rendered_traceback_is_the_message_alone(tmp_path):
    """IPython shows _render_traceback_ instead of a traceback: it is the message, every line."""
    write_notebook(tmp_path / NOTEBOOK_01, answer(AVERAGED_BIAS))
    with pytest.raises(StudentCodeError) as caught:
        load_student_linear(tmp_path / NOTEBOOK_01)

    rendered = "\n".join(caught.value._render_traceback_())

    assert rendered == f"StudentCodeError: {caught.value}"
    assert "Traceback" not in rendered
    assert len(rendered.splitlines()) > 3  # the gradient checker's report is in it


def test_a_kernel_shows_the_message_without_the_loaders_frames(tmp_path):
    """In a real kernel the error output of a failed load is the message and nothing else."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'from digitlab.student import load_student_linear\n'
        'load_student_linear("missing.ipynb")')])
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    [error] = [output for output in notebook.cells[0].outputs if output.output_type == "error"]

    assert error.ename == "StudentCodeError"
    assert error.traceback == [f"StudentCodeError: {error.evalue}"]
    assert error.evalue.startswith("missing.ipynb is not here.")
    assert "student.py" not in "".join(error.traceback)
