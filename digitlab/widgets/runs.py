"""The pure bookkeeping behind the panels: how a finished run is named in a run history, and
whether two 95% intervals overlap. No ipywidgets here, so it is tested like any function.
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


def intervals_overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Whether the closed intervals (low, high) share at least one point."""
    return first[0] <= second[1] and second[0] <= first[1]


def overlap_sentence(first: tuple[float, float], second: tuple[float, float]) -> str:
    """A plain verdict on two 95% intervals (low, high) of mean accuracies."""
    shown = f"({_percent(first)} and {_percent(second)})"
    if intervals_overlap(first, second):
        return (f"The 95% intervals overlap {shown}: these seeds cannot tell the two settings "
                "apart; the difference may be the seed alone.")
    return (f"The 95% intervals do not overlap {shown}: the difference is larger than what "
            "the seed alone does.")


def _percent(interval: tuple[float, float]) -> str:
    return f"{interval[0]:.1%} to {interval[1]:.1%}"
