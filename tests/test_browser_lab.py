"""Notebook 02's learning-rate panel works in real JupyterLab, driven by headless Chromium.

The test opens a copy of the source notebooks in JupyterLab, runs all cells from the Run
menu, sets the step size through the slider's editable readout, clicks Train, and checks
that the learning curves, a new run-history entry and the run's settings line appear. The
run must also be recorded as ordinary output of the panel's cell: after a save, the notebook
file holds the run's settings line and, as a PNG, the very figure the panel showed; reopened
without its kernel, the notebook shows both. The times from the click to the first figure,
the final figure and the recorded run go to timing.txt beside the screenshots of every
step, in test-artifacts/browser/<test name>/.

The negative control runs the same steps with the ipywidgets manager disabled: the panel
then shows as plain text, and the step that finds the panel must fail. It proves that the
real test cannot pass without live widgets.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import nbformat
import pytest
from lab_browser import (
    ARTIFACTS,
    REPO,
    STEP_MS,
    LabPage,
    chromium_context,
    lab_server,
    require_browser,
)

pytestmark = pytest.mark.browser

SOURCE = REPO / "notebooks" / "digit-lab"
NOTEBOOK = "02-learning-rate.ipynb"
PANEL = ".digitlab-learning-rate-panel"
PANEL_CELL_ID = "panel-02"  # the source notebook's cell that shows the panel
PANEL_CELL_SOURCE = "LearningRatePanel(data"  # text in that cell, to find it when reopened
# Not the default (0.01), so the settings line proves the value reached the kernel; typed
# exactly as the readout should show it.
STEP_SIZE = "0.05"
PERCENTAGE = re.compile(r"\d+(\.\d+)?\s*%")
# Widgets without their manager: Lab shows the panel's text/plain stand-in instead.
PLAIN_TEXT_FALLBACK = re.compile(r"an interactive panel|Loading widget")


class PanelNotFound(AssertionError):
    """No live learning-rate panel showed up in the notebook."""


@contextmanager
def notebook_run(tmp_path: Path, shots: str, *, widgets: bool = True) -> Iterator[LabPage]:
    """Notebook 02 open in Lab in Chromium, after Run All Cells has been sent.

    Serves a copy of the source notebooks (02 loads the student's Linear from 01 in the
    same folder). On failure a last screenshot is taken; the server log and the browser
    console are saved next to the screenshots either way."""
    require_browser()
    from playwright.sync_api import expect

    expect.set_options(timeout=STEP_MS)  # a run can take a while on two shared cores
    root = copy_without_outputs(SOURCE, tmp_path / "digit-lab")
    with (lab_server(root, tmp_path / "lab", widgets=widgets) as server,
          chromium_context(tmp_path / "profile") as context):
        lab = LabPage(context.new_page(), server, ARTIFACTS / shots)
        try:
            lab.open_notebook(NOTEBOOK)
            lab.wait_for_kernel()
            lab.run_all_cells()
            yield lab
        except BaseException:
            with suppress(Exception):  # a dead page must not hide the first error
                lab.screenshot("failed")
            raise
        finally:
            lab.save_logs()


def copy_without_outputs(source: Path, destination: Path) -> Path:
    """The notebooks as students get them (nbgrader clears outputs): no saved output, image
    or execution count can then pass for one made during the test."""
    destination.mkdir()
    for path in source.glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        notebook.metadata.pop("widgets", None)  # saved widget state, likewise
        nbformat.write(notebook, destination / path.name)
    return destination


def find_panel(lab: LabPage, timeout_ms: float):
    """The live learning-rate panel, scrolled into view; PanelNotFound if none shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    panel = lab.page.locator(PANEL)
    try:
        panel.wait_for(state="visible", timeout=timeout_ms)
    except PlaywrightTimeout:
        raise PanelNotFound(f"no visible {PANEL} after {timeout_ms / 1000:.0f} s") from None
    panel.scroll_into_view_if_needed()
    return panel


def test_learning_rate_panel_trains_in_real_jupyterlab(tmp_path):
    from playwright.sync_api import expect

    with notebook_run(tmp_path, "learning-rate-panel") as lab:
        page = lab.page
        lab.wait_for_all_cells()
        panel = find_panel(lab, timeout_ms=60_000)
        slider = panel.locator(".digitlab-step-size")
        train = panel.locator(".digitlab-train")
        expect(slider).to_contain_text("Step size")
        expect(train).to_have_text("Train")
        expect(panel.locator(".digitlab-stop")).to_have_text("Stop")
        expect(panel.locator(".digitlab-progress")).to_be_attached()
        lab.screenshot("panel")

        # Type the exact value into the slider's editable readout: dragging can't hit 0.05.
        readout = slider.locator(".widget-readout")
        readout.scroll_into_view_if_needed()
        readout.fill(STEP_SIZE)
        readout.press("Enter")
        # The readout may pad with zeros ("0.0500"); the settings line below checks the value.
        expect(readout).to_have_text(re.compile(rf"^\s*{re.escape(STEP_SIZE)}0*\s*$"))
        lab.screenshot("step-size-set")

        # The run history is a multiple-selection list: one <option> per finished run. It
        # starts with the notebook's own runs, so count before and after.
        entries = panel.locator(".digitlab-history option")
        before = entries.count()
        old_image = page.evaluate(IMAGE_SOURCE)

        # Exactly our value: "step_size=0.05" alone would also match 0.0501187 (10**-1.3).
        exact_step = re.compile(rf"{re.escape(STEP_SIZE)}(?!\d)")
        settings_line = re.compile(rf"TrainingSettings\([^)]*step_size={exact_step.pattern}")
        recorded_text = lab.cell_outputs(PANEL_CELL_SOURCE, "text/plain").filter(
            has_text=settings_line)
        recorded_image = lab.cell_outputs(PANEL_CELL_SOURCE, "image/png").locator("img")
        expect(recorded_image).to_have_count(0)  # nothing recorded before the run

        train.scroll_into_view_if_needed()
        started = time.monotonic()
        train.click()
        # A new figure: an <img> whose source differs from any shown before the click, and
        # that has really loaded (a broken image has natural width 0). The first may be live.
        page.wait_for_function(f"old => ({IMAGE_SOURCE})() !== old", arg=old_image)
        first_seconds = time.monotonic() - started
        # The final figure: the status says the run finished only after its last picture.
        page.wait_for_function(FINAL_FIGURE, arg=old_image)
        final_seconds = time.monotonic() - started
        timing = lab.shots / "timing.txt"
        timing.write_text(f"Train click to first learning-curve image: {first_seconds:.2f} s; "
                          f"to final figure: {final_seconds:.2f} s\n")
        recorded_image.wait_for(timeout=30_000)
        with timing.open("a") as file:
            file.write("Train click to the run recorded in the cell's output: "
                       f"{time.monotonic() - started:.2f} s\n")
        print(timing.read_text())
        lab.screenshot("final-figure")
        final_figure = base64.b64decode(page.evaluate(IMAGE_BYTES))

        status = panel.locator(".digitlab-status")
        expect(status).to_contain_text(settings_line)
        status.scroll_into_view_if_needed()
        lab.screenshot("status")

        expect(entries).to_have_count(before + 1)
        newest = entries.nth(before).inner_text()
        assert exact_step.search(newest), newest
        assert PERCENTAGE.search(newest), newest
        assert entries.count() == before + 1  # still one new run, not two
        panel.locator(".digitlab-history").scroll_into_view_if_needed()
        lab.screenshot("history")

        # The run is also ordinary output of the panel's cell, outside the widget: its
        # settings line and its picture, which the saved file keeps.
        expect(recorded_text).to_have_count(1)
        expect(recorded_image).to_have_count(1)
        recorded_image.scroll_into_view_if_needed()
        lab.screenshot("recorded-run")
        lab.save_notebook()
        outputs = saved_outputs(lab.server.root_dir / NOTEBOOK, PANEL_CELL_ID, settings_line)
        texts = [text for text, _ in outputs if text is not None]
        pictures = [png for _, png in outputs if png is not None]
        assert len(texts) == 1 and PERCENTAGE.search(texts[0]), texts
        assert pictures == [final_figure], "the saved picture is not the panel's final figure"

        # Reopened without its kernel, the notebook shows the run from the file alone.
        lab.reopen_without_kernel(NOTEBOOK)
        reopened_text = lab.cell_outputs(PANEL_CELL_SOURCE, "text/plain").filter(
            has_text=settings_line)
        expect(reopened_text).to_have_count(1)
        reopened_image = lab.cell_outputs(PANEL_CELL_SOURCE, "image/png").locator("img")
        expect(reopened_image).to_have_count(1)
        reopened_text.evaluate("output => output.scrollIntoView({block: 'start'})")
        expect(reopened_image).to_be_visible()
        assert reopened_image.evaluate("img => img.complete && img.naturalWidth") > 0
        lab.screenshot("reopened-recorded-run")


def saved_outputs(path: Path, cell_id: str, settings_line: re.Pattern
                  ) -> list[tuple[str | None, bytes | None]]:
    """The display outputs of cell_id in the notebook file that record a run: (text, None)
    for a text that holds settings_line, (None, PNG bytes) for a picture."""
    notebook = nbformat.read(path, as_version=4)
    (cell,) = [cell for cell in notebook.cells if cell.get("id") == cell_id]
    found = []
    for output in cell.outputs:
        if output.output_type != "display_data":
            continue
        if "image/png" in output.data:
            found.append((None, base64.b64decode(output.data["image/png"])))
        elif settings_line.search(output.data.get("text/plain", "")):
            found.append((output.data["text/plain"], None))
    return found


# The loaded figure's source, or null: the panel's Image widget carries the class itself.
IMAGE_SOURCE = f"""() => {{
    const img = document.querySelector('{PANEL} :is(img.digitlab-plot, .digitlab-plot img)');
    return img && img.complete && img.naturalWidth > 0 ? img.src : null;
}}"""
# True once the status says the run finished and a new figure has loaded: the panel writes
# the status after the final figure, and the browser gets them in that order.
FINAL_FIGURE = f"""old => {{
    const status = document.querySelector('{PANEL} .digitlab-status');
    const source = ({IMAGE_SOURCE})();
    return /Finished/.test(status.textContent) && source !== null && source !== old;
}}"""


# The shown figure's PNG file, base64-encoded, as the kernel sent it.
IMAGE_BYTES = f"""async () => {{
    const img = document.querySelector('{PANEL} :is(img.digitlab-plot, .digitlab-plot img)');
    const blob = await (await fetch(img.src)).blob();
    return await new Promise(done => {{
        const reader = new FileReader();
        reader.onload = () => done(reader.result.split(",")[1]);
        reader.readAsDataURL(blob);
    }});
}}"""


def test_negative_control_without_the_widget_manager_the_panel_is_not_found(tmp_path):
    """The same steps with ipywidgets' manager disabled must fail at finding the panel."""
    from playwright.sync_api import expect

    with notebook_run(tmp_path, "negative-control-no-widgets", widgets=False) as lab:
        lab.wait_for_all_cells()
        fallback = lab.page.locator(".jp-OutputArea-output", has_text=PLAIN_TEXT_FALLBACK
                                    ).filter(has_text="Step size")  # the panel's, no other
        expect(fallback.first).to_be_visible()
        fallback.first.scroll_into_view_if_needed()
        lab.screenshot("plain-text-fallback")
        with pytest.raises(PanelNotFound):
            find_panel(lab, timeout_ms=10_000)
