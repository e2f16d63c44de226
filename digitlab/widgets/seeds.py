"""The seed panel of notebook 04: one setting trained over several seeds, the spread of the
runs, and the 95% interval of the mean from the student's own summarize function; two
settings compared over the same seeds, seed by seed (the paired comparison), with a plain
verdict on whether the interval of their mean difference excludes 0.

Every interval is computed by the function the notebook passes in (the student's exercise),
never here: the installed package must not hold the exercise's solution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets

from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.layers import Linear
from digitlab.plots import final_accuracies, seed_pairs, seed_spread
from digitlab.settings import TrainingSettings
from digitlab.stats import PairedComparison, compare_paired
from digitlab.train import train
from digitlab.widgets._panel import Panel, as_html

DEFAULTS = TrainingSettings()  # frozen: safe to share
Summary = tuple[float, float, float, float]  # mean, std, low, high


@dataclass
class SeedResult:
    """One setting trained with seeds 0..n-1: its runs and their summary.

    summary: (mean, std, low, high) from the student's function, or None when it failed,
    and then problem says why.
    """

    settings: TrainingSettings
    histories: list[History]
    summary: Summary | None
    problem: str | None

    @property
    def accuracies(self) -> list[float]:
        return [history.final_validation_accuracy for history in self.histories]

    @property
    def settings_line(self) -> str:
        """A line of Python that recreates every run of this result."""
        return (f"[{self.settings!r}.replace(seed=seed) "
                f"for seed in range({len(self.histories)})]")


class SeedPanel(Panel):
    """The network's shape, activation, step size and epochs, and the number of seeds.

    Train runs the setting over seeds 0..n-1 and shows each run with the mean ± std band
    (plots.seed_spread), the final accuracies, and the interval that summarize(accuracies)
    returns. With an earlier result chosen under "Compare with", it shows both, pairs
    their runs seed by seed (plots.seed_pairs) and says whether the interval of the mean
    difference, summarize(differences), excludes 0.

    data: the DigitData to train on. linear: the student's Linear class. summarize: the
    student's function, accuracies (n,) -> (mean, std, low, high); when it raises, the
    panel says so and shows the runs without an interval. settings: the starting values.
    """

    def __init__(self, data: DigitData, *, summarize: Callable[[Sequence[float]], Summary],
                 linear: type = Linear, settings: TrainingSettings = DEFAULTS, seeds: int = 5):
        super().__init__(data, linear=linear, settings=settings,
                         fields=["num_layers", "width", "activation", "step_size", "max_epochs"],
                         title="Seeds: how much does chance move the result?")
        self.summarize = summarize
        self.results: list[SeedResult] = []
        self.seed_count = widgets.IntSlider(
            value=seeds, min=2, max=10, description="Seeds", continuous_update=False,
            style={"description_width": "7em"},
            tooltip="Train with seeds 0, 1, ..., n - 1: the same seeds every time, so two "
                    "settings are compared on equal terms")
        self.compare_with = widgets.Dropdown(
            options=[("nothing", None)], value=None, description="Compare with",
            style={"description_width": "7em"}, layout=widgets.Layout(width="100%"),
            tooltip="An earlier result to compare the latest one with")
        self.compare_with.observe(self._on_compare, names="value")
        self._refilling = False  # True while the job refills compare_with's options
        self.summary = widgets.HTML()
        self.summary.add_class("digitlab-seed-summary")
        self.intervals = self._picture("digitlab-intervals")
        self.pairs = self._picture("digitlab-seed-pairs")
        self.controls["step_size"].layout.width = "32em"
        shape = widgets.HBox([self.controls[name] for name in ("num_layers", "width",
                                                                "activation")])
        step = widgets.HBox([self.controls["step_size"], self.controls["max_epochs"]])
        self._layout("seed", [shape, step, self.seed_count, self.compare_with],
                     [self.plot, self.summary, self.intervals, self.pairs])

    def _job_body(self) -> None:
        settings, count = self.current_settings(), self.seed_count.value
        self.settings_line.value = repr(settings)
        self.progress.max = count * settings.max_epochs
        histories: list[History] = []
        for seed in range(count):
            self._say(f"Training seed {seed} of 0-{count - 1}...")
            _, history = train(
                settings.replace(seed=seed), self.data, linear=self.linear,
                on_epoch=self._train_callback(lambda run: self._draw_spread([*histories, run]),
                                              epochs_before=seed * settings.max_epochs))
            histories.append(history)
            if history.stopped_early or self._stop_requested.is_set():
                self._draw_spread(histories)
                self._say(f"Stopped during seed {seed} of 0-{count - 1}. Unfinished seeds "
                          "are not kept as a result; click Train to run them all.")
                return
        self._draw_spread(histories)
        result = SeedResult(settings, histories, *self._summarize(histories))
        self.settings_line.value = result.settings_line
        self.results.append(result)
        # Compare the new result with the one before it, the usual question. New options
        # reset the choice, which would redraw for nothing: the results are drawn once, below.
        self._refilling = True
        try:
            self.compare_with.options = [("nothing", None)] + [
                (f"{number}. {each.settings!r}", number - 1)
                for number, each in enumerate(self.results[:-1], 1)]
            self.compare_with.value = self.compare_with.options[-1][1]
        finally:
            self._refilling = False
        self._show_results()
        self._say(f"Finished {count} seeds. {result.problem or ''}",
                  settings_line=result.settings_line)

    def _on_compare(self, _change) -> None:
        if not self._refilling:
            self._show_results()

    def _summarize(self, histories: list[History]) -> tuple[Summary | None, str | None]:
        """(summary, None) from the student's function, or (None, why it gave none)."""
        try:
            mean, std, low, high = (float(value) for value in
                                    self.summarize([run.final_validation_accuracy
                                                    for run in histories]))
        except Exception as error:  # the student's code: any mistake becomes a message
            return None, self._why_no_interval(error)
        return (mean, std, low, high), None

    def _compare(self, first: SeedResult, second: SeedResult
                 ) -> tuple[PairedComparison | None, str]:
        """The two results paired seed by seed with the student's summarize, and the verdict;
        or None and why there is none."""
        if len(first.histories) != len(second.histories):
            return None, (f"These results have {len(first.histories)} and "
                          f"{len(second.histories)} seeds: train both with the same seeds to "
                          "compare them seed by seed.")
        try:
            comparison = compare_paired(first.accuracies, second.accuracies, self.summarize)
        except Exception as error:  # the student's code: any mistake becomes a message
            return None, self._why_no_interval(error)
        return comparison, str(comparison)

    def _why_no_interval(self, error: Exception) -> str:
        name = getattr(self.summarize, "__name__", "summarize")
        if isinstance(error, NotImplementedError):
            return (f"Implement {name} in the exercise above and run its cell to see "
                    "the 95% interval; then run this panel's cell again.")
        return (f"{name} failed, so there is no interval: {type(error).__name__}: "
                f"{error}. Fix it, run its cell, then run this panel's cell again.")

    def _draw_spread(self, histories: list[History]) -> None:
        self._show(self.plot, "spread", seed_spread(histories))

    def _show_results(self) -> None:
        """The latest result, and the one chosen under "Compare with": table, figures and the
        paired verdict."""
        if not self.results:
            return
        shown = [self.results[-1]]
        if self.compare_with.value is not None:
            shown.insert(0, self.results[self.compare_with.value])
        self._show(self.intervals, "intervals", final_accuracies(
            [each.settings for each in shown], [each.accuracies for each in shown],
            [each.summary[2:] if each.summary else None for each in shown]))
        rows = [self._row(self.results.index(each) + 1, each) for each in shown]
        verdict, pairs = "", None
        if len(shown) == 2:
            comparison, verdict = self._compare(*shown)
            if len(shown[0].histories) == len(shown[1].histories):
                pairs = seed_pairs((shown[0].settings, shown[1].settings),
                                   (shown[0].accuracies, shown[1].accuracies), comparison)
        self._show(self.pairs, "pairs", pairs)
        self.summary.value = "<br>".join(rows) + (f"<br><b>{as_html(verdict)}</b>" if verdict
                                                   else "")

    @staticmethod
    def _row(number: int, result: SeedResult) -> str:
        accuracies = ", ".join(f"{value:.1%}" for value in result.accuracies)
        if result.summary is None:
            summary = result.problem
        else:
            mean, std, low, high = result.summary
            summary = (f"mean {mean:.1%}, sample std {std:.1%}, 95% interval of the mean "
                       f"{low:.1%} to {high:.1%}")
        return (f"<b>{number}.</b> <code>{as_html(repr(result.settings))}</code><br>"
                f"final accuracies {as_html(accuracies)}; {as_html(summary)}")
