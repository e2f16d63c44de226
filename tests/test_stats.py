"""t_critical_95 against an independent oracle: Student's t density integrated numerically, so
no critical value is typed in by hand."""

import math

import numpy as np
import pytest

from digitlab.stats import Z_975, t_critical_95

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
