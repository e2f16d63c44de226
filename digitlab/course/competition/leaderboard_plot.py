"""The leaderboard as a figure: each ranked student's accuracy against their rank.

Kept apart from digitlab.course.competition.leaderboard so that scoring never imports matplotlib. It
draws with digitlab.plots' figure class and Okabe-Ito palette, and tells the series apart by
marker and line style too, so the figure reads in grey.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from digitlab.course.competition.leaderboard import Row
from digitlab.plots import PALETTE, new_figure

# (attribute of Score, legend label, colour, marker, line style, filled); the ranked-by one
# first. The public marks are hollow so that a private mark under them stays visible.
_SERIES = {
    "final": [("private", "private part (ranks)", PALETTE[0], "o", "-", True),
              ("public", "public part", PALETTE[1], "s", "none", False)],
    "public": [("public", "public part (ranks)", PALETTE[1], "s", "-", True)],
}


def leaderboard_figure(rows: list[Row], which: str, title: str) -> Figure:
    """Accuracy (y, percent) against rank (x) for the ranked rows of a board.

    rows: from leaderboard.board(..., which); students with problems have no rank and are
    counted in the subtitle. On the final board the public accuracy is drawn too, so a large
    gap between a student's two marks shows over-tuning to the public board.
    """
    ranked = [row for row in rows if row.rank is not None]
    fig = new_figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    ranks = [row.rank for row in ranked]
    for attribute, label, colour, marker, linestyle, filled in _SERIES[which]:
        ax.plot(ranks, [getattr(row.score, attribute) for row in ranked], label=label,
                color=colour, marker=marker, linestyle=linestyle, markersize=6,
                markerfacecolor=colour if filled else "none", linewidth=1)
    ax.set_xlabel("rank (ties share a rank)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy")
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_ylim(top=min(ax.get_ylim()[1], 1.01))  # no room above 100%, which nobody passes
    ax.grid(alpha=0.3)
    if ranked:
        ax.legend(loc="lower left")
    problems = len(rows) - len(ranked)
    ax.set_title(f"{title}\n{len(ranked)} ranked, {problems} with a missing or malformed "
                 "submission (listed in the CSV)")
    return fig
