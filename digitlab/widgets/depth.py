"""The depth and activation panel of notebook 03: train deeper networks with sigmoid or ReLU
and see every layer's RMS gradient per weight over training, so a vanishing gradient shows at
once.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.layers import Linear
from digitlab.network import Network
from digitlab.plots import gradient_rms, gradient_rms_heatmap
from digitlab.settings import TrainingSettings
from digitlab.widgets._single_run import SingleRunPanel

DEFAULTS = TrainingSettings(num_layers=5, activation="sigmoid")  # frozen: safe to share
VIEWS = {"lines": gradient_rms, "heatmap": gradient_rms_heatmap}


class DepthPanel(SingleRunPanel):
    """Layers (1-6), width, activation, step size and epochs; live learning curves, then
    the RMS gradient per weight of every layer per epoch, as lines or as a heatmap; a run
    history.

    data: the DigitData to train on. linear: the student's Linear class. settings: the
    starting values (by default the 5-layer sigmoid network of notebook 03).
    runs: finished Histories to start the run history with.
    """

    def __init__(self, data: DigitData, *, linear: type = Linear,
                 settings: TrainingSettings = DEFAULTS, runs: Sequence[History] = ()):
        super().__init__(data, linear=linear, settings=settings, runs=runs,
                         fields=["num_layers", "width", "activation", "step_size", "max_epochs"],
                         title="Depth and activation: watch the gradient of every layer")
        self.controls["step_size"].layout.width = "32em"
        self.view = widgets.ToggleButtons(
            options=[("Lines", "lines"), ("Heatmap", "heatmap")], value="lines",
            description="Gradients as", style={"description_width": "7em"},
            tooltips=["One line per layer, log scale", "Layers by epochs, colour = log10 RMS"],
            tooltip="How to show the RMS gradients (redraws the last run; no training)")
        self.view.observe(lambda _: self._draw_gradients(), names="value")
        self.gradients = self._picture("digitlab-gradients")
        shape = widgets.HBox([self.controls[name] for name in ("num_layers", "width",
                                                                "activation")])
        step = widgets.HBox([self.controls["step_size"], self.controls["max_epochs"]])
        self._layout("depth", [shape, step, self.view],
                     [self.plot, self.gradients, self.run_list, self.overlay])

    def _after_run(self, network: Network, history: History) -> None:
        self._draw_gradients()

    def _draw_gradients(self) -> None:
        if self.history is not None:
            self._show(self.gradients, "gradients", VIEWS[self.view.value](self.history))
