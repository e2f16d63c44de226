"""Interactive panels for the lab's experiments: thin ipywidgets over digitlab's functions.

Each panel reads its controls into a TrainingSettings, trains with digitlab.train in a
background thread when Train is clicked (never when a control moves), and draws with
digitlab.plots. Nothing below this package imports ipywidgets.

- LearningRatePanel (notebook 02): step size on a log scale, live curves, overlaid runs.
- DepthPanel (notebook 03): layers, width, activation; every layer's RMS gradient per weight.
- SeedPanel (notebook 04): one setting over several seeds, intervals from the student's
  summarize function, two settings compared.
- CompetitionPanel (notebook 05): confusion matrix, misclassified digits, submission.csv.
"""

from digitlab.widgets.competition import CompetitionPanel
from digitlab.widgets.depth import DepthPanel
from digitlab.widgets.learning_rate import LearningRatePanel
from digitlab.widgets.seeds import SeedPanel

__all__ = ["CompetitionPanel", "DepthPanel", "LearningRatePanel", "SeedPanel"]
