"""The learning-rate panel, driven the way a student drives it: set controls, click Train,
wait, and look at the run history, the status line and the figures. These tests also cover
what every panel shares (tests/test_widgets_panel_*.py cover the other panels)."""

import html
import threading

import numpy as np
import pytest
from reference import ReferenceLinear

import digitlab
from digitlab import History, TrainingSettings
from digitlab.widgets import LearningRatePanel, _panel

SHORT = TrainingSettings(max_epochs=3)

pytestmark = pytest.mark.usefixtures("not_grading")


def click_train(panel, timeout=60):
    panel.train_button.click()
    assert panel.wait(timeout), "the run did not finish in time"


def status_text(panel) -> str:
    return html.unescape(panel.status.value)


def test_the_panel_has_the_parts_the_browser_test_looks_for(data):
    panel = LearningRatePanel(data, linear=ReferenceLinear)
    assert {"digitlab-panel", "digitlab-learning-rate-panel"} <= set(panel.root._dom_classes)
    slider = panel.controls["step_size"]
    assert (type(slider).__name__, slider.description, slider.base, slider.min, slider.max) == (
        "FloatLogSlider", "Step size", 10, -4, 1)  # min and max are powers of the base
    assert slider.readout and not slider.continuous_update
    assert "digitlab-step-size" in slider._dom_classes
    parts = {"digitlab-train": panel.train_button, "digitlab-stop": panel.stop_button,
             "digitlab-progress": panel.progress, "digitlab-plot": panel.plot,
             "digitlab-history": panel.run_list, "digitlab-status": panel.status,
             "digitlab-settings-line": panel.settings_line}
    for css_class, widget in parts.items():
        assert css_class in widget._dom_classes, css_class
    assert (panel.train_button.description, panel.stop_button.description) == ("Train", "Stop")
    # Every control says what it is; every button says what it does.
    for widget in [*panel.controls.values(), panel.run_list, panel.settings_line]:
        assert widget.description and widget.tooltip
    assert panel.train_button.tooltip and panel.stop_button.tooltip


def test_moving_a_control_does_not_train(data):
    panel = LearningRatePanel(data, linear=ReferenceLinear)
    panel.controls["step_size"].value = 0.1
    panel.controls["max_epochs"].value = 2
    assert not panel.running and panel.runs == [] and panel.plot.value == b""


def test_train_runs_the_controls_settings_and_shows_curves_history_and_settings_line(data):
    panel = LearningRatePanel(data, linear=ReferenceLinear, settings=SHORT)
    panel.controls["step_size"].value = 0.1
    panel.controls["seed"].value = 3
    click_train(panel)

    expected = SHORT.replace(step_size=0.1, seed=3)
    (run,) = panel.runs
    assert run.settings == expected and run.epochs == 3
    _, oracle = digitlab.train(expected, data, linear=ReferenceLinear)
    assert run.validation_accuracy == oracle.validation_accuracy
    (label,) = [text for text, _ in panel.run_list.options]
    assert f"{run.final_validation_accuracy:.1%}" in label and "step_size=0.1," in label
    assert repr(expected) in status_text(panel) and panel.settings_line.value == repr(expected)
    assert eval(panel.settings_line.value, {"TrainingSettings": TrainingSettings}) == expected

    assert bytes(panel.plot.value).startswith(b"\x89PNG") and panel.plot.layout.display is None
    loss_ax, accuracy_ax = panel.figures["curves"].axes
    lines = {line.get_label(): line for line in accuracy_ax.get_lines()}
    np.testing.assert_array_equal(lines["validation"].get_ydata(), oracle.validation_accuracy)
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "loss (log scale)")
    assert panel.progress.value == panel.progress.max == 3
    assert not panel.train_button.disabled and panel.stop_button.disabled


def test_finished_runs_are_kept_and_overlaid_on_the_same_axes(data):
    start = digitlab.train(SHORT, data, linear=ReferenceLinear)[1]
    panel = LearningRatePanel(data, linear=ReferenceLinear, settings=SHORT, runs=[start])
    assert "overlay" not in panel.figures  # nothing selected yet
    panel.run_list.value = (0,)
    for step_size in (0.0001, 5):
        panel.controls["step_size"].value = step_size
        click_train(panel)
    assert [run.settings.step_size for run in panel.runs] == [0.01, 0.0001, 5]
    assert panel.run_list.value == (0, 1, 2)  # each new run joins the selection
    loss_ax, accuracy_ax = panel.figures["overlay"].axes[:2]
    *runs, chance = accuracy_ax.get_lines()
    assert [line.get_label() for line in runs] == ["step 0.01", "step 0.0001", "step 5"]
    assert chance.get_label() == "chance (10%)"
    styles = {(line.get_linestyle(), line.get_marker()) for line in runs}
    assert len(styles) == 3  # told apart without colour
    np.testing.assert_array_equal(runs[0].get_ydata(), start.validation_accuracy)

    panel.run_list.value = (1,)  # one run: the learning curves already show it
    assert "overlay" not in panel.figures and panel.overlay.layout.display == "none"


def test_live_figures_are_drawn_during_a_run_at_most_every_interval(data, monkeypatch):
    drawn = []
    monkeypatch.setattr(_panel, "LIVE_INTERVAL", 0)  # draw after every epoch but the last
    panel = LearningRatePanel(data, linear=ReferenceLinear, settings=SHORT)
    original = panel._draw_curves

    def spy(history):
        drawn.append(history.epochs)
        original(history)

    panel._draw_curves = spy
    click_train(panel)
    assert drawn == [1, 2, 3]  # epochs 1 and 2 live, then the final figure once


def test_stop_ends_a_long_run_early_and_the_panel_trains_again(data):
    started = threading.Event()

    class SignallingLinear(ReferenceLinear):
        def backward(self, grad):
            started.set()
            return super().backward(grad)

    panel = LearningRatePanel(data, linear=SignallingLinear,
                              settings=TrainingSettings(max_epochs=1000))
    panel.train_button.click()
    assert started.wait(30) and panel.running and not panel.stop_button.disabled
    panel.train_button.click()  # a second click while running does nothing
    panel.stop_button.click()
    assert panel.wait(30)
    (run,) = panel.runs
    assert run.stopped_early and 1 <= run.epochs < 1000
    assert "Stopped after epoch" in status_text(panel)
    assert "Stopped early" in " ".join(text.get_text() for text in panel.figures["curves"].texts)
    assert not panel.train_button.disabled and panel.stop_button.disabled

    panel.controls["max_epochs"].value = 2
    click_train(panel)
    assert [run.epochs for run in panel.runs][-1] == 2 and not panel.runs[-1].stopped_early


class BrokenLinear(ReferenceLinear):
    def backward(self, grad):
        super().backward(grad)  # sets the gradients, then forgets to return


def test_an_error_in_training_is_a_message_and_the_panel_stays_usable(data):
    panel = LearningRatePanel(data, settings=SHORT)  # digitlab.Linear: backward unwritten
    click_train(panel)
    assert "NotImplementedError" in status_text(panel) and "notebook 01" in status_text(panel)
    assert panel.runs == [] and not panel.train_button.disabled

    panel.linear = BrokenLinear
    click_train(panel)
    assert "BackwardError: BrokenLinear.backward returned None" in status_text(panel)

    panel.linear = ReferenceLinear
    click_train(panel)
    assert len(panel.runs) == 1 and "Finished 3 epochs" in status_text(panel)


def test_a_diverging_run_says_so_and_shows_the_epochs_it_finished(data):
    batches_per_epoch = -(-len(data.train.labels) // SHORT.batch_size)

    class ExplodingLinear(ReferenceLinear):
        """Correct for two epochs, then gradients so large that the loss overflows."""
        calls = 0

        def backward(self, grad):
            result = super().backward(grad)
            type(self).calls += 1
            if type(self).calls > 2 * 2 * batches_per_epoch:  # two layers per batch
                self.grad_weights = self.grad_weights * 1e30
            return result

    panel = LearningRatePanel(data, linear=ExplodingLinear, settings=SHORT.replace(max_epochs=5))
    click_train(panel)
    assert "Training diverged in epoch 3" in status_text(panel)
    assert "shows the 2 epochs before that" in status_text(panel)
    assert len(panel.figures["curves"].axes[1].get_lines()[0].get_xdata()) == 2
    assert panel.runs == [] and not panel.train_button.disabled


def test_under_nbgrader_the_panel_shows_but_never_trains(data, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    trained = []
    monkeypatch.setattr("digitlab.widgets._single_run.train",
                        lambda *args, **kwargs: trained.append(args))
    panel = LearningRatePanel(data, linear=ReferenceLinear, settings=SHORT)
    assert panel.train_button.disabled and "nbgrader" in status_text(panel)
    panel.train_button.click()
    panel.train()
    assert panel.wait(1) and trained == [] and panel.runs == [] and panel.plot.value == b""
    assert panel.root.children  # the controls are still shown


def test_the_panel_shows_as_its_widgets_in_a_notebook(data):
    bundle = LearningRatePanel(data, linear=ReferenceLinear)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_preloaded_runs_start_the_history(data):
    runs = [History.from_json(digitlab.train(SHORT, data, linear=ReferenceLinear)[1].to_json())]
    panel = LearningRatePanel(data, linear=ReferenceLinear, runs=runs)
    (label,) = [text for text, _ in panel.run_list.options]
    assert label.startswith(f"1. {runs[0].final_validation_accuracy:.1%} (3 epochs) ")
