"""t_critical_95 against an independent oracle: Student's t density integrated numerically, so
no critical value is typed in by hand. The paired comparison against hand-worked cases and the
statistics module."""

import math
import statistics

import numpy as np
import pytest

from digitlab.stats import Z_975, compare_paired, t_critical_95

HALF_LAST_DIGIT = 5e-4  # the table and the expansion promise three decimals
LARGE_DF = (31, 40, 60, 120, 1000)  # beyond the table: the Cornish-Fisher expansion


def t_density(t, df: int):
    """Student's t probability density with df degrees of freedom, via log-gamma."""
    log_scale = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return np.exp(log_scale - (df + 1) / 2 * np.log1p(np.asarray(t) ** 2 / df))


def coverage(t: float, df: int, intervals: int = 20_000) -> float:
    """P(-t < T < t), by composite Simpson on [0, t] doubled (the density is even)."""
    x = np.linspace(0.0, t, intervals + 1)
    y = t_density(x, df)
    h = t / intervals
    return float(2 * h / 3 * (y[0] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum() + y[-1]))


def test_the_oracle_knows_the_cauchy_and_normal_limits():
    """With 1 df, t is Cauchy (P(|T| < 1) = 1/2); with many df, close to the normal's 0.95."""
    assert coverage(1.0, 1) == pytest.approx(0.5, abs=1e-12)
    assert coverage(Z_975, 10**6) == pytest.approx(0.95, abs=1e-6)


@pytest.mark.parametrize("df", [*range(1, 31), *LARGE_DF])
def test_the_interval_holds_95_percent_to_three_decimals(df):
    """The coverage of ±t is 0.95, to within what rounding t to three decimals can move it.

    Moving t by d moves the coverage by 2 * density * d, and the density falls beyond t, so
    the largest allowed shift uses the density half a last digit below t.
    """
    t = t_critical_95(df)
    tolerance = 2 * float(t_density(t - HALF_LAST_DIGIT, df)) * HALF_LAST_DIGIT
    assert abs(coverage(t, df) - 0.95) <= tolerance


def test_values_fall_with_df_and_stay_above_the_normal_quantile():
    """More degrees of freedom give a narrower interval, never narrower than the normal's."""
    values = [t_critical_95(df) for df in range(1, 2001)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert Z_975 == 1.959964 and min(values) > Z_975


def test_numpy_integers_are_accepted():
    """A count from numpy (len of an array minus one, np.int64) works like an int."""
    assert t_critical_95(np.int64(4)) == t_critical_95(4) == 2.776


@pytest.mark.parametrize("bad", [0, -1, 2.5, 4.0, "4", None, True, False])
def test_bad_degrees_of_freedom_are_refused_with_a_reason(bad):
    """Not a whole number >= 1 raises a ValueError that says to pass n - 1; bool counts as bad,
    since True there is a slip (a comparison passed by mistake), not one degree of freedom."""
    with pytest.raises(ValueError, match=r"n runs give n - 1") as error:
        t_critical_95(bad)
    assert repr(bad) in str(error.value) and "at least two runs" in str(error.value)


def oracle_summary(values):
    """mean, sample std and 95% t interval by the statistics module, apart from digitlab."""
    mean, std = statistics.fmean(values), statistics.stdev(values)
    half_width = t_critical_95(len(values) - 1) * std / math.sqrt(len(values))
    return mean, std, mean - half_width, mean + half_width


FIRST = [0.80, 0.82, 0.84, 0.86, 0.88]


def test_the_paired_interval_of_a_hand_worked_case():
    """Differences 0.01, 0.03, 0.02, 0.04, 0.00: mean 0.02, squared deviations 0.001 in all,
    s = sqrt(0.001 / 4) = 0.0158114, half-width 2.776 * s / sqrt(5) = 0.0196293."""
    second = [0.81, 0.85, 0.86, 0.90, 0.88]
    comparison = compare_paired(FIRST, second, oracle_summary)
    assert comparison.differences == pytest.approx((0.01, 0.03, 0.02, 0.04, 0.00))
    assert comparison.mean == pytest.approx(0.02)
    assert (comparison.low, comparison.high) == pytest.approx((0.0003707, 0.0396293), abs=1e-7)
    assert comparison.excludes_zero
    assert str(comparison) == (
        "Paired by seed, second minus first: mean difference +2.0 points, 95% interval +0.0 to "
        "+4.0 points over 5 seeds. The interval excludes 0: the second setting is better, by "
        "more than the seed alone explains.")


def test_pairing_removes_what_a_seed_does_to_both_settings():
    """A seed that is lucky or unlucky for both settings alike moves both results by the same
    amount. The unpaired intervals widen until they overlap; the paired one does not move."""
    gap = np.array([0.010, 0.012, 0.008, 0.011, 0.009])
    shared = np.array([0.05, -0.04, 0.02, -0.03, 0.0])  # the seed's effect on both
    first = np.full(5, 0.85) + shared
    second = first + gap
    paired = compare_paired(first, second, oracle_summary)
    assert paired == compare_paired(first - shared, second - shared, oracle_summary)
    assert paired.excludes_zero and paired.mean == pytest.approx(0.010)
    (_, _, low_1, high_1), (_, _, low_2, high_2) = map(oracle_summary, (first, second))
    assert low_1 <= high_2 and low_2 <= high_1  # the intervals overlap all the same


def test_an_interval_that_includes_zero_says_the_seeds_cannot_tell():
    second = np.add(FIRST, [-0.01, 0.01, 0.0, -0.02, 0.02])
    comparison = compare_paired(FIRST, second, oracle_summary)
    assert not comparison.excludes_zero and comparison.low < 0 < comparison.high
    assert str(comparison).endswith("The interval includes 0: these seeds cannot tell the two "
                                    "settings apart.")
    worse = compare_paired(second, np.subtract(second, 0.03), oracle_summary)
    assert worse.excludes_zero and "the first setting is better" in str(worse)


def test_the_summary_function_receives_the_differences_seed_by_seed():
    seen = []
    compare_paired([0.5, 0.6], [0.7, 0.5], lambda values: seen.append(values) or (0, 0, 0, 0))
    np.testing.assert_allclose(seen[0], [0.2, -0.1])


@pytest.mark.parametrize("first, second, words", [
    ([0.8, 0.9], [0.8], "got 2 and 1 results"),
    ([0.8], [0.9], "at least two"),
    ([0.8, float("nan")], [0.8, 0.9], "a run did not finish"),
])
def test_unpaired_results_are_refused_with_a_reason(first, second, words):
    with pytest.raises(ValueError, match=words):
        compare_paired(first, second, oracle_summary)


def test_a_summary_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"summarize must return \(mean, std, low, high\)"):
        compare_paired([0.8, 0.9], [0.7, 0.9], lambda values: values)
