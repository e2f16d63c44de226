"""The class report as one self-contained HTML page, with its two figures.

Kept apart from digitlab.course.report.class_report so that gathering the report never imports
matplotlib. The figures use digitlab.plots' figure class and Okabe-Ito palette and differ by
hatching too, so they read in grey. The page has no external CSS, JavaScript or images (the
figures are base64 PNGs), and every piece of text is HTML-escaped: student ids, outputs and
explanations come from students' files.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from digitlab.course.grading.integrity import KINDS
from digitlab.course.report.class_report import REPORT_KINDS, ClassReport, summary_statistics
from digitlab.plots import PALETTE, new_figure, png_bytes

TOP_CELLS = 10
TOP_DIAGNOSES = 10
_STYLE = """body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#eee}td.n{text-align:right}
img{max-width:100%}"""


def score_histogram(report: ClassReport) -> Figure:
    """How many students (y) reached each total score (x, bins of one point)."""
    totals = [s.total for s in report.scores if s.total is not None]
    top = max(summary_statistics(report)["max_total"], 1.0)
    fig = new_figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.hist(totals, bins=np.arange(0, np.ceil(top) + 2) - 0.5, color=PALETTE[0],
            edgecolor="black", hatch="//")
    ax.set_xlabel(f"total score (of {top:g})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{report.assignment}: scores of {len(totals)} students in the gradebook")
    return fig


def failed_cells_chart(report: ClassReport, top: int = TOP_CELLS) -> Figure:
    """Students who failed (wrong answer) or errored (crash, not written) on each of the
    `top` most-failed test cells, as stacked horizontal bars, the most failed on top."""
    cells = [c for c in report.cells if c.failed + c.errored][:top][::-1]
    fig = new_figure(figsize=(7, 1.2 + 0.4 * max(len(cells), 1)), layout="constrained")
    ax = fig.subplots()
    labels = [f"{c.notebook[:2]} {c.grade_id}" for c in cells]
    failed = [c.failed for c in cells]
    ax.barh(labels, failed, color=PALETTE[1], edgecolor="black", hatch="..",
            label="failed (wrong answer)")
    ax.barh(labels, [c.errored for c in cells], left=failed, color=PALETTE[2],
            edgecolor="black", hatch="xx", label="errored (raised, not written, timed out)")
    ax.set_xlabel("students")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("The most-failed test cells" if cells else "No test cell was failed")
    if cells:  # below the axes, where it covers no bar
        fig.legend(loc="outside lower center", ncols=2)
    return fig


def render_html(report: ClassReport) -> str:
    """The whole page as a string."""
    stats = summary_statistics(report)
    kinds = {**KINDS, **REPORT_KINDS}
    sections = [
        f"<h1>Class report: {_e(report.assignment)}</h1>",
        f"<p>{stats['students']} students; mean total {stats['mean']:.1f}, median "
        f"{stats['median']:.1f} of {stats['max_total']:g} points; {len(report.integrity)} "
        "integrity findings.</p>",
        "<h2>Score distribution</h2>", _image(score_histogram(report), "score histogram"),
        "<h2>Most-failed test cells</h2>", _image(failed_cells_chart(report),
                                                  "most-failed test cells"),
        _table(["notebook", "test cell", "points", "passed", "failed", "errored", "ungraded",
                "fail rate", "most frequent failure"],
               [[c.notebook, c.grade_id, f"{c.max_points:g}", c.passed, c.failed, c.errored,
                 c.ungraded, f"{c.fail_rate:.0%}", c.top_error]
                for c in report.cells[:TOP_CELLS]]),
        "<h2>Gradient-checker diagnoses of Linear.backward</h2>",
        _table(["diagnosis (numbers as #)", "students", "times", "test cells"],
               [[d.text, d.students, d.occurrences, ", ".join(d.cells)]
                for d in report.diagnoses[:TOP_DIAGNOSES]]),
        "<h2>Integrity</h2>",
        _table(["student", "notebook", "kind", "grade id", "explanation"],
               [[f.student, f.notebook, f.kind, f.grade_id, f.explanation]
                for f in report.integrity]),
        "<h3>What each kind means</h3>",
        _table(["kind", "meaning"], [[kind, meaning] for kind, meaning in kinds.items()]),
        "<h2>Scores</h2>",
        _table(["student", "total", *report.notebooks, "graded", "flags"],
               [[s.student, "" if s.total is None else f"{s.total:g}",
                 *[f"{s.notebooks.get(n, 0):g}" if n in s.notebooks else ""
                   for n in report.notebooks],
                 "yes" if s.graded else "no", ", ".join(s.flags)] for s in report.scores]),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Class report: {_e(report.assignment)}</title><style>{_STYLE}</style>"
            "</head><body>\n" + "\n".join(sections) + "\n</body></html>\n")


def write_html(report: ClassReport, out: str | Path) -> Path:
    """Write out/<assignment>.html and return its path."""
    path = Path(out) / f"{report.assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _image(fig: Figure, alt: str) -> str:
    encoded = base64.b64encode(png_bytes(fig)).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{encoded}"></p>'


def _table(header: list[str], rows: list[list]) -> str:
    """An HTML table with escaped cells; numbers right-aligned; a line saying "none" if empty."""
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{value}</td>' if isinstance(value, int) else f"<td>{_e(value)}</td>"
        for value in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"
