"""The class report, after one real `nbgrader autograde` of conftest's six students
(graded_course), and its parts on their own: the grading records and the reading of the
gradient checker's diagnoses. Expected diagnoses come from gradcheck itself."""

import base64
import contextlib
import csv
import io
import re
import shutil
import sqlite3

import nbformat
import numpy as np
import pytest
from course_builder import ASSIGNMENT, MARKUP, NOTEBOOKS, replace_answer, tree_digest
from nbgrader.api import Gradebook

from digitlab.cli import main
from digitlab.course.checks import backward_check
from digitlab.course.grading.integrity import Finding
from digitlab.course.layout import CourseLayout
from digitlab.course.records import (
    GradingRecord,
    LimitHit,
    PatchedCheck,
    read_records,
)
from digitlab.course.report.class_report import (
    CellOutcome,
    ClassReport,
    Diagnosis,
    StudentScore,
    build_report,
    extract_diagnoses,
    normalise,
    write_csvs,
)
from digitlab.course.report.page import render_html
from digitlab.course.tables import spreadsheet_safe, write_table
from digitlab.gradcheck import compare_gradient

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RECORDS = {
    "buggy": GradingRecord("buggy", "graded", 11.5, limits=(
        LimitHit("04-randomness.ipynb", "wall", "stopped after 60 s"),)),
    "perfect": GradingRecord("perfect", "graded", 9.0, patched_checks=(
        PatchedCheck("01-linear-backward.ipynb", "test-sizes", "numpy.allclose replaced"),)),
    "tamper": GradingRecord("tamper", "failed", 900.0, error=(
        "timed out: stopped after 900 s (the time limit for one student, --timeout)")),
}


def checker_says(name, wrong, right, batch_size):
    """The diagnosis gradcheck gives for `wrong` against the right gradient, normalised."""
    return normalise(compare_gradient(name, wrong, right, batch_size).diagnosis)


RIGHT = np.random.default_rng(0).normal(size=(9, 9))
AVERAGED_BIAS = checker_says("grad_bias", RIGHT[:1] / 4, RIGHT[:1], 4)
TRANSPOSED = checker_says("grad_weights", RIGHT.T, RIGHT, 6)


def dump(database):
    """Every row of an SQLite database, as SQL."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return list(connection.iterdump())


@pytest.fixture(scope="module")
def report(graded_course):
    course, _ = graded_course
    return build_report(course, ASSIGNMENT, records=RECORDS)


@pytest.fixture(scope="module")
def written(graded_course, report, tmp_path_factory):
    """{table name: rows} of the CSV files, read back."""
    out = tmp_path_factory.mktemp("report")
    paths = write_csvs(report, out)
    assert [path.name for path in paths] == [f"{ASSIGNMENT}-{name}.csv" for name in
                                             ("scores", "cells", "diagnoses", "integrity")]
    tables = {}
    for path in paths:
        with open(path, newline="") as file:
            tables[path.stem.removeprefix(f"{ASSIGNMENT}-")] = list(csv.DictReader(file))
    return tables


def test_totals_are_the_gradebooks(graded_course, written):
    course, _ = graded_course
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "digitlab") as gradebook:
        expected = {s.student_id: (s.score, {n.name: n.score for n in s.notebooks})
                    for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert len(expected) == 6
    assert {row["student"]: (float(row["total"]), {name[:-6]: float(row[name[:-6]])
                                                   for name in NOTEBOOKS})
            for row in written["scores"]} == expected
    flags = {row["student"]: row["flags"] for row in written["scores"]}
    assert flags["perfect"] == "patched_check" and flags["blank"] == ""
    assert flags["buggy"] == "hit_limit"
    assert flags["tamper"].split(";") == ["changed_cell_type", "deleted_test", "duplicated_test",
                                          "edited_test", "foreign_metadata", "grading_failed",
                                          "skip_tag"]
    # Plain nbgrader 0.9.6 fails on a corrupt notebook (a duplicated test cell is graded).
    assert {row["student"] for row in written["scores"] if row["graded"] == "no"} == {
        "corrupt"}


def test_the_bias_test_is_failed_by_the_students_with_the_bias_bug(written):
    cells = {row["grade_id"]: row for row in written["cells"]}
    # perfect and tamper pass; buggy and absent average the bias; blank's stub is named by
    # the public test (a PublicTestFailure, so a failure, not an error); corrupt was never
    # graded.
    assert {key: cells["test-bias-gradient"][key] for key in
            ("passed", "failed", "errored", "ungraded", "fail_rate")} == {
        "passed": "2", "failed": "3", "errored": "0", "ungraded": "1", "fail_rate": "0.600"}
    assert cells["test-bias-gradient"]["top_error"] == "PublicTestFailure: grad_bias is wrong."
    rates = [float(row["fail_rate"]) for row in written["cells"]]
    assert rates == sorted(rates, reverse=True)
    assert cells["test-summary-interval"]["top_error"] == f"ValueError: {MARKUP}"


def test_the_top_diagnosis_is_the_averaged_bias(written):
    top = written["diagnoses"][0]
    assert top["diagnosis"] == AVERAGED_BIAS
    assert (top["students"], top["cells"]) == ("2", "test-bias-gradient;test-sizes")


def test_integrity_lists_the_scan_the_records_and_ungraded_students(written):
    rows = {(row["student"], row["kind"]) for row in written["integrity"]}
    assert {("absent", "missing_notebook"), ("corrupt", "corrupt_notebook"),
            ("corrupt", "not_graded"), ("tamper", "grading_failed"),
            ("buggy", "hit_limit"), ("perfect", "patched_check")} <= rows
    assert len(written["integrity"]) == 8 + 3 + 1


def test_the_page_is_self_contained_and_escapes_students_text(report):
    page = render_html(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=\"(?!data:)", page)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in images)
    assert AVERAGED_BIAS.split(",")[0] in page


def test_the_report_command_writes_everything_and_leaves_submissions_alone(graded_course,
                                                                          tmp_path):
    course, before = graded_course
    stored = dump(course / "gradebook.db")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["report", ASSIGNMENT, "--course", str(course), "--out",
                     str(tmp_path)]) == 0
    assert dump(course / "gradebook.db") == stored
    printed = output.getvalue()
    assert printed.startswith("6 students: mean total")
    assert f"Top diagnosis: {AVERAGED_BIAS} (2 students)" in printed
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"{ASSIGNMENT}.html"] + [f"{ASSIGNMENT}-{name}.csv" for name in
                                  ("cells", "diagnoses", "integrity", "scores")])
    assert tree_digest(course / "submitted") == before
    shutil.copy(course / "nbgrader_config.py", tmp_path)  # a course before any grading
    for problem, options in (("There is no gradebook", []),  # and none is created
                             ("There are no notebooks in",
                              ["--db-url", f"sqlite:///{course / 'gradebook.db'}"])):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            assert main(["report", ASSIGNMENT, "--course", str(tmp_path), *options]) == 1
        assert problem in output.getvalue()
    assert not (tmp_path / "gradebook.db").exists()
    with pytest.raises(ValueError, match="has no assignment other"):
        build_report(course, "other", findings=[], records={})


def test_records_round_trip_and_bad_ones_are_named(tmp_path):
    for record in RECORDS.values():
        assert GradingRecord.from_json(record.to_json()) == record
        path = CourseLayout(tmp_path).record(record.student, ASSIGNMENT)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.to_json())
    CourseLayout(tmp_path).record("cut", ASSIGNMENT).write_text('{"student": "cut", "stat')
    CourseLayout(tmp_path).record("odd", ASSIGNMENT).write_text(
        '{"student": "odd", "status": "done", "seconds": 1}')
    records, unreadable = read_records(tmp_path, ASSIGNMENT)
    assert records == RECORDS
    assert sorted(unreadable) == ["cut.json", "odd.json"]
    assert "status must be one of" in unreadable["odd.json"]
    assert read_records(tmp_path, "nothing-graded") == ({}, {})


def test_diagnoses_are_read_from_what_backward_check_prints(graded_course, tmp_path):
    """The hidden check's own output, for the averaged bias and a transposed weights
    gradient on a square layer, groups with gradcheck's diagnosis of the same mistake."""
    course, _ = graded_course
    buggy = course / "submitted" / "buggy" / ASSIGNMENT / NOTEBOOKS[0]
    notebooks = {NOTEBOOKS[0]: nbformat.read(buggy, 4)}
    replace_answer(notebooks, NOTEBOOKS[0], "linear-backward", lambda source: source.replace(
        "self.input.T @ grad", "(self.input.T @ grad).T"))
    transposed = tmp_path / NOTEBOOKS[0]
    nbformat.write(notebooks[NOTEBOOKS[0]], transposed)
    said = {}
    for notebook, quantity in ((buggy, "bias"), (transposed, "weights")):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            assert backward_check.main(["--notebook", str(notebook), "--quantity", quantity,
                                        "--layers", "9x9", "--batch-sizes", "6",
                                        "--seed", "3"]) == 1
        said[quantity] = {normalise(text) for text in extract_diagnoses(output.getvalue())}
    assert said == {"bias": {AVERAGED_BIAS}, "weights": {TRANSPOSED}}


def test_wrapped_diagnoses_and_problems_are_read_whole():
    check = compare_gradient("grad_bias", RIGHT[:1] / 4, RIGHT[:1], 4)
    text = f"grad_bias is wrong.\n{check}\n  PROBLEM: backward changed self.weights.\nyours:"
    assert extract_diagnoses(text) == [check.diagnosis, "backward changed self.weights."]
    assert extract_diagnoses("FAILED: bias is wrong on the hidden cases:\n") == []
    assert normalise("grad_bias has shape (4, 3) but should have (1, 3)") == (
        "grad_bias has shape (#, #) but should have (#, #)")


def test_a_report_without_findings_given_scans_for_itself(graded_course, report):
    course, _ = graded_course
    scanned = build_report(course, ASSIGNMENT, records={})
    assert [f for f in report.integrity if f.kind in ("hit_limit", "patched_check",
                                                      "grading_failed")]
    assert all(isinstance(f, Finding) for f in scanned.integrity)
    assert len(scanned.integrity) == len(report.integrity) - len(RECORDS)


# Students' text that a spreadsheet would run as a formula, one for each dangerous start.
FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


def test_csv_cells_that_would_be_formulas_are_neutralised(tmp_path):
    report = ClassReport(
        "digit-lab", ["01-linear-backward"],
        [StudentScore(student, -1.5, 18.0, {"01-linear-backward": -1.5}, True, ["edited_test"])
         for student in FORMULAS],
        [CellOutcome("01-linear-backward", "test-sizes", 2.0, failed=1,
                     top_error="=cmd|' /C calc'!A0")],
        [Diagnosis("-# is wrong", 1, 1, ("test-sizes",), "@1 is wrong")],
        [Finding("=evil", "01-linear-backward.ipynb", "edited_test", "+test", "-explained")])
    tables = {}
    for path in write_csvs(report, tmp_path):
        with open(path, newline="") as file:
            tables[path.stem.removeprefix("digit-lab-")] = list(csv.DictReader(file))
    scores = tables["scores"]
    assert [row["student"] for row in scores] == ["'" + text for text in FORMULAS]
    # Numbers stay numbers, negative ones too.
    assert {(row["total"], row["01-linear-backward"]) for row in scores} == {("-1.5", "-1.5")}
    assert tables["cells"][0]["top_error"] == "'=cmd|' /C calc'!A0"
    assert (tables["diagnoses"][0]["diagnosis"], tables["diagnoses"][0]["example"]) == (
        "'-# is wrong", "'@1 is wrong")
    assert [tables["integrity"][0][key] for key in ("student", "grade_id", "explanation")] == [
        "'=evil", "'+test", "'-explained"]


def test_the_leaderboard_csv_shares_the_guard(tmp_path):
    path = write_table([{"rank": "1", "student": "=1+2", "accuracy": "-0.5e-3"}],
                       tmp_path / "board.csv")
    assert path.read_bytes() == b"rank,student,accuracy\r\n1,'=1+2,-0.5e-3\r\n"
    assert [spreadsheet_safe(value) for value in (3, -2.0, "plain", "", "a=b", "-", "+-1")] == [
        3, -2.0, "plain", "", "a=b", "'-", "'+-1"]
