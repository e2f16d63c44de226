"""Interactive panels for the lab's experiments: thin ipywidgets over digitlab's functions.

Each panel reads its controls into a TrainingSettings, trains with digitlab.train in a
background thread when Train is clicked (never when a control moves), and draws with
digitlab.plots. Nothing below this package imports ipywidgets.

- LearningRatePanel (notebook 02): step size on a log scale, live curves, overlaid runs.
- DepthPanel (notebook 03): layers, width, activation; every layer's RMS gradient per weight.
- SeedPanel (notebook 04): one setting over several seeds, intervals from the student's
  summarize function, two settings compared.
- CompetitionPanel (notebook 05): confusion matrix, misclassified digits, submission.csv.

Each panel's module is imported when the panel is first named, so a notebook loads only its
own panel, and the grader, which reads _cell_output.RECORD_KEY in every autograde, loads
neither ipywidgets nor matplotlib (0.8 s a student).
"""

import importlib

# Each panel and the module of this package that defines it.
PANELS = {"CompetitionPanel": "competition", "DepthPanel": "depth",
          "LearningRatePanel": "learning_rate", "SeedPanel": "seeds"}
__all__ = sorted(PANELS)


def __getattr__(name: str):
    if name in PANELS:
        return getattr(importlib.import_module(f"{__name__}.{PANELS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
