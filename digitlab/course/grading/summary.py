"""What `digitlab grade` shows: a progress line per student, then the class's summary table.

    result = grade_class(course, "digit-lab", jobs=2, progress=ProgressBar(sys.stderr))
    print("\\n".join(summary(result)))

Only presentation: it reads the ClassResult that grade.grade_class returns and changes
nothing. A student's problems are named in one phrase each, e.g. "04-randomness: CPU time
limit (killed after 60 s of CPU)"; `digitlab report` lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from digitlab.course.grading.grade import ClassResult, StudentResult

# The summary shows at most this many lines of problems per student, the last saying how many
# more there are; `digitlab report` lists them all.
MAX_PROBLEM_LINES = 5
# How the summary names each limit of records.LIMITS.
LIMIT_NAMES = {"cpu": "CPU time limit", "wall": "wall-clock limit", "memory": "memory limit",
               "processes": "process limit", "output": "output limit",
               "kernel_died": "kernel died", "endless_loop": "endless loop"}


def _points(value: float) -> str:
    return f"{value:g}"


def describe(result: StudentResult) -> tuple[str, str]:
    """(status, score) of one student as the summary and the progress line show them."""
    status = "graded" if result.record.status == "graded" else "NOT GRADED"
    if result.score is None:
        return status, "-"
    return status, f"{_points(result.score.score)}/{_points(result.score.max_score)}"


class ProgressBar:
    """`[ 12/40] alice graded 14/36 in 9.1 s` on one line rewritten in place on a terminal,
    one line per student otherwise (a log file, CI)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.in_place = stream.isatty()
        self._width = 0

    def update(self, done: int, total: int, result: StudentResult) -> None:
        status, score = describe(result)
        line = " ".join([f"[{done:>{len(str(total))}}/{total}]", result.record.student, status,
                         *([score] if result.score else []),
                         f"in {result.record.seconds:.1f} s"])
        if self.in_place:
            # Padded to the longest line so far, so no tail of an earlier one stays visible.
            self._width = max(self._width, len(line))
            self.stream.write("\r" + line.ljust(self._width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.in_place and self._width:
            self.stream.write("\n")
            self.stream.flush()


def problems(result: StudentResult) -> list[str]:
    """Every problem of one student, as the summary names them: why grading failed, the
    notes (files left out, notebooks missing), limit hits, patched checks and integrity
    findings, e.g. "04-randomness: CPU time limit (killed after 60 s of CPU)"."""
    record = result.record
    return [*([record.error] if record.error else []), *record.notes,
            *(f"{Path(hit.notebook).stem}: {LIMIT_NAMES[hit.limit]} "
              f"({hit.detail})" for hit in record.limits),
            *(f"{_where(check.notebook, check.grade_id)}: patched check"
              for check in record.patched_checks),
            *(f"{_where(finding.notebook, finding.grade_id)}: {finding.kind.replace('_', ' ')}"
              for finding in result.findings)]


def _where(notebook: str, grade_id: str) -> str:
    """"01-linear-backward test-sizes", or only the notebook's part when there is no cell."""
    return " ".join(part for part in (Path(notebook).stem, grade_id) if part)


def _shortened(found: list[str]) -> list[str]:
    """At most MAX_PROBLEM_LINES lines, the last saying how many more there are."""
    if len(found) <= MAX_PROBLEM_LINES:
        return found
    shown_lines = found[:MAX_PROBLEM_LINES - 1]
    return [*shown_lines, f"... and {len(found) - len(shown_lines)} more (digitlab report "
                          "lists them all)"]


def summary(result: ClassResult) -> list[str]:
    """The table of every student (student, status, score, seconds, problems), then totals.

    A student's problems take one line each, below one another in the last column (at most
    MAX_PROBLEM_LINES), so the table stays readable however many there are.
    """
    rows = [("student", "status", "score", "seconds", "problems")]
    more = {}  # the row's index: its problems after the first
    for student in result.results:
        status, score = describe(student)
        found = _shortened(problems(student))
        more[len(rows)] = found[1:]
        rows.append((student.record.student, status, score, f"{student.record.seconds:.1f}",
                     found[0] if found else ""))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    indent = " " * (sum(widths) + 2 * 4)
    lines = []
    for index, row in enumerate(rows):
        lines.append(("  ".join(cell.ljust(width) for cell, width
                                in zip(row[:4], widths, strict=True)) + "  " + row[4]).rstrip())
        lines += [indent + problem for problem in more.get(index, [])]
    failed = [student.record.student for student in result.results
              if student.record.status != "graded"]
    count = len(result.results)
    lines += ["", f"{count} students: {count - len(failed)} graded, {len(failed)} not graded"
              + (f" ({', '.join(failed)})" if failed else "") + "."
              f" Wall time {result.seconds:.1f} s with {result.jobs} jobs, "
              f"{result.seconds / count:.1f} s per student.",
              "Scores are the autograded points: written answers count once graded by hand "
              "(nbgrader formgrader)."]
    if result.retried:
        lines.append("Graded again after a lost worker: " + "; ".join(
            f"{student} ({why})" for student, why in result.retried) + ".")
    if result.skipped:
        lines.append(f"Not graded again, their submission already graded: "
                     f"{', '.join(result.skipped)} (--force grades them again).")
    if result.scan_error:
        lines.append(f"No integrity scan: {result.scan_error}")
    lines += [f"Grading limits weakened here: {weakness}" for weakness in result.weaker_limits]
    return lines
