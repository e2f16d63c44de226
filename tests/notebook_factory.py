"""One-cell copies of notebook 01 whose answer cell holds the code a test chooses.

Every answer starts from the answer cell of the source notebook, so the imports, the class
line and the docstring are the ones students see; only the solution region changes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from reference import SOURCE_NOTEBOOK_01

from digitlab.student import ANSWER_CELL_ID

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# The mistake in the seed write-up: the bias gradient divided by the batch size.
AVERAGED_BIAS = """\
self.grad_weights = self.input.T @ grad
self.grad_bias = grad.mean(axis=0, keepdims=True)
return grad @ self.weights.T
"""


def _source_cell() -> nbformat.NotebookNode:
    notebook = nbformat.read(SOURCE_NOTEBOOK_01, as_version=4)
    return next(cell for cell in notebook.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == ANSWER_CELL_ID)


def reference_answer() -> str:
    """The answer cell of the source notebook: the reference solution."""
    return _source_cell().source


def reference_solution() -> str:
    """The solution region of the source answer cell, dedented: the body of a correct backward."""
    _, rest = reference_answer().split(BEGIN)
    return textwrap.dedent(rest.split(END)[0].split("\n", 1)[1])


def release_answer() -> str:
    """The answer cell as students receive it, made by nbgrader's own ClearSolutions."""
    from nbgrader.preprocessors import ClearSolutions  # slow to import: only when asked

    notebook = nbformat.v4.new_notebook(cells=[_source_cell()])
    notebook, _ = ClearSolutions().preprocess(notebook, {})
    return notebook.cells[0].source


def answer(solution: str, *, after: str = "") -> str:
    """The reference answer cell with `solution` in place of the solution region, indented
    to fit inside backward, and `after` appended as top-level code after the class."""
    head, rest = reference_answer().split(BEGIN)
    _, tail = rest.split(END)
    indent = head[head.rindex("\n") + 1:]
    body = textwrap.indent(textwrap.dedent(solution).strip(), indent)
    top_level = "\n\n" + textwrap.dedent(after) if after else ""
    return head[:len(head) - len(indent)] + body + tail.rstrip() + "\n" + top_level


def write_notebook(path: Path, source: str, grade_id: str = ANSWER_CELL_ID) -> Path:
    """Save a notebook at `path` whose only cell is an nbgrader answer cell holding `source`."""
    metadata = {"nbgrader": {"grade_id": grade_id, "solution": True, "grade": False,
                             "locked": False, "schema_version": 3, "task": False}}
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source, metadata=metadata)])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
