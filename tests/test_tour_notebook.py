"""The notebook that `python3 dev.py lab` opens runs top to bottom in a real kernel."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

TOUR = Path(__file__).resolve().parents[1] / "notebooks" / "tour.ipynb"


def test_the_tour_runs_and_shows_data_gallery_and_checker():
    notebook = nbformat.read(TOUR, as_version=4)
    NotebookClient(notebook, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(TOUR.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    texts = "\n".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                      for output in outputs)
    assert "DigitData(train=3000, validation=1000, test=1000 unlabelled" in texts
    assert "backward is not implemented yet" in texts
    assert any("image/png" in output.get("data", {}) for output in outputs)
