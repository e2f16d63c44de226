"""The depth and activation panel: the network's shape from the controls, and every layer's
RMS gradient per weight drawn from the run's History, as lines or as a heatmap."""

import numpy as np
import pytest
from reference import ReferenceLinear
from test_widgets_learning_rate import click_train, status_text

from digitlab import TrainingSettings
from digitlab.widgets import DepthPanel

pytestmark = pytest.mark.usefixtures("not_grading")


def test_the_controls_cover_depth_width_activation_and_step(data):
    panel = DepthPanel(data, linear=ReferenceLinear)
    layers, activation = panel.controls["num_layers"], panel.controls["activation"]
    assert (layers.min, layers.max, layers.value) == (1, 6, 5)
    assert [value for _, value in activation.options] == ["sigmoid", "relu"]
    assert activation.value == "sigmoid"
    assert {"digitlab-panel", "digitlab-depth-panel"} <= set(panel.root._dom_classes)
    assert panel.view.description and panel.view.tooltip


def test_a_deep_sigmoid_run_shows_every_layers_rms_gradient(data):
    panel = DepthPanel(data, linear=ReferenceLinear,
                       settings=TrainingSettings(num_layers=5, activation="sigmoid", max_epochs=2))
    panel.controls["num_layers"].value = 4
    panel.controls["width"].value = 8
    click_train(panel)

    expected = TrainingSettings(num_layers=4, width=8, activation="sigmoid", max_epochs=2)
    (run,) = panel.runs
    assert run.settings == expected and repr(expected) in status_text(panel)
    ax = panel.figures["gradients"].axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel().startswith("RMS gradient per weight")
    norms = np.array(run.grad_rms)
    assert norms.shape == (2, 4)
    for layer, line in enumerate(ax.get_lines()):
        np.testing.assert_array_equal(line.get_ydata(), norms[:, layer])
    # The vanishing gradient this panel is for: the input side gets far less than the output.
    assert norms[0, 0] < norms[0, -1] / 10


def test_switching_to_the_heatmap_redraws_the_last_run_without_training(data):
    panel = DepthPanel(data, linear=ReferenceLinear,
                       settings=TrainingSettings(num_layers=3, max_epochs=2))
    panel.view.value = "heatmap"  # before any run: nothing to draw yet
    assert "gradients" not in panel.figures
    click_train(panel)
    (heatmap,) = panel.figures["gradients"].axes[0].get_images()
    np.testing.assert_allclose(np.asarray(heatmap.get_array()),
                               np.log10(np.array(panel.history.grad_rms)).T)

    panel.view.value = "lines"
    assert len(panel.figures["gradients"].axes[0].get_lines()) == 3
    assert len(panel.runs) == 1 and not panel.running
