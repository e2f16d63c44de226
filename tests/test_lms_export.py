"""`digitlab export`: the gradebook of a real grading, written as Canvas's and Moodle's grade
import files, checked against files written by hand in each LMS's documented layout
(tests/lms/), and nobody dropped silently."""

import csv
from pathlib import Path

import pytest

from digitlab.cli import main
from digitlab.course.grading.gradebook import (
    NotebookScore,
    StudentScore,
    read_scores,
    resolve_db_url,
)
from digitlab.course.report import lms
from digitlab.course.tables import write_table

LMS = Path(__file__).parent / "lms"
# The hand-written LMS files' people, as the graded course's students: Grace is blank, Emmy
# left notebook 03 out, Casper never submitted; "tamper" is graded but on no roster.
NBGRADER_IDS = {"S4101": "perfect", "S4102": "buggy", "S4103": "blank", "S4104": "absent",
                "S4105": "ghost"}


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        return list(csv.reader(file))


def roster_from(layout: Path, key: str, path: Path) -> Path:
    """The LMS's file with a column nbgrader_id added, as an instructor makes the roster."""
    rows = read_rows(layout)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*rows[0], lms.ROSTER_ID])
        index = rows[0].index(key)
        for row in rows[1:]:
            writer.writerow([*row, NBGRADER_IDS.get(row[index], "")])
    return path


@pytest.fixture(scope="module")
def graded(graded_course):
    course, _ = graded_course
    scores = read_scores(resolve_db_url(course), "digitlab", "digit-lab")
    return course, scores


def run_export(course, capsys, *arguments):
    status = main(["export", "digit-lab", "--course", str(course), *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_canvas_file_has_the_layout_of_canvas_gradebook_csv(graded, tmp_path, capsys):
    course, scores = graded
    layout = LMS / "canvas-gradebook.csv"
    roster = roster_from(layout, "SIS User ID", tmp_path / "roster.csv")
    out = tmp_path / "canvas.csv"
    status, printed, errors = run_export(course, capsys, "--format", "canvas", "--roster",
                                         str(roster), "--out", str(out))
    written, documented = read_rows(out), read_rows(layout)
    assert written[0] == documented[0]  # Student, ID, SIS User ID, SIS Login ID, Section, digit-lab
    assert [len(row) for row in written] == [len(row) for row in documented]
    points = written[1]
    assert points[:5] == documented[1][:5] and float(points[5]) == scores["perfect"].max_score
    assert [row[:5] for row in written[2:]] == [row[:5] for row in documented[2:]]
    grades = {row[2]: row[5] for row in written[2:]}
    # Written answers score 0 until graded by hand, so "perfect" has the autograded points.
    assert float(grades["S4101"]) == scores["perfect"].score > scores["buggy"].score
    assert float(grades["S4102"]) == scores["buggy"].score > 0  # the bias bug costs points
    assert float(grades["S4103"]) == scores["blank"].score
    assert grades["S4105"] == ""  # no submission: an empty cell, which Canvas leaves alone
    # Nobody dropped silently: the roster entry without a submission and the graded student
    # without a roster entry are named, and the status says the file is incomplete.
    assert status == 1
    assert "no submission in the gradebook: ghost (Ghost, Casper 4105 S4105" in errors
    assert "graded, missing from the roster: tamper" in errors
    assert "5 students of the roster, 4 with grades" in printed


def test_moodle_file_has_the_layout_of_moodle_csv_import(graded, tmp_path, capsys):
    course, scores = graded
    layout = LMS / "moodle-grades.csv"
    roster = roster_from(layout, "ID number", tmp_path / "roster.csv")
    out = tmp_path / "moodle.csv"
    status, _, errors = run_export(course, capsys, "--format", "moodle", "--roster",
                                   str(roster), "--out", str(out))
    written, documented = read_rows(out), read_rows(layout)
    assert written[0] == documented[0]
    assert [row[:6] for row in written[1:]] == [row[:6] for row in documented[1:]]
    grades = {row[5]: row[6] for row in written[1:]}
    assert float(grades["ada@uni.example"]) == scores["perfect"].score
    assert float(grades["emmy@uni.example"]) == pytest.approx(scores["absent"].score, abs=0.01)
    assert grades["casper@uni.example"] == ""
    assert status == 1 and "ghost" in errors and "tamper" in errors


def test_per_notebook_columns_without_the_total(graded, tmp_path, capsys):
    course, scores = graded
    roster = roster_from(LMS / "canvas-gradebook.csv", "SIS User ID", tmp_path / "roster.csv")
    out = tmp_path / "notebooks.csv"
    run_export(course, capsys, "--format", "csv", "--roster", str(roster), "--out", str(out),
               "--notebooks", "--no-total")
    header, *rows = read_rows(out)
    notebooks = [notebook.notebook for notebook in scores["perfect"].notebooks]
    assert len(notebooks) == 5
    assert header == [lms.ROSTER_ID, *lms.CANVAS_IDENTITY,
                      *(f"digit-lab: {notebook}" for notebook in notebooks)]
    perfect = next(row for row in rows if row[0] == "perfect")
    assert [float(cell) for cell in perfect[6:]] == [
        notebook.score for notebook in scores["perfect"].notebooks]


def test_a_roster_without_what_the_lms_needs_is_refused(graded, tmp_path, capsys):
    course, _ = graded
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID\nAda,1\n")
    status, printed, _ = run_export(course, capsys, "--format", "canvas", "--roster",
                                    str(roster), "--out", str(tmp_path / "x.csv"))
    assert status == 1 and "no column 'nbgrader_id'" in printed
    roster.write_text("nbgrader_id,Student,ID\nperfect,Ada,1\n")
    status, printed, _ = run_export(course, capsys, "--format", "canvas", "--roster",
                                    str(roster), "--out", str(tmp_path / "x.csv"))
    assert "lacks Canvas's columns SIS User ID, SIS Login ID, Section" in printed
    roster.write_text("nbgrader_id,First name\nperfect,Ada\n")
    status, printed, _ = run_export(course, capsys, "--format", "moodle", "--roster",
                                    str(roster), "--out", str(tmp_path / "x.csv"))
    assert "none of Moodle's identifiers" in printed
    roster.write_text("nbgrader_id,Email address\nperfect,a@x\nperfect,b@x\n")
    status, printed, _ = run_export(course, capsys, "--format", "moodle", "--roster",
                                    str(roster), "--out", str(tmp_path / "x.csv"))
    assert "more than one row: perfect" in printed
    assert not (tmp_path / "x.csv").exists()


def test_students_text_cannot_become_a_formula(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("nbgrader_id,Student,ID,SIS User ID,SIS Login ID,Section\n"
                      'mallory,"=HYPERLINK(""http://evil.example"")",7,-1+1,@me,+A\n')
    score = StudentScore("mallory", 3.0, 10.0, (NotebookScore("01", 3.0, 10.0),))
    export = lms.build_export(lms.read_roster(roster, "canvas"), {"mallory": score},
                              "digit-lab", "canvas")
    out = tmp_path / "canvas.csv"
    write_table(export.rows, out, export.columns)
    row = read_rows(out)[2]
    assert row == ["'=HYPERLINK(\"http://evil.example\")", "7", "'-1+1", "'@me", "'+A", "3"]


def test_a_rosters_old_grade_column_is_not_copied_as_an_identity(tmp_path):
    roster = lms.read_roster(roster_from(LMS / "moodle-grades.csv", "ID number",
                                         tmp_path / "roster.csv"), "csv")
    score = StudentScore("perfect", 3.0, 10.0, (NotebookScore("01", 3.0, 10.0),))
    export = lms.build_export(roster, {"perfect": score}, "digit-lab", "csv", total=False,
                              per_notebook=True)
    assert export.columns == [lms.ROSTER_ID, *read_rows(LMS / "moodle-grades.csv")[0][:6],
                              "digit-lab: 01"]
    assert export.rows[0] == {lms.ROSTER_ID: "perfect", "First name": "Ada",
                              "Last name": "Lovelace", "ID number": "S4101",
                              "Institution": "Example University", "Department": "Computing",
                              "Email address": "ada@uni.example", "digit-lab: 01": "3"}
