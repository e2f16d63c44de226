"""The hidden check of notebook 04's summarize_accuracies, judged where no student code runs.

A hidden test cell in notebook 04 calls check("summary_check", "--quantity", "mean-std",
...) (digitlab.course.checks.hidden_check), which runs

    python -I -m digitlab.course.checks.summary_check --quantity mean-std --sizes 2,7,40 --seed 404

and passes when it exits with status 0. This process draws lists of accuracies, has a child
process (digitlab.course.checks.run_summary) run the student's function from the saved notebook on
them, and judges the numbers it sends back. The grader runs the same check from its own
process (digitlab.course.checks.verify_outside calls `outside`).

No summary is computed here: each of the student's numbers is judged by the property that
defines it, so this package holds no answer to the exercise that a student could call.
The mean m is the number the deviations sum to zero around; the sample standard deviation s
satisfies s^2 (n - 1) = sum of (x - m)^2; the 95% interval is centred on the mean and its
half-width h satisfies (h sqrt(n) / t)^2 (n - 1) = the same sum, with t = t_critical_95(n - 1)
from this process's own digitlab.stats.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from digitlab.course.checks.box import HiddenCheck, whole_numbers
from digitlab.course.checks.registry import module_name
from digitlab.course.checks.run_summary import NOTEBOOK_04
from digitlab.course.checks.student_cases import new_seed, vary
from digitlab.stats import t_critical_95

QUANTITIES = ("mean-std", "interval")
CHILD_SECONDS = 60  # far more than any summary of a few numbers needs
RELATIVE = 1e-9  # as the notebook's own tests: the same formula, up to rounding


def draw_lists(sizes: list[int], seed: int) -> list[np.ndarray]:
    """One list of accuracies in [0.7, 0.95] per size, like the final accuracies of seeds."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.7, 0.95, size) for size in sizes]


def _centred(values: np.ndarray, centre: float) -> bool:
    """Whether the deviations of values from centre sum to zero: centre is their mean."""
    return abs(np.sum(values - centre)) <= RELATIVE * len(values) * abs(centre)


def _spread(values: np.ndarray, centre: float, scale: float) -> bool:
    """Whether scale^2 (n - 1) is the sum of squared deviations from centre: scale is the
    sample standard deviation."""
    squares = np.sum((values - centre) ** 2)
    return scale >= 0 and abs(scale**2 * (len(values) - 1) - squares) <= 2 * RELATIVE * squares


def judge(values: np.ndarray, result: dict, quantity: str) -> list[str]:
    """The problems with what the function returned for one list; [] when it is right."""
    if "error" in result:
        return [result["error"]]
    summary = result.get("summary")
    if summary is None or summary.shape != (4,):
        shape = "nothing" if summary is None else f"an array of shape {summary.shape}"
        return [f"return four numbers (mean, std, low, high); it returned {shape}"]
    mean, std, low, high = (float(number) for number in summary)
    n = len(values)
    if quantity == "mean-std":
        if not _centred(values, mean):
            return [f"the mean {mean!r} is not the average of the values"]
        if not _spread(values, mean, std):
            return [f"the std {std!r} is not the sample standard deviation (divide by n - 1)"]
        return []
    centre, half_width = (low + high) / 2, (high - low) / 2
    if not _centred(values, centre):
        return [f"the interval ({low!r}, {high!r}) is not centred on the mean"]
    if not _spread(values, centre, half_width * np.sqrt(n) / t_critical_95(n - 1)):
        return [f"the interval ({low!r}, {high!r}) does not have the half-width "
                "t_critical_95(n - 1) * std / sqrt(n)"]
    return []


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=whole_numbers, required=True,
                        help="how many accuracies in each list, e.g. 2,7,40")


def personalize(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """One student's lists near the cell's: each size varied (2, the fewest with a sample
    standard deviation, kept), a new seed."""
    args.sizes = [vary(rng, size, kept_up_to=2) for size in args.sizes]
    args.seed = new_seed(rng)


CHECK = HiddenCheck(
    prog=module_name("summary_check"), description=__doc__.splitlines()[0],
    child=f"{__package__}.run_summary", subject="your summarize_accuracies",
    notebook=NOTEBOOK_04, quantities=QUANTITIES, cases_name="lists", add_options=_options,
    draw=lambda args: [{"accuracies": values} for values in draw_lists(args.sizes, args.seed)],
    judge=lambda args, case, result: judge(case["accuracies"], result, args.quantity),
    label=lambda case: f"{len(case['accuracies'])} accuracies", seconds=CHILD_SECONDS,
    result_names=("summary", "error"), personalize=personalize)
# The grader's runs (verify_outside, through the registry) and the in-kernel command line.
outside, outcome, main = CHECK.outside, CHECK.outcome, CHECK.main


if __name__ == "__main__":
    sys.exit(main())
