"""The pure bookkeeping behind the panels: how a finished run is named in a run history. No
ipywidgets here, so it is tested like any function.
"""

from __future__ import annotations

from digitlab.history import History


def run_label(number: int, history: History) -> str:
    """One line naming a finished run: its number, final validation accuracy, epochs and the
    settings line that recreates it, e.g.
    "2. 88.3% (30 epochs) TrainingSettings(num_layers=2, ..., seed=0)". Short before the
    settings, because a narrow list cuts its lines off at the end.
    """
    stopped = ", stopped early" if history.stopped_early else ""
    return (f"{number}. {history.final_validation_accuracy:.1%} ({history.epochs} epochs"
            f"{stopped}) {history.settings!r}")
