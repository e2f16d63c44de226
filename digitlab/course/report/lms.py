"""Grades out to the LMS: the gradebook's scores as a file Canvas or Moodle imports as it is.

The roster maps nbgrader's student ids to the LMS's own identities: a CSV with a column
`nbgrader_id` beside the LMS's identity columns, so an instructor starts from the LMS's own
export and adds one column.

    canvas  the Gradebook import CSV: Student, ID, SIS User ID, SIS Login ID, Section (the
            columns of Canvas's gradebook export, in its order), then one column per grade
            named after the assignment, and under the header the "Points Possible" row that
            Canvas's export has and its import reads for a new assignment's points.
    moodle  the "Import grades from CSV" file, which is Moodle's own export layout: the
            roster's user fields among those of Moodle's export (First name, Last name, ID
            number, Institution, Department, Email address, Username; one of Email address,
            ID number or Username is what the import's "Map from" matches), then one column
            per grade.
    csv     nbgrader_id, every other roster column, then the grades: for any other system.

Nobody is dropped silently. A roster entry without a submission in the gradebook keeps its
row with empty grade cells (an LMS import leaves an empty cell alone) and is named in
Export.unmatched; so is a graded student missing from the roster, who cannot have a row.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from digitlab.course.grading.gradebook import StudentScore, course_settings, read_scores
from digitlab.course.tables import write_table

ROSTER_ID = "nbgrader_id"
# Canvas's gradebook export starts with these columns, in this order, and its import
# matches a row to a student by them.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# Canvas's export puts the points of each assignment on the row under the header.
CANVAS_POINTS_ROW = "    Points Possible"
# Moodle's CSV import maps a user by one of these ("Map from" -> "Map to").
MOODLE_IDENTIFIERS = ("Email address", "ID number", "Username")
# The user fields of Moodle's grade export; its grade columns are left behind.
MOODLE_USER_FIELDS = ("First name", "Last name", "ID number", "Institution", "Department",
                      "Email address", "Username")
FORMATS = ("canvas", "moodle", "csv")


class RosterError(ValueError):
    """The roster cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Roster:
    """The roster's identity columns (nbgrader_id left out) and its entries, in file order:
    (nbgrader id, or "" where the instructor left it empty; the identity cells)."""

    columns: tuple[str, ...]
    entries: tuple[tuple[str, dict[str, str]], ...]


@dataclass
class Export:
    """The rows of one export and whoever could not be matched, by name."""

    columns: list[str]
    rows: list[dict]  # for Canvas, the Points Possible row first
    students: int  # the roster's entries, each with a row
    no_submission: list[str] = field(default_factory=list)  # roster entries, as "id (name)"
    not_on_roster: list[str] = field(default_factory=list)  # graded nbgrader ids

    @property
    def unmatched(self) -> list[str]:
        """One line per person left without a grade in the file."""
        return ([f"on the roster, no submission in the gradebook: {entry}"
                 for entry in self.no_submission]
                + [f"graded, missing from the roster: {student}"
                   for student in self.not_on_roster])


def read_roster(path: str | Path, lms: str) -> Roster:
    """The roster at path for lms (one of FORMATS); RosterError when a column is missing,
    an nbgrader id repeats, or the file is not there. Canvas's "Points Possible" row, which
    an instructor starting from Canvas's export still has, is skipped."""
    path = Path(path)
    try:
        # utf-8-sig: Canvas and Excel begin their CSV files with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            header = tuple(reader.fieldnames or ())
            records = list(reader)
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"Cannot read the roster {path}: {error}") from error
    start = f"Start from the LMS's own export and add a column {ROSTER_ID}."
    if ROSTER_ID not in header:
        raise RosterError(f"The roster {path} has no column {ROSTER_ID!r} (it has "
                          f"{', '.join(header) or 'no header'}): add it, holding each "
                          f"student's nbgrader id. {start}")
    columns = tuple(column for column in header if column != ROSTER_ID)
    if lms == "canvas" and (missing := [c for c in CANVAS_IDENTITY if c not in columns]):
        raise RosterError(f"The roster {path} lacks Canvas's columns {', '.join(missing)}. "
                          f"{start}")
    if lms == "canvas":
        columns = CANVAS_IDENTITY
    records = [record for record in records
               if (record.get("Student") or "").strip() != CANVAS_POINTS_ROW.strip()]
    if lms == "moodle":
        columns = tuple(column for column in columns if column in MOODLE_USER_FIELDS)
    if lms == "moodle" and not set(MOODLE_IDENTIFIERS) & set(columns):
        raise RosterError(f"The roster {path} has none of Moodle's identifiers "
                          f"({', '.join(MOODLE_IDENTIFIERS)}): Moodle's import could not "
                          f"match a row to a user. {start}")
    entries = tuple(((record[ROSTER_ID] or "").strip(),
                     {column: record[column] or "" for column in columns})
                    for record in records)
    ids = [student for student, _ in entries if student]
    if repeated := sorted({student for student in ids if ids.count(student) > 1}):
        raise RosterError(f"The roster {path} gives these nbgrader ids to more than one "
                          f"row: {', '.join(repeated)}. Keep one row per student.")
    return Roster(columns, entries)


def grade_columns(assignment: str, notebooks: list[str], total: bool,
                  per_notebook: bool) -> list[tuple[str, str | None]]:
    """[(column name, notebook or None for the total)]: the total is named after the
    assignment, as the LMS's assignment is; a notebook's column is "ASSIGNMENT: NOTEBOOK"."""
    if not (total or per_notebook):
        raise ValueError("Nothing to export: ask for the total, the notebooks' columns, or "
                         "both (--total, --notebooks).")
    return ([(assignment, None)] if total else []) + (
        [(f"{assignment}: {notebook}", notebook) for notebook in notebooks]
        if per_notebook else [])


def build_export(roster: Roster, scores: dict[str, StudentScore], assignment: str, lms: str,
                 total: bool = True, per_notebook: bool = False) -> Export:
    """The rows of the lms's file: one per roster entry, in roster order."""
    notebooks = sorted({notebook.notebook for score in scores.values()
                        for notebook in score.notebooks})
    grades = grade_columns(assignment, notebooks, total, per_notebook)
    names = [name for name, _ in grades]
    # A roster made from an LMS export may hold last time's grade columns of the assignment,
    # with or without this export's flags: they are not identities.
    identity = [column for column in roster.columns
                if column != assignment and not column.startswith(f"{assignment}: ")]
    export = Export(([ROSTER_ID] if lms == "csv" else []) + identity + names, [],
                    len(roster.entries))
    if lms == "canvas":
        points = _points(scores)
        export.rows.append({CANVAS_IDENTITY[0]: CANVAS_POINTS_ROW,
                            **{name: _number(points.get(notebook)) for name, notebook in grades}})
    for student, cells in roster.entries:
        row = {column: cells[column] for column in identity}
        if lms == "csv":
            row[ROSTER_ID] = student
        score = scores.get(student)
        if score is None:
            who = " ".join(value for value in cells.values() if value)[:80] or "an empty row"
            export.no_submission.append(f"{student or '(no nbgrader_id)'} ({who})")
        by_notebook = {} if score is None else {
            notebook.notebook: notebook.score for notebook in score.notebooks}
        for name, notebook in grades:
            value = None if score is None else (
                score.score if notebook is None else by_notebook.get(notebook))
            row[name] = _number(value)
        export.rows.append(row)
    on_roster = {student for student, _ in roster.entries}
    export.not_on_roster = sorted(set(scores) - on_roster)
    return export


def export_grades(course: str | Path, assignment: str, db_url: str, roster_path: str | Path,
                  lms: str, out: str | Path, total: bool = True,
                  per_notebook: bool = False) -> Export:
    """Read the roster and the gradebook at db_url, write the lms's file to out (whole), and
    return what was written with whoever could not be matched."""
    roster = read_roster(roster_path, lms)
    scores = read_scores(db_url, course_settings(course).course_id, assignment)
    export = build_export(roster, scores, assignment, lms, total, per_notebook)
    write_table(export.rows, Path(out), export.columns)
    return export


def _points(scores: dict[str, StudentScore]) -> dict[str | None, float]:
    """{notebook: its points possible, None: the assignment's}, from any submission."""
    for score in scores.values():
        return {None: score.max_score,
                **{notebook.notebook: notebook.max_score for notebook in score.notebooks}}
    return {}


def _number(value: float | None) -> str:
    """A score as the LMS reads it: "7.5", "12"; empty when there is none."""
    return "" if value is None else f"{round(value, 2):g}"
