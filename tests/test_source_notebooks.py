"""Every source notebook runs top to bottom with the reference solutions in a real kernel,
and shows what its prose promises: passing tests, figures and a valid submission.

The run is `digitlab preview`'s (conftest's source_preview, which test_preview reads too): it
runs each notebook with nbclient in a fresh kernel, outside nbgrader and with the answer key,
in a copy of the assignment folder that it keeps with the ran notebooks and their files."""

import nbformat
import pytest
from course_builder import ASSIGNMENT, KEY, NOTEBOOKS, grade_id

from digitlab.competition import submission_accuracy
from digitlab.testing import PUBLIC_PASS


def outputs_of(cell) -> str:
    return "".join(output.get("text", "") + output.get("evalue", "")
                   for output in cell.get("outputs", []))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_source_notebook_runs_with_its_solutions(name, source_preview):
    run, _, out = source_preview
    assert f"{name}: ran in " in run.stdout, run.stdout + run.stderr  # not "FAILED in"
    lab_folder = out / f"ran-{ASSIGNMENT}"
    notebook = nbformat.read(lab_folder / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output for cell in code for output in cell.outputs
              if output.output_type == "error" or output.get("name") == "stderr"]
    assert errors == []
    tests = [cell for cell in code if cell.metadata.get("nbgrader", {}).get("grade")]
    assert all(grade_id(cell).startswith("test-") for cell in tests)
    text = "".join(outputs_of(cell) for cell in code)
    assert "Skipped while nbgrader" not in text
    if name.startswith("01"):
        assert text.count(PUBLIC_PASS) == len(tests)
    else:
        assert "it passes the gradient check" in text
        figures = [output for cell in code for output in cell.outputs
                   if "image/png" in output.get("data", {})]
        assert len(figures) >= 2
    if name.startswith("05"):
        assert submission_accuracy(lab_folder / "submission.csv", KEY) >= 0.91
        assert text.count("Competition accuracy:") == 3
