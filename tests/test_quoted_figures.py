"""Every number the notebooks' prose and model answers quote, recomputed from the code.

A row is (notebook, the phrase as it stands in the notebook's markdown with {} where each number
goes, a function giving those numbers' text from cached deterministic runs). One test per row
asserts that the phrase, filled with the recomputed numbers, is in the notebook. When the code
changes a figure, the failure names the file, the phrase and the new value to write there.
"""

import functools
import math
import statistics
import tempfile
from pathlib import Path

import nbformat
import pytest
from course_builder import KEY, SOURCE
from reference import ReferenceLinear

import digitlab
from digitlab import TrainingSettings
from digitlab.competition import submission_accuracy, write_submission
from digitlab.stats import as_points, compare_paired, t_critical_95

DEFAULT = TrainingSettings()


@functools.cache
def lab_data() -> digitlab.DigitData:
    """The notebooks' data: the bundled digits split with seed 0."""
    return digitlab.load_digits()


@functools.cache
def run(settings: TrainingSettings):
    """(network, history) of one deterministic training run with the reference backward."""
    return digitlab.train(settings, lab_data(), linear=ReferenceLinear)


def accuracy(settings: TrainingSettings) -> float:
    return run(settings)[1].final_validation_accuracy


def over_seeds(settings: TrainingSettings, seeds: int = 5) -> list[float]:
    """Final validation accuracies of settings with seeds 0..seeds-1, as notebook 04 runs them."""
    return [accuracy(settings.replace(seed=seed)) for seed in range(seeds)]


def summary(values) -> tuple[float, float, float, float]:
    """mean, sample std and 95% t interval: notebook 04's exercise, by the statistics module."""
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half_width = t_critical_95(len(values) - 1) * std / math.sqrt(len(values))
    return mean, std, mean - half_width, mean + half_width


def percent(value: float) -> str:
    return f"{value:.1%}"


def points(value: float) -> str:
    """A spread or a gain in percentage points, unsigned: 0.004 -> "0.4"."""
    return f"{100 * value:.1f}"


@functools.cache
def markdown(notebook: str) -> str:
    """The notebook's markdown cells, whitespace collapsed, so a phrase may wrap anywhere."""
    cells = nbformat.read(SOURCE / notebook, as_version=4).cells
    return " ".join(" ".join(cell.source.split()) for cell in cells
                    if cell.cell_type == "markdown")


# Notebooks 04 and 05

NOTEBOOK_04 = "04-randomness.ipynb"
NOTEBOOK_05 = "05-competition.ipynb"
WORKED_EXAMPLE = [0.80, 0.82, 0.84, 0.86, 0.88]  # notebook 04's test cells' example
STEP_002 = DEFAULT.replace(step_size=0.02)
RELU_5 = DEFAULT.replace(num_layers=5)
SIGMOID_5 = DEFAULT.replace(num_layers=5, activation="sigmoid")


def default_seeds() -> list[float]:
    return over_seeds(DEFAULT)


def paired(other: TrainingSettings):
    return compare_paired(default_seeds(), over_seeds(other), summary)


def five_accuracies() -> str:
    *first, last = (percent(value) for value in default_seeds())
    return f"{', '.join(first)} and {last}"


def first_epoch_range() -> tuple[str, str]:
    firsts = [run(DEFAULT.replace(seed=seed))[1].validation_accuracy[0] for seed in range(5)]
    return f"{min(firsts):.0%}", f"{max(firsts):.0%}"


def collapsed_steps() -> str:
    """Steps 5 and 10 reach the same accuracy (chance), quoted once for both."""
    values = {percent(accuracy(DEFAULT.replace(step_size=step))) for step in (5, 10)}
    return values.pop() if len(values) == 1 else f"no longer one value: {sorted(values)}"


def validation_size() -> str:
    return f"{len(lab_data().validation.labels):,}"


def sampling_error() -> str:
    """The standard error of an accuracy p measured on n validation images, sqrt(p(1-p)/n)."""
    p = statistics.fmean(default_seeds())
    return points(math.sqrt(p * (1 - p) / len(lab_data().validation.labels)))


def tuned_of_notebook_05() -> TrainingSettings:
    """The `tuned` that notebook 05's reference solution sets."""
    (cell,) = [cell for cell in nbformat.read(SOURCE / NOTEBOOK_05, as_version=4).cells
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "tuned-settings"]
    namespace = {"default": DEFAULT, "print": lambda *_: None}
    exec(cell.source, namespace)
    return namespace["tuned"]


def tuning_steps() -> list[TrainingSettings]:
    """Notebook 05's model answer: the defaults, then one change at a time up to `tuned`."""
    steps = [DEFAULT, DEFAULT.replace(step_size=0.1),
             DEFAULT.replace(step_size=0.1, width=128),
             DEFAULT.replace(step_size=0.1, width=128, num_layers=3)]
    assert steps[-1] == tuned_of_notebook_05(), "notebook 05's tuned is not the answer's last step"
    return steps


def tuning_gains() -> list[float]:
    accuracies = [accuracy(step) for step in tuning_steps()]
    return [after - before for before, after in zip(accuracies, accuracies[1:], strict=False)]


def competition_score() -> str:
    """The tuned network's predictions for the competition images, scored against the key."""
    network = run(tuning_steps()[-1])[0]
    with tempfile.TemporaryDirectory() as folder:
        path = write_submission(network.predict(lab_data().test_images),
                                Path(folder) / "submission.csv")
        return percent(submission_accuracy(path, KEY))


ROWS = [
    # Notebook 04: the prose and the worked example of the exercise
    (NOTEBOOK_04, "(2.776 for five runs)", lambda: f"{t_critical_95(4):.3f}"),
    (NOTEBOOK_04, "and 0.88 the mean is {},", lambda: f"{summary(WORKED_EXAMPLE)[0]:.2f}"),
    (NOTEBOOK_04, "the squared deviations add up to {}",
     lambda: f"{summary(WORKED_EXAMPLE)[1] ** 2 * 4:.3f}"),
    (NOTEBOOK_04, r"\approx {}$.", lambda: f"{summary(WORKED_EXAMPLE)[1]:.4f}"),
    (NOTEBOOK_04, r"${} \times {} / \sqrt 5 \approx {}$",
     lambda: (f"{t_critical_95(4):.3f}", f"{summary(WORKED_EXAMPLE)[1]:.7f}",
              f"{summary(WORKED_EXAMPLE)[3] - summary(WORKED_EXAMPLE)[0]:.4f}")),
    (NOTEBOOK_04, "the interval is about {} to {}.",
     lambda: tuple(f"{value:.4f}" for value in summary(WORKED_EXAMPLE)[2:])),
    # Notebook 04's model answer: seeds 0-4 of the defaults
    (NOTEBOOK_04, "The final validation accuracies were {}:", five_accuracies),
    (NOTEBOOK_04, "mean {}, sample standard deviation",
     lambda: percent(summary(default_seeds())[0])),
    (NOTEBOOK_04, "sample standard deviation {} points,",
     lambda: points(summary(default_seeds())[1])),
    (NOTEBOOK_04, "95% interval for the mean {} to {}.",
     lambda: tuple(percent(value) for value in summary(default_seeds())[2:])),
    (NOTEBOOK_04, "The five runs span {} points.",
     lambda: points(max(default_seeds()) - min(default_seeds()))),
    (NOTEBOOK_04, "({} to {} after the first epoch)", first_epoch_range),
    (NOTEBOOK_04, "the step sizes 5 and 10 ({})", collapsed_steps),
    (NOTEBOOK_04, "and 0.0001 ({}) against {} for the default",
     lambda: (percent(accuracy(DEFAULT.replace(step_size=0.0001))), percent(accuracy(DEFAULT)))),
    (NOTEBOOK_04, "the 5-layer sigmoid networks ({} and {}) against the 5-layer ReLU network ({})",
     lambda: (percent(accuracy(SIGMOID_5)), percent(accuracy(SIGMOID_5.replace(step_size=0.1))),
              percent(accuracy(RELU_5)))),
    (NOTEBOOK_04, "({} against {} with seed 0)",
     lambda: (percent(accuracy(RELU_5)), percent(accuracy(DEFAULT)))),
    (NOTEBOOK_04, "it is worse by {} points, 95% interval {} to {} points, which excludes 0",
     lambda: (points(-paired(RELU_5).mean), as_points(paired(RELU_5).low),
              as_points(paired(RELU_5).high)) if paired(RELU_5).excludes_zero else "includes 0"),
    (NOTEBOOK_04, "step 0.02 beat the default by {} points, interval {} to {} points",
     lambda: (points(paired(STEP_002).mean), as_points(paired(STEP_002).low),
              as_points(paired(STEP_002).high)) if paired(STEP_002).excludes_zero
     else "includes 0"),
    (NOTEBOOK_04, "own intervals ({} to {} and {} to {}) overlap",
     lambda: tuple(percent(value) for settings in (DEFAULT, STEP_002)
                   for value in summary(over_seeds(settings))[2:])),
    (NOTEBOOK_04, "the choice of the {} validation images", validation_size),
    (NOTEBOOK_04, "a sampling error of about ±{} point of its own", sampling_error),
    (NOTEBOOK_04, "at $p$ = {}, $n$ = {})",
     lambda: (percent(summary(default_seeds())[0]), validation_size())),
    # Notebook 05: the prose and the model answer (seed 0, one change at a time)
    (NOTEBOOK_05, "The data includes {} **competition images**",
     lambda: f"{len(lab_data().test_images):,}"),
    (NOTEBOOK_05, "with ids 1 to {}.", lambda: f"{len(lab_data().test_images):,}"),
    (NOTEBOOK_05, "The default settings reach about {} on validation",
     lambda: f"{accuracy(DEFAULT):.0%}"),
    (NOTEBOOK_05, "Baseline, the defaults: {}.", lambda: percent(accuracy(tuning_steps()[0]))),
    (NOTEBOOK_05, "Step size 0.01 -> 0.1, nothing else changed: {}.",
     lambda: percent(accuracy(tuning_steps()[1]))),
    (NOTEBOOK_05, "Width 16 -> 128 units, keeping step 0.1: {}.",
     lambda: percent(accuracy(tuning_steps()[2]))),
    (NOTEBOOK_05, "keeping width 128 and step 0.1: {}.",
     lambda: percent(accuracy(tuning_steps()[3]))),
    (NOTEBOOK_05, "Its training accuracy reaches {},",
     lambda: percent(run(tuning_steps()[3])[1].train_accuracy[-1])),
    (NOTEBOOK_05, "Final settings: `{}`, {} on validation ({} on the competition images).",
     lambda: (repr(tuning_steps()[3]), percent(accuracy(tuning_steps()[3])),
              competition_score())),
    (NOTEBOOK_05, "Each change gained {} to {} points with seed 0",
     lambda: (points(min(tuning_gains())), points(max(tuning_gains())))),
    (NOTEBOOK_05, "in notebook 04 ({} points), and the three together gained {} points",
     lambda: (points(summary(default_seeds())[1]), points(sum(tuning_gains())))),
]


@pytest.mark.parametrize("notebook, phrase, compute", ROWS,
                         ids=[f"{row[0][:2]}: {row[1]}" for row in ROWS])
def test_the_quoted_figure_is_what_the_code_gives(notebook, phrase, compute):
    values = compute()
    expected = phrase.format(*(values if isinstance(values, tuple) else (values,)))
    assert " ".join(expected.split()) in markdown(notebook), (
        f"{SOURCE.name}/{notebook} should quote {expected!r}, recomputed by the code; update "
        f"the phrase {phrase!r} with {values!r}.")
