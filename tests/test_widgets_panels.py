"""What every panel promises: it shows under nbgrader but never trains, every control and
button says what it is, for screen readers and keyboard users, and in a kernel each run is
recorded in the panel's own cell."""

import base64
import os
import queue
from pathlib import Path

import ipywidgets as widgets
import pytest
from jupyter_client.manager import start_new_kernel
from reference import ReferenceLinear

from digitlab.widgets import CompetitionPanel, DepthPanel, LearningRatePanel, SeedPanel

PANELS = {
    "learning-rate": lambda data, **kw: LearningRatePanel(data, **kw),
    "depth": lambda data, **kw: DepthPanel(data, **kw),
    "seed": lambda data, **kw: SeedPanel(data, summarize=lambda accuracies: (0, 0, 0, 0), **kw),
    "competition": lambda data, **kw: CompetitionPanel(data, **kw),
}


def widgets_in(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from widgets_in(child)


@pytest.mark.parametrize("kind", PANELS)
def test_under_nbgrader_a_panel_shows_its_controls_and_never_trains(kind, data, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    calls = []
    for module in ("_single_run", "seeds"):
        monkeypatch.setattr(f"digitlab.widgets.{module}.train",
                            lambda *args, **kwargs: calls.append(args))
    panel = PANELS[kind](data, linear=ReferenceLinear)
    panel.train_button.click()
    assert panel.wait(1) and calls == [] and panel._job is None
    assert panel.train_button.disabled and "nbgrader" in panel.status.value
    assert set(panel.controls.values()) <= set(widgets_in(panel.root))
    assert f"digitlab-{kind}-panel" in panel.root._dom_classes


@pytest.mark.parametrize("kind", PANELS)
def test_every_control_and_button_is_described(kind, data, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    panel = PANELS[kind](data, linear=ReferenceLinear)
    # Pictures, text and the progress bar are read, not operated; everything else is a control.
    shown = (widgets.HTML, widgets.Image, widgets.IntProgress)
    controls = [widget for widget in widgets_in(panel.root)
                if isinstance(widget, (widgets.Button, widgets.ValueWidget))
                and not isinstance(widget, shown)]
    assert len(controls) >= 6
    for widget in controls:
        assert widget.description and widget.tooltip, widget


# The kernel's side of a click on Train in the browser: a comm message to the button.
CLICK = {"method": "custom", "content": {"event": "click"}}


def test_a_run_is_recorded_in_the_cell_that_made_the_panel(tmp_path):
    """In a real kernel, a click on Train (the comm message a browser sends) trains in the
    panel's thread after other cells have run, and the run still goes to the panel's cell:
    its status and settings line, then its learning curves as a PNG. The browser test
    checks that JupyterLab shows and saves it (tests/test_browser_lab.py)."""
    environment = {name: value for name, value in os.environ.items()
                   if name != "NBGRADER_EXECUTION"}
    manager, client = start_new_kernel(kernel_name="python3", env=environment)
    try:
        panel_cell = client.execute(
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "import digitlab\n"
            "from reference import ReferenceLinear\n"
            "from digitlab.widgets import LearningRatePanel\n"
            "panel = LearningRatePanel(digitlab.load_digits(), linear=ReferenceLinear,\n"
            "    settings=digitlab.TrainingSettings(max_epochs=2))\n"
            "panel")
        later_cell = client.execute("print(panel.train_button.model_id)")
        model_id = ""
        shown: dict[str, list[dict]] = {}  # display_data by the request they answer
        while len(shown.get(panel_cell, [])) < 2:
            try:
                message = client.get_iopub_msg(timeout=120)
            except queue.Empty:
                pytest.fail(f"no record in the panel's cell; display_data seen: {shown}")
            parent = message["parent_header"].get("msg_id")
            content = message["content"]
            if message["msg_type"] == "stream" and parent == later_cell:
                model_id += content["text"].strip()
            elif (message["msg_type"] == "status" and parent == later_cell
                  and content["execution_state"] == "idle"):
                client.shell_channel.send(client.session.msg(
                    "comm_msg", {"comm_id": model_id, "data": CLICK}))
            elif message["msg_type"] == "display_data":
                shown.setdefault(parent, []).append(content["data"])
        text, picture = shown.pop(panel_cell)
        assert shown == {}  # nothing went to the later cell or to the click
        assert text["text/plain"].startswith("Finished 2 epochs: final validation accuracy")
        assert "\nSettings line: TrainingSettings(" in text["text/plain"]
        assert "max_epochs=2" in text["text/plain"]
        assert base64.b64decode(picture["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_each_panel_is_found_by_its_name_and_a_wrong_name_is_named():
    import digitlab.widgets

    assert [getattr(digitlab.widgets, name).__name__ for name in digitlab.widgets.__all__] == [
        "CompetitionPanel", "DepthPanel", "LearningRatePanel", "SeedPanel"]
    with pytest.raises(AttributeError, match="no attribute 'SeedsPanel'"):
        digitlab.widgets.SeedsPanel  # noqa: B018 - the lookup is the test
