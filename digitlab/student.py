"""Bring the student's Linear from notebook 01 into notebooks 02-05.

Each notebook runs in its own kernel, so a class defined in notebook 01 does not exist in
the others. They read the saved notebook 01 instead, run its answer cell, and check the
class with the gradient checker before training with it. Everything that can go wrong ends
in one StudentCodeError whose message names notebook 01 and says what to do; notebooks
show it without a traceback.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import os
from pathlib import Path

import numpy as np

from digitlab.gradcheck import check_layer
from digitlab.layers import Linear

NOTEBOOK_01 = "01-linear-backward.ipynb"
ANSWER_CELL_ID = "linear-backward"
# A non-square and a square layer: a transposed gradient passes the shapes only on the second.
CHECK_SHAPES = ((6, 4), (5, 5))
# While a student is graded, the answers that already ran out of time there: a JSON object
# {code_digest(source): why}, set by the grader (digitlab.course.sandbox.budget) in the
# environment of every later kernel and check. Such code is not run again: it fails at once
# with the same reason, instead of using up the grading time a second time.
HUNG_CODE_VARIABLE = "DIGITLAB_HUNG_CODE"


class StudentCodeError(Exception):
    """The student's code from notebook 01 is missing, broken or wrong."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the student needs the message,
        # not the frames of the loader that found the problem.
        return [f"{type(self).__name__}: {self}"]


def answer_source(notebook: str | Path = NOTEBOOK_01, grade_id: str = ANSWER_CELL_ID) -> str:
    """The source of the cell with nbgrader grade id `grade_id` in a saved notebook."""
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        raise StudentCodeError(
            f"{path} is not here. Keep the five notebooks of the lab together in one folder, "
            "and save notebook 01 before you run this one."
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise StudentCodeError(
            f"{path} cannot be read as a notebook ({error}). Open it in JupyterLab; if it "
            "does not open, copy your answer into a fresh copy of the notebook from the release."
        ) from None
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else source
    raise StudentCodeError(
        f"{path} has no answer cell with id '{grade_id}': it may have been deleted or "
        "replaced. Copy your code into the answer cell of a fresh copy of the notebook."
    )


def code_digest(source: str) -> str:
    """What identifies an answer's code, wherever it is copied: a digest of its source."""
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def _hung_before(source: str) -> str | None:
    """Why this code ran out of time earlier in the same grading; None if it did not."""
    try:
        hung = json.loads(os.environ.get(HUNG_CODE_VARIABLE) or "{}")
    except ValueError:
        return None
    return hung.get(code_digest(source)) if isinstance(hung, dict) else None


def run_answer(notebook: str | Path = NOTEBOOK_01, grade_id: str = ANSWER_CELL_ID,
               names: dict | None = None) -> dict:
    """Run the answer cell in a namespace of its own; returns that namespace.

    names: what earlier cells of the notebook define and the answer may use (np, say).
    Raises StudentCodeError at once for code that already ran out of time while grading.
    """
    source = answer_source(notebook, grade_id)
    if hung := _hung_before(source):
        raise StudentCodeError(f"Not run again while grading: {hung}")
    namespace = {"__name__": "notebook_01", **(names or {})}
    # Named by notebook and grade id, so that the grader can tell whose code a traceback ran.
    filename = f"{notebook} (answer cell {grade_id})"
    # Registered so that the gradient checker can quote the line of the answer that raised.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    try:
        exec(compile(source, filename, "exec"), namespace)
    except Exception as error:
        where = f" on line {error.lineno}" if isinstance(error, SyntaxError) else ""
        raise StudentCodeError(
            f"The answer cell of {notebook} fails to run{where}: "
            f"{type(error).__name__}: {error}. Fix it there, save, and rerun this cell."
        ) from None
    return namespace


def student_linear_class(notebook: str | Path = NOTEBOOK_01) -> type:
    """The class Linear, a subclass of digitlab.Linear, that the answer cell defines.

    Raises StudentCodeError when the cell does not run or defines no such class.
    """
    linear = run_answer(notebook).get("Linear")
    if not (isinstance(linear, type) and issubclass(linear, Linear)):
        raise StudentCodeError(
            f"The answer cell of {notebook} no longer defines `class Linear`. Restore the "
            "class line `class Linear(digitlab.Linear):` above your backward, and save."
        )
    return linear


def load_student_linear(notebook: str | Path = NOTEBOOK_01) -> type:
    """The student's Linear class from notebook 01, after it passes the gradient check.

    Pass it to training as `train(settings, data, linear=Linear)`.
    Raises StudentCodeError when the code is missing, does not run, or fails the check.
    """
    linear = student_linear_class(notebook)
    for in_dim, out_dim in CHECK_SHAPES:
        try:
            layer = linear(in_dim, out_dim, np.random.default_rng(0))
        except Exception as error:  # e.g. a broken __init__ the student added
            raise StudentCodeError(
                f"Your Linear from {notebook} cannot be built as a {in_dim}->{out_dim} layer: "
                f"{type(error).__name__}: {error}."
            ) from None
        report = check_layer(layer, batch_size=3)  # reports a broken backward, never raises
        if not report.passed:
            raise StudentCodeError(_failure_message(notebook, report))
    return linear


def _failure_message(notebook, report) -> str:
    if any("not implemented" in problem for problem in report.problems):
        return (f"Linear.backward in {notebook} is not written yet, or not saved. "
                "Write it there, save the notebook (Ctrl+S), and rerun this cell.")
    return (f"Your Linear.backward in {notebook} fails the gradient check, so training with "
            f"it would not be meaningful. Fix it there, save, and rerun this cell.\n{report}")

