"""Every source notebook runs top to bottom with the reference solutions in a real kernel,
and shows what its prose promises: passing tests, figures and a valid submission."""

import shutil

import nbformat
import pytest
from course_builder import KEY, NOTEBOOKS, SOURCE, grade_id
from nbclient import NotebookClient

from digitlab.competition import submission_accuracy
from digitlab.testing import PUBLIC_PASS


def outputs_of(cell) -> str:
    return "".join(output.get("text", "") + output.get("evalue", "")
                   for output in cell.get("outputs", []))


@pytest.fixture(scope="module")
def lab_folder(tmp_path_factory):
    """A copy of the assignment folder: running notebook 05 writes submission.csv."""
    folder = tmp_path_factory.mktemp("digit-lab")
    for name in NOTEBOOKS:
        shutil.copy(SOURCE / name, folder)
    return folder


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_source_notebook_runs_with_its_solutions(name, lab_folder, monkeypatch):
    monkeypatch.setenv("DIGITLAB_ANSWER_KEY", str(KEY))  # the kernel inherits it
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    notebook = nbformat.read(lab_folder / name, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(lab_folder)}}).execute()
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
