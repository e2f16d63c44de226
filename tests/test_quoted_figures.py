"""Every number that the lab's prose cites, recomputed from the code that produces it.

The prose is the markdown of the source notebooks (model answers included) and the lab's
documentation page, docs/lab.md.
Each row of QUOTES names a file, a phrase of it with "{}" where each number goes, and a
function that recomputes the numbers, formatted as the text prints them. The row passes
when the phrase, filled in, appears in the file. So the tolerance is the printed precision:
"88.3%" must be 88.25% to 88.35%; a number the text rounds further ("about 85%") has its
rounding in its row. When the code changes a figure, the failure names the file, the phrase
as it reads now and the new value to write.

The experiments run with the settings and seeds the notebooks use, the reference Linear and
the bundled digits; each run happens once per session (runs are deterministic, so a cache
is exact). Numbers that are not ours to recompute (those the seed write-up reports, such as
71.8%) have no row.
"""

from __future__ import annotations

import functools
import json
import math
import re
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from course_builder import KEY
from reference import ReferenceLinear

import digitlab
from digitlab import History, TrainingSettings
from digitlab.competition import submission_accuracy, write_submission
from digitlab.data.splits import CLASSES, PIXELS
from digitlab.stats import as_points, compare_paired, t_critical_95

ROOT = Path(__file__).resolve().parents[1]
NB02 = "notebooks/digit-lab/02-learning-rate.ipynb"
NB03 = "notebooks/digit-lab/03-vanishing-gradients.ipynb"
NB04 = "notebooks/digit-lab/04-randomness.ipynb"
NB05 = "notebooks/digit-lab/05-competition.ipynb"
LAB_PAGE = "docs/lab.md"

DEFAULT = TrainingSettings()
SIGMOID_5 = DEFAULT.replace(num_layers=5, activation="sigmoid")
SIGMOID_5_STEP_01 = SIGMOID_5.replace(step_size=0.1)
RELU_5 = DEFAULT.replace(num_layers=5)
LN_10 = math.log(CLASSES)  # the loss of equal scores for every digit


@functools.cache
def lab_data() -> digitlab.DigitData:
    """The notebooks' data: the bundled digits split with seed 0."""
    return digitlab.load_digits()


@functools.cache
def trained(settings: TrainingSettings) -> tuple[digitlab.Network, History]:
    """(network, history) of one scripted experiment, trained once per session."""
    return digitlab.train(settings, lab_data(), linear=ReferenceLinear)


def run(settings: TrainingSettings) -> History:
    """The History of one scripted experiment."""
    return trained(settings)[1]


def step(step_size: float, epochs: int = DEFAULT.max_epochs) -> History:
    """The default network trained with another step size (notebook 02)."""
    return run(DEFAULT.replace(step_size=step_size, max_epochs=epochs))


def percent(value: float) -> str:
    return f"{value:.1%}"


def about_percent(value: float, nearest: int) -> str:
    """value as a percentage rounded to the nearest `nearest` points, e.g. "85%"."""
    return f"{round(value * 100 / nearest) * nearest}%"


def final(history: History) -> str:
    return percent(history.final_validation_accuracy)


def final_train(history: History) -> str:
    return percent(history.train_accuracy[-1])


def dead_count(history: History, epoch: int) -> int:
    """How many of the (one) hidden layer's ReLUs are dead after `epoch` (1-based; -1 last)."""
    fraction = history.dead_relus[epoch - 1 if epoch > 0 else epoch][0]
    return round(fraction * history.settings.width)


def plateau_left(history: History) -> int:
    """The first epoch whose training loss is 0.01 or more below ln 10, the plateau of equal
    scores."""
    below = np.flatnonzero(np.array(history.train_loss) <= LN_10 - 0.01)
    return int(below[0]) + 1


def rms_steps(history: History) -> np.ndarray:
    """The first epoch's RMS gradient of each layer divided by that of the layer below it."""
    rms = np.array(history.grad_rms[0])
    return rms[1:] / rms[:-1]


def largest_jump(history: History) -> str:
    """The largest change of validation accuracy from one epoch to the next, in points."""
    return f"{np.abs(np.diff(history.validation_accuracy)).max() * 100:.0f}"


def spike_before_last(history: History) -> tuple[str, str]:
    """The highest validation accuracy before the last epoch, and its epoch."""
    earlier = np.array(history.validation_accuracy[:-1])
    return percent(earlier.max()), str(int(earlier.argmax()) + 1)


def first_layer_fraction(history: History) -> str:
    """Layer 1's first-epoch RMS gradient as "1/N" of the last layer's, N to two digits."""
    rms = history.grad_rms[0]
    return f"1/{round(rms[-1] / rms[0], -1):.0f}"


def last_epoch_rms_above_layer_1(history: History) -> tuple[float, float]:
    """The smallest and largest last-epoch RMS gradient of layers 2 on, over layer 1's."""
    rms = np.array(history.grad_rms[-1])
    return rms[1:].min() / rms[0], rms[1:].max() / rms[0]


def blank_pixels() -> np.ndarray:
    """(784,) bool: the pixels that are 0 in every training image."""
    return ~(lab_data().train.images > 0).any(axis=0)


def weights(in_dim: int, out_dim: int) -> int:
    return in_dim * out_dim


# Notebooks 04 and 05

def accuracy(settings: TrainingSettings) -> float:
    return run(settings).final_validation_accuracy


def over_seeds(settings: TrainingSettings, seeds: int = 5) -> list[float]:
    """Final validation accuracies of settings with seeds 0..seeds-1, as notebook 04 runs them."""
    return [accuracy(settings.replace(seed=seed)) for seed in range(seeds)]


def summary(values) -> tuple[float, float, float, float]:
    """mean, sample std and 95% t interval: notebook 04's exercise, by the statistics module."""
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half_width = t_critical_95(len(values) - 1) * std / math.sqrt(len(values))
    return mean, std, mean - half_width, mean + half_width


def points(value: float) -> str:
    """A spread or a gain in percentage points, unsigned: 0.004 -> "0.4"."""
    return f"{100 * value:.1f}"


WORKED_EXAMPLE = [0.80, 0.82, 0.84, 0.86, 0.88]  # notebook 04's test cells' example
STEP_002 = DEFAULT.replace(step_size=0.02)


def default_seeds() -> list[float]:
    return over_seeds(DEFAULT)


def paired(other: TrainingSettings):
    return compare_paired(default_seeds(), over_seeds(other), summary)


def five_accuracies() -> str:
    *first, last = (percent(value) for value in default_seeds())
    return f"{', '.join(first)} and {last}"


def first_epoch_range() -> tuple[str, str]:
    firsts = [run(DEFAULT.replace(seed=seed)).validation_accuracy[0] for seed in range(5)]
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
    (cell,) = [cell for cell in json.loads((ROOT / NB05).read_text(encoding="utf-8"))["cells"]
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "tuned-settings"]
    namespace = {"default": DEFAULT, "print": lambda *_: None}
    exec("".join(cell["source"]), namespace)
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
    network = trained(tuning_steps()[-1])[0]
    with tempfile.TemporaryDirectory() as folder:
        path = write_submission(network.predict(lab_data().test_images),
                                Path(folder) / "submission.csv")
        return percent(submission_accuracy(path, KEY))


@dataclass(frozen=True)
class Quote:
    """file: relative to the repository; phrase: its text with "{}" for each number;
    numbers: recomputes them, formatted as printed (a str, or a tuple for several)."""

    file: str
    phrase: str
    numbers: Callable[[], str | tuple[str, ...]]


QUOTES = [
    # Notebooks 02 and 03, docs/lab.md
    Quote(NB02, "a step of 0.5 still ends near 90% ({})", lambda: final(step(0.5))),
    Quote(NB02, "a step of 0.8 ends at chance ({})", lambda: final(step(0.8))),
    Quote(NB02, "accuracy climbs to about {} by epoch 10",
          lambda: about_percent(step(0.01).validation_accuracy[9], 5)),
    Quote(NB02, "ends at {} on validation ({} on training)",
          lambda: (final(step(0.01)), final_train(step(0.01)))),
    Quote(NB02, "the loss only goes from {} to {}",
          lambda: tuple(f"{step(0.0001).train_loss[i]:.2f}" for i in (0, -1))),
    Quote(NB02, "validation accuracy from {} to {}",
          lambda: tuple(percent(step(0.0001).validation_accuracy[i]) for i in (0, -1))),
    Quote(NB02, "(to {} for step 5 and {} for step 10)",
          lambda: (f"{step(5).train_loss[0]:.2f}", f"{step(10).train_loss[0]:.1f}")),
    Quote(NB02, "just above ln 10 ≈ {}", lambda: f"{LN_10:.2f}"),
    Quote(NB02, "the loss of a uniform guess (about {} and {})",
          lambda: tuple(f"{np.mean(step(s).train_loss[1:]):.2f}" for s in (5, 10))),
    Quote(NB02, "at chance from epoch 1 on ({} to {})",
          lambda: (percent(min(min(step(s).validation_accuracy) for s in (5, 10))),
                   percent(max(max(step(s).validation_accuracy) for s in (5, 10))))),
    Quote(NB02, "training accuracy wobbles between {} and {}",
          lambda: (percent(min(min(step(s).train_accuracy) for s in (5, 10))),
                   percent(max(max(step(s).train_accuracy) for s in (5, 10))))),
    Quote(NB02, "{} of 16 after epoch 1 at step 5 ({} of 16 by the end), {} of 16 at step 10 "
          "(all {} by the end)",
          lambda: tuple(str(dead_count(step(s), e)) for s, e in ((5, 1), (5, -1), (10, 1),
                                                                 (10, -1)))),
    Quote(NB02, "jump by up to {} points from one epoch to the next",
          lambda: largest_jump(step(0.7))),
    Quote(NB02, "yet end at {} (best {}), far above chance, with {} of 16 ReLUs dead",
          lambda: (final(step(0.7)), percent(max(step(0.7).validation_accuracy)),
                   str(dead_count(step(0.7), -1)))),
    Quote(NB02, "(a sum over {} images makes every gradient {} times larger)",
          lambda: (str(DEFAULT.batch_size),) * 2),
    Quote(NB02, "The optional cell shows {} after 100 epochs",
          lambda: final(step(0.0001, 100))),
    Quote(NB02, "({} after 100 epochs against {} after 30)",
          lambda: (final(step(0.01, 100)), final(step(0.01)))),
    Quote(NB02, "training accuracy keeps rising ({})", lambda: final_train(step(0.01, 100))),
    Quote(NB02, "({} of 16 at step 5, all {} at step 10)",
          lambda: (str(dead_count(step(5), -1)), str(dead_count(step(10), -1)))),
    Quote(NB02, "a 100-epoch run at step 5 still ends at {}", lambda: final(step(5, 100))),

    Quote(NB03, "layer 1 ({} × {} = {} weights) and layer 5 ({} × {} = {} weights)",
          lambda: (str(PIXELS), "16", f"{weights(PIXELS, 16):,}", "16", str(CLASSES),
                   str(weights(16, CLASSES)))),
    Quote(NB03, "by √({} / {}) ≈ {} for weights of equal gradients",
          lambda: (f"{weights(PIXELS, 16):,}", str(weights(16, CLASSES)),
                   f"{math.sqrt(weights(PIXELS, 16) / weights(16, CLASSES)):.1f}")),
    Quote(NB03, "validation accuracy reaches {}, with training ({}) a few points above",
          lambda: (final(run(DEFAULT)), final_train(run(DEFAULT)))),
    Quote(NB03, "only to {} = ln 10", lambda: f"{run(SIGMOID_5).train_loss[-1]:.2f}"),
    Quote(NB03, "ending at {}, with spikes up to {}",
          lambda: (final(run(SIGMOID_5)), percent(max(run(SIGMOID_5).validation_accuracy)))),
    Quote(NB03, "Training accuracy ({} to {}) is even below",
          lambda: (percent(min(run(SIGMOID_5).train_accuracy)),
                   percent(max(run(SIGMOID_5).train_accuracy)))),
    Quote(NB03, "the training loss moves only from {} to {}, and training accuracy ends at {}",
          lambda: (f"{run(SIGMOID_5_STEP_01).train_loss[0]:.2f}",
                   f"{run(SIGMOID_5_STEP_01).train_loss[-1]:.2f}",
                   final_train(run(SIGMOID_5_STEP_01)))),
    Quote(NB03, "accuracy of {} is a spike, like the {} at epoch {}, not learning",
          lambda: (final(run(SIGMOID_5_STEP_01)), *spike_before_last(run(SIGMOID_5_STEP_01)))),
    Quote(NB03, "leaves the plateau after about {} epochs and the network reaches {} after 100",
          lambda: (str(plateau_left(run(SIGMOID_5_STEP_01.replace(max_epochs=100)))),
                   final(run(SIGMOID_5_STEP_01.replace(max_epochs=100))))),
    Quote(NB03, "slow for the first ~7 epochs ({} at epoch 7), then steady progress to {} on "
          "validation", lambda: (percent(run(RELU_5).validation_accuracy[6]), final(run(RELU_5)))),
    Quote(NB03, "with training ({}) ahead of validation", lambda: final_train(run(RELU_5))),
    Quote(NB03, "layer 1's RMS gradient is about {} of layer 5's in the first epoch",
          lambda: first_layer_fraction(run(SIGMOID_5))),
    Quote(NB03, "the step-0.1 run leaves it after about {} epochs",
          lambda: str(plateau_left(run(SIGMOID_5_STEP_01.replace(max_epochs=100))))),
    Quote(NB03, "the same RMS gradients for both runs ({} and {} at layer 1)",
          lambda: (f"{run(SIGMOID_5_STEP_01).grad_rms[0][0]:.1e}",
                   f"{run(SIGMOID_5).grad_rms[0][0]:.1e}")),
    Quote(NB03, "together are at most $(1/4)^4 \\approx {}$", lambda: f"{0.25 ** 4:.1g}"),
    Quote(NB03, "by $\\sqrt{10/16} \\approx {}$", lambda: f"{math.sqrt(10 / 16):.1f}"),
    Quote(NB03, "falls by a factor of {} to {} from each layer",
          lambda: (f"{rms_steps(run(SIGMOID_5)).min():.1f}",
                   f"{rms_steps(run(SIGMOID_5)).max():.1f}")),
    Quote(NB03, "layer 1's ({}) is about {} of layer 5's ({}), even more than 1/{}",
          lambda: (f"{run(SIGMOID_5).grad_rms[0][0]:.1e}", first_layer_fraction(run(SIGMOID_5)),
                   f"{run(SIGMOID_5).grad_rms[0][-1]:.1e}", str(4 ** 4))),
    Quote(NB03, "which has {} times as many weights as layer 5",
          lambda: f"{weights(PIXELS, 16) / weights(16, CLASSES):.0f}"),
    Quote(NB03, "lie within a factor of {} of each other in the first epoch",
          lambda: f"{max(run(RELU_5).grad_rms[0]) / min(run(RELU_5).grad_rms[0]):.1f}"),
    Quote(NB03, "layer 1's settles about {} to {} times below the others'",
          lambda: tuple(f"{ratio:.0f}" for ratio in last_epoch_rms_above_layer_1(run(RELU_5)))),
    Quote(NB03, "and {} of the {} pixels ({}) are 0 in every training image",
          lambda: (str(blank_pixels().sum()), str(PIXELS), f"{blank_pixels().mean():.0%}")),
    Quote(NB03, "the network reaches {} instead of about {}",
          lambda: (final(run(RELU_5)), about_percent(run(SIGMOID_5).final_validation_accuracy,
                                                     10))),

    Quote(LAB_PAGE, "the default network reaches {} validation accuracy",
          lambda: final(step(0.01))),
    Quote(LAB_PAGE, "step 0.0001 only {} (still rising)", lambda: final(step(0.0001))),
    Quote(LAB_PAGE, "step 0.7 jumps by up to {} points between epochs yet ends at {} with {} of "
          "its 16 ReLUs dead",
          lambda: (largest_jump(step(0.7)), final(step(0.7)), str(dead_count(step(0.7), -1)))),
    Quote(LAB_PAGE, "steps 5 and 10 collapse to chance ({}) in the first epoch, with {} and {} of "
          "16 ReLUs dead",
          lambda: (final(step(5)), str(dead_count(step(5), 1)), str(dead_count(step(10), 1)))),
    Quote(LAB_PAGE, "the 5-layer sigmoid network stays at chance ({}) with step 0.01",
          lambda: final(run(SIGMOID_5))),
    Quote(LAB_PAGE, "with step 0.1 it leaves the plateau only after about {} epochs ({} after 100)",
          lambda: (str(plateau_left(run(SIGMOID_5_STEP_01.replace(max_epochs=100)))),
                   final(run(SIGMOID_5_STEP_01.replace(max_epochs=100))))),
    Quote(LAB_PAGE, "its first layer's RMS gradient per weight is about {} of its last's",
          lambda: first_layer_fraction(run(SIGMOID_5))),
    Quote(LAB_PAGE, "while the 5-layer ReLU network reaches {}", lambda: final(run(RELU_5))),
    Quote(LAB_PAGE, "five seeds of the defaults give {} to {} (mean {}, 95% interval {} to {})",
          lambda: (percent(min(default_seeds())), percent(max(default_seeds())),
                   *(percent(value) for value in summary(default_seeds())[::2]),
                   percent(summary(default_seeds())[3]))),
    Quote(LAB_PAGE, "step 0.02 beats the default by {} points (paired interval {} to {} points,",
          lambda: (points(paired(STEP_002).mean), as_points(paired(STEP_002).low),
                   as_points(paired(STEP_002).high))),
    Quote(LAB_PAGE, "reaches {} on validation and {} on the key",
          lambda: (percent(accuracy(tuning_steps()[-1])), competition_score())),
    # Notebooks 04 and 05

    # Notebooks 04 and 05
    # Notebook 04: the prose and the worked example of the exercise
    Quote(NB04, "({} for five runs)", lambda: f"{t_critical_95(4):.3f}"),
    Quote(NB04, "and 0.88 the mean is {},", lambda: f"{summary(WORKED_EXAMPLE)[0]:.2f}"),
    Quote(NB04, "the squared deviations add up to {}",
          lambda: f"{summary(WORKED_EXAMPLE)[1] ** 2 * 4:.3f}"),
    Quote(NB04, r"\approx {}$.", lambda: f"{summary(WORKED_EXAMPLE)[1]:.4f}"),
    Quote(NB04, r"${} \times {} / \sqrt 5 \approx {}$",
          lambda: (f"{t_critical_95(4):.3f}", f"{summary(WORKED_EXAMPLE)[1]:.7f}",
                   f"{summary(WORKED_EXAMPLE)[3] - summary(WORKED_EXAMPLE)[0]:.4f}")),
    Quote(NB04, "the interval is about {} to {}.",
          lambda: tuple(f"{value:.4f}" for value in summary(WORKED_EXAMPLE)[2:])),
    # Notebook 04's model answer: seeds 0-4 of the defaults
    Quote(NB04, "The final validation accuracies were {}:", five_accuracies),
    Quote(NB04, "mean {}, sample standard deviation",
          lambda: percent(summary(default_seeds())[0])),
    Quote(NB04, "sample standard deviation {} points,",
          lambda: points(summary(default_seeds())[1])),
    Quote(NB04, "95% interval for the mean {} to {}.",
          lambda: tuple(percent(value) for value in summary(default_seeds())[2:])),
    Quote(NB04, "The five runs span {} points.",
          lambda: points(max(default_seeds()) - min(default_seeds()))),
    Quote(NB04, "({} to {} after the first epoch)", first_epoch_range),
    Quote(NB04, "the step sizes 5 and 10 ({})", collapsed_steps),
    Quote(NB04, "and 0.0001 ({}) against {} for the default",
          lambda: (percent(accuracy(DEFAULT.replace(step_size=0.0001))),
                   percent(accuracy(DEFAULT)))),
    Quote(NB04, "the 5-layer sigmoid networks ({} and {}) against the 5-layer ReLU network ({})",
          lambda: (percent(accuracy(SIGMOID_5)), percent(accuracy(SIGMOID_5_STEP_01)),
                   percent(accuracy(RELU_5)))),
    Quote(NB04, "({} against {} with seed 0)",
          lambda: (percent(accuracy(RELU_5)), percent(accuracy(DEFAULT)))),
    Quote(NB04, "it is worse by {} points, 95% interval {} to {} points, which excludes 0",
          lambda: (points(-paired(RELU_5).mean), as_points(paired(RELU_5).low),
                   as_points(paired(RELU_5).high))
          if paired(RELU_5).excludes_zero else "includes 0"),
    Quote(NB04, "step 0.02 beat the default by {} points, interval {} to {} points",
          lambda: (points(paired(STEP_002).mean), as_points(paired(STEP_002).low),
                   as_points(paired(STEP_002).high)) if paired(STEP_002).excludes_zero
          else "includes 0"),
    Quote(NB04, "own intervals ({} to {} and {} to {}) overlap",
          lambda: tuple(percent(value) for settings in (DEFAULT, STEP_002)
                        for value in summary(over_seeds(settings))[2:])),
    Quote(NB04, "the choice of the {} validation images", validation_size),
    Quote(NB04, "a sampling error of about ±{} point of its own", sampling_error),
    Quote(NB04, "at $p$ = {}, $n$ = {})",
          lambda: (percent(summary(default_seeds())[0]), validation_size())),
    # Notebook 05: the prose and the model answer (seed 0, one change at a time)
    Quote(NB05, "The data includes {} **competition images**",
          lambda: f"{len(lab_data().test_images):,}"),
    Quote(NB05, "with ids 1 to {}.", lambda: f"{len(lab_data().test_images):,}"),
    Quote(NB05, "The default settings reach about {} on validation",
          lambda: f"{accuracy(DEFAULT):.0%}"),
    Quote(NB05, "Baseline, the defaults: {}.", lambda: percent(accuracy(tuning_steps()[0]))),
    Quote(NB05, "Step size 0.01 -> 0.1, nothing else changed: {}.",
          lambda: percent(accuracy(tuning_steps()[1]))),
    Quote(NB05, "Width 16 -> 128 units, keeping step 0.1: {}.",
          lambda: percent(accuracy(tuning_steps()[2]))),
    Quote(NB05, "keeping width 128 and step 0.1: {}.",
          lambda: percent(accuracy(tuning_steps()[3]))),
    Quote(NB05, "Its training accuracy reaches {},",
          lambda: percent(run(tuning_steps()[3]).train_accuracy[-1])),
    Quote(NB05, "Final settings: `{}`, {} on validation ({} on the competition images).",
          lambda: (repr(tuning_steps()[3]), percent(accuracy(tuning_steps()[3])),
                   competition_score())),
    Quote(NB05, "Each change gained {} to {} points with seed 0",
          lambda: (points(min(tuning_gains())), points(max(tuning_gains())))),
    Quote(NB05, "in notebook 04 ({} points), and the three together gained {} points",
          lambda: (points(summary(default_seeds())[1]), points(sum(tuning_gains())))),
]


@functools.cache
def prose(file: str) -> str:
    """The file's prose with all whitespace runs made one space: a notebook's markdown cells
    (model answers included), or the whole of a text file."""
    text = (ROOT / file).read_text(encoding="utf-8")
    if file.endswith(".ipynb"):
        text = "\n\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"]
                           if cell["cell_type"] == "markdown")
    return " ".join(text.split())


def fill(phrase: str, numbers: tuple[str, ...]) -> str:
    parts = phrase.split("{}")
    assert len(parts) == len(numbers) + 1, f"{phrase!r} needs {len(parts) - 1} numbers"
    return "".join(part + number for part, number in zip(parts, numbers + ("",), strict=True))


def as_written(text: str, phrase: str) -> str | None:
    """The phrase as the text has it now, whatever its numbers, or None."""
    pattern = "(.+?)".join(re.escape(part) for part in phrase.split("{}"))
    found = re.search(pattern, text)
    return found.group(0) if found else None


@pytest.mark.parametrize("quote", QUOTES, ids=lambda quote: f"{quote.file}: {quote.phrase}")
def test_the_text_quotes_what_the_code_computes(quote):
    numbers = quote.numbers()
    numbers = (numbers,) if isinstance(numbers, str) else tuple(numbers)
    expected = fill(" ".join(quote.phrase.split()), numbers)
    text = prose(quote.file)
    if expected not in text:
        now = as_written(text, " ".join(quote.phrase.split()))
        where = (f"it now reads {now!r}" if now else
                 f"no phrase of the form {quote.phrase!r} is there any more (update its row)")
        pytest.fail(f"{quote.file}: {where}; the code now gives {', '.join(numbers)}, so write "
                    f"{expected!r}.", pytrace=False)


def test_every_row_names_a_file_of_the_repository_and_a_number():
    for quote in QUOTES:
        assert (ROOT / quote.file).is_file(), quote.file
        assert "{}" in quote.phrase, quote.phrase
