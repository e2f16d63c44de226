"""Student's t critical values, for 95% confidence intervals from a handful of runs, and the
paired comparison of two settings trained over the same seeds.

With five seeds the sample standard deviation is itself uncertain, so the interval of the
mean uses t with n - 1 degrees of freedom rather than the normal's 1.96. The table is the
usual printed one (three decimals); numpy has no t distribution and scipy is not needed
for one column of numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

# t such that P(-t < T < t) = 0.95 for T with 1, 2, ..., 30 degrees of freedom.
T_95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
Z_975 = 1.959964  # the normal quantile that t approaches as the degrees of freedom grow


def t_critical_95(degrees_of_freedom: int) -> float:
    """The two-sided 95% critical value of Student's t; for n runs, pass n - 1.

    Exact to the table's three decimals up to 30 degrees of freedom; beyond that, the
    Cornish-Fisher expansion around the normal quantile, which is as accurate there.
    """
    # bool is an Integral, but True here is a mistake (a comparison passed by accident), not 1.
    whole = isinstance(degrees_of_freedom, Integral) and not isinstance(degrees_of_freedom, bool)
    if not whole or degrees_of_freedom < 1:
        raise ValueError(
            f"degrees_of_freedom must be a whole number >= 1 (n runs give n - 1), "
            f"got {degrees_of_freedom!r}. An interval needs at least two runs."
        )
    if degrees_of_freedom <= len(T_95):
        return T_95[degrees_of_freedom - 1]
    z, df = Z_975, degrees_of_freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def paired_differences(first: Sequence[float], second: Sequence[float]) -> np.ndarray:
    """second - first, seed by seed: (n,) from two (n,) lists of results over the same seeds.

    Entry i must come from seed i in both lists; that pairing is what the comparison rests on.
    """
    first_values, second_values = (np.asarray(values, dtype=float).ravel()
                                   for values in (first, second))
    if len(first_values) != len(second_values) or len(first_values) < 2:
        raise ValueError(
            f"A paired comparison needs one result per seed from each setting, over the same "
            f"seeds, at least two; got {len(first_values)} and {len(second_values)} results. "
            "Train both settings with the same seeds.")
    if not (np.isfinite(first_values).all() and np.isfinite(second_values).all()):
        raise ValueError("A paired comparison needs finite results; a NaN or infinite one "
                         "means a run did not finish. Train it again.")
    return second_values - first_values


@dataclass(frozen=True)
class PairedComparison:
    """Two settings over the same seeds: each seed's difference (second minus first) and the
    95% interval of their mean, the paired t interval.

    differences: (n,) one per seed. mean, low, high: the mean difference and its interval.
    """

    differences: tuple[float, ...]
    mean: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval leaves out 0, i.e. the seeds tell the two settings apart."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        """The verdict in one plain sentence, differences in percentage points."""
        seeds = len(self.differences)
        shown = (f"mean difference {as_points(self.mean)} points, 95% interval "
                 f"{as_points(self.low)} to {as_points(self.high)} points over {seeds} seeds")
        if self.excludes_zero:
            better = "second" if self.mean > 0 else "first"
            return (f"Paired by seed, second minus first: {shown}. The interval excludes 0: the "
                    f"{better} setting is better, by more than the seed alone explains.")
        return (f"Paired by seed, second minus first: {shown}. The interval includes 0: these "
                "seeds cannot tell the two settings apart.")


def compare_paired(
    first: Sequence[float],
    second: Sequence[float],
    summarize: Callable[[np.ndarray], Sequence[float]],
) -> PairedComparison:
    """The paired comparison of two settings' results over the same seeds (entry i: seed i).

    summarize: accuracies (n,) -> (mean, std, low, high), the 95% t interval of a mean (the
    lab's summarize_accuracies). Applied to the per-seed differences it gives the paired
    interval: whatever a seed does to both settings alike cancels in the difference, so only
    the seed's effect on the difference itself is left to widen the interval. The interval's
    formula stays with the caller, because writing it is notebook 04's exercise.
    """
    differences = paired_differences(first, second)
    summary = tuple(summarize(differences))
    if len(summary) != 4:
        raise ValueError(f"summarize must return (mean, std, low, high); got {summary!r}.")
    mean, _, low, high = (float(value) for value in summary)
    return PairedComparison(tuple(differences.tolist()), mean, low, high)


def as_points(difference: float) -> str:
    """A difference of accuracies in percentage points with its sign, e.g. "+0.9"."""
    return f"{100 * difference:+.1f}"
