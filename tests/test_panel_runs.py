"""The panel runs a student recorded survive autograde, so formgrader and the feedback show
them; what only pretends to be a record (HTML, a broken picture, no mark) does not."""

import base64
import subprocess
import sys

import nbformat
import pytest
from course_builder import ASSIGNMENT, copy_generated, nbgrader, solved_release, submit
from nbformat.v4 import new_output
from reference import ReferenceLinear

import digitlab
from digitlab.course.grading.panel_runs import is_record
from digitlab.plots import learning_curves, png_bytes
from digitlab.widgets._cell_output import RECORD_KEY

NOTEBOOK = "02-learning-rate"
PANEL_CELL = "panel-02"
SETTINGS_LINE = "Settings line: TrainingSettings(num_layers=2, step_size=0.05)"


def record(data: dict) -> nbformat.NotebookNode:
    """A display_data output as a panel writes it."""
    return new_output("display_data", data=data, metadata={RECORD_KEY: True})


@pytest.fixture(scope="module")
def picture(data):
    _, history = digitlab.train(digitlab.TrainingSettings(max_epochs=2), data,
                                linear=ReferenceLinear)
    return base64.b64encode(png_bytes(learning_curves(history))).decode("ascii")


def test_only_marked_pictures_and_text_count_as_records(picture):
    assert is_record(record({"text/plain": "Finished 2 epochs.\n" + SETTINGS_LINE}))
    assert is_record(record({"image/png": picture, "text/plain": "[curves of the run]"}))
    assert not is_record(new_output("display_data", data={"image/png": picture}))  # no mark
    assert not is_record(record({"text/html": "<script>alert(1)</script>"}))
    assert not is_record(record({"image/png": picture, "text/html": "<b>run</b>"}))
    assert not is_record(record({"image/png": base64.b64encode(b"GIF89a").decode()}))
    assert not is_record(record({"image/png": "not base64!"}))
    assert not is_record(new_output("stream", name="stdout", text=SETTINGS_LINE))


def test_recorded_runs_reach_the_autograded_notebook_and_the_feedback(generated_course, tmp_path,
                                                                      picture):
    course = copy_generated(generated_course, tmp_path / "course")
    text = record({"text/plain": "Finished 30 epochs: final validation accuracy 90.2%.\n"
                                 + SETTINGS_LINE})
    image = record({"image/png": picture, "text/plain": "[curves of the run]"})
    forged = record({"text/html": "<b id='forged'>a run that never was</b>"})
    plain = new_output("stream", name="stdout", text="cleared as always\n")

    def record_runs(notebooks):
        (cell,) = [cell for cell in notebooks[f"{NOTEBOOK}.ipynb"].cells
                   if cell.get("id") == PANEL_CELL]
        cell.outputs = [plain, text, forged, image]

    submit(course, "runner", solved_release(course), change=record_runs)
    for step in ("autograde", "generate_feedback"):
        nbgrader(course, step, ASSIGNMENT, "--student", "runner", "--notebook", NOTEBOOK)

    graded = nbformat.read(course / "autograded" / "runner" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                           as_version=4)
    (cell,) = [cell for cell in graded.cells if cell.get("id") == PANEL_CELL]
    assert [output for output in cell.outputs if output.get("metadata", {}).get(RECORD_KEY)
            ] == [text, image]  # after the panel's own output, in order, the forgery gone
    assert "cleared as always" not in str(cell.outputs)
    assert "digitlab_panel_runs" not in graded.metadata
    feedback = (course / "feedback" / "runner" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert SETTINGS_LINE in feedback
    assert picture in feedback and "forged" not in feedback


def test_the_grader_reads_the_record_key_without_loading_the_panels():
    # Every autograde imports this step: ipywidgets and matplotlib would cost it 0.8 s.
    probe = ("import sys, digitlab.course.grading.panel_runs; "
             "print(sorted({'ipywidgets', 'matplotlib'} & set(sys.modules)))")
    run = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr
