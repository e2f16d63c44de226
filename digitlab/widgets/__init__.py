"""Interactive panels for the lab's experiments: thin ipywidgets over digitlab's functions.

Each panel reads its controls into a TrainingSettings, trains with digitlab.train in a
background thread when Train is clicked (never when a control moves), and draws with
digitlab.plots. Nothing below this package imports ipywidgets.
"""

from digitlab.widgets.learning_rate import LearningRatePanel

__all__ = ["LearningRatePanel"]
