"""Student's t critical values, for 95% confidence intervals from a handful of runs.

With five seeds the sample standard deviation is itself uncertain, so the interval of the
mean uses t with n - 1 degrees of freedom rather than the normal's 1.96. The table is the
usual printed one (three decimals); numpy has no t distribution and scipy is not needed
for one column of numbers.
"""

from __future__ import annotations

from numbers import Integral

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
