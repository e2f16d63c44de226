"""A panel whose job is one training run, with live learning curves and a run history
whose runs can be overlaid. The learning-rate, depth and competition panels are these.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.network import Network
from digitlab.plots import compare_curves, learning_curves
from digitlab.settings import TrainingSettings
from digitlab.train import train
from digitlab.widgets._panel import Panel
from digitlab.widgets.runs import run_label


class SingleRunPanel(Panel):
    """A Panel that trains one network per click and keeps every finished run.

    runs: Histories to start the run history with (for example the notebook's own runs).
    After a run, self.history is its History and self.network its trained network, and
    self.runs holds every finished run, oldest first. The runs selected in the history list
    are overlaid in one figure; a new run is added to the selection.
    """

    # The overlay shows earlier runs too; each is in the record of its own run.
    not_recorded = frozenset({"overlay"})

    def __init__(self, data: DigitData, *, linear: type, settings: TrainingSettings,
                 fields: list[str], title: str, runs: Sequence[History] = ()):
        super().__init__(data, linear=linear, settings=settings, fields=fields, title=title)
        self.runs: list[History] = list(runs)
        self.history: History | None = None
        self.network: Network | None = None
        self.run_list = widgets.SelectMultiple(
            options=self._run_options(), rows=5, description="Run history",
            style={"description_width": "7em"}, layout=widgets.Layout(width="100%"),
            tooltip="Every finished run: its final validation accuracy, epochs and settings "
                    "line. Select several (Ctrl or Shift + click, or Shift + arrow keys) to "
                    "overlay them below.")
        self.run_list.add_class("digitlab-history")
        self.run_list.observe(lambda _: self._draw_overlay(), names="value")
        self.overlay = self._picture("digitlab-overlay")

    def _job_body(self) -> None:
        settings = self.current_settings()
        self.settings_line.value = repr(settings)
        self.progress.max = settings.max_epochs
        self._say(f"Training {settings.max_epochs} epochs...")
        network, history = train(settings, self.data, linear=self.linear,
                                 on_epoch=self._train_callback(self._draw_curves))
        self._draw_curves(history)
        self.network, self.history = network, history
        self._after_run(network, history)
        self.runs.append(history)
        selected = self.run_list.value
        self.run_list.options = self._run_options()  # this empties the selection
        self.run_list.value = (*selected, len(self.runs) - 1)
        stopped = (f"Stopped after epoch {history.epochs} of {settings.max_epochs}"
                   if history.stopped_early else f"Finished {history.epochs} epochs")
        notes = "".join(f" Note: {note}" for note in history.notes)
        self._say(f"{stopped}: final validation accuracy "
                  f"{history.final_validation_accuracy:.1%}.{notes}", settings_line=repr(settings))

    def _after_run(self, network: Network, history: History) -> None:
        """Show what a subclass adds for a finished run (in the background thread)."""

    def _draw_curves(self, history: History) -> None:
        self._show(self.plot, "curves", learning_curves(history))

    def _draw_overlay(self) -> None:
        """Overlay the selected runs; with fewer than two, the learning curves say it all."""
        chosen = [self.runs[index] for index in self.run_list.value]
        self._show(self.overlay, "overlay", compare_curves(chosen) if len(chosen) > 1 else None)

    def _run_options(self) -> list[tuple[str, int]]:
        return [(run_label(number, run), number - 1) for number, run in enumerate(self.runs, 1)]
