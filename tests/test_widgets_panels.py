"""What every panel promises: it shows under nbgrader but never trains, and every control
and button says what it is, for screen readers and keyboard users."""

import ipywidgets as widgets
import pytest
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
