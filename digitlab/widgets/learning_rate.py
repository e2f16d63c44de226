"""The learning-rate panel of notebook 02: train with a step size chosen on a log scale,
watch the curves live, and overlay finished runs to compare step sizes on the same axes.

The browser test (tests/test_browser*) finds the panel's parts by these CSS classes and
texts. Keep them, or change the test with them:
- root box: classes `digitlab-panel` and `digitlab-learning-rate-panel`;
- step size: a FloatLogSlider (base 10, 1e-4 to 10), description "Step size", class
  `digitlab-step-size`, editable readout (`.widget-readout`), continuous_update=False;
- buttons: "Train" (class `digitlab-train`) and "Stop" (class `digitlab-stop`);
  progress bar: class `digitlab-progress`;
- current figure: class `digitlab-plot`, an Image (<img>) of the learning curves after a run;
- run history: class `digitlab-history`, one entry per finished run whose text holds the
  step size and the final validation accuracy as a percentage ("88.3%");
- status line: class `digitlab-status`; after a run it holds the settings line
  `TrainingSettings(...)`, after an error the error message. The copyable settings line
  itself: class `digitlab-settings-line`.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.layers import Linear
from digitlab.settings import TrainingSettings
from digitlab.widgets._single_run import SingleRunPanel

DEFAULTS = TrainingSettings()  # frozen, so one shared default is safe


class LearningRatePanel(SingleRunPanel):
    """Step size, batch size, epochs and seed; live learning curves; an overlay of runs.

    data: the DigitData to train on. linear: the student's Linear class. settings: the
    starting values (the other fields, such as the network's shape, stay as given).
    runs: finished Histories to start the run history with.
    """

    def __init__(self, data: DigitData, *, linear: type = Linear,
                 settings: TrainingSettings = DEFAULTS,
                 runs: Sequence[History] = ()):
        super().__init__(data, linear=linear, settings=settings, runs=runs,
                         fields=["step_size", "batch_size", "max_epochs", "seed"],
                         title="Step size: train, compare, repeat")
        self.controls["step_size"].add_class("digitlab-step-size")
        self.controls["step_size"].layout.width = "32em"
        others = widgets.HBox([self.controls[name]
                               for name in ("batch_size", "max_epochs", "seed")])
        self._layout("learning-rate", [self.controls["step_size"], others],
                     [self.plot, self.run_list, self.overlay])
