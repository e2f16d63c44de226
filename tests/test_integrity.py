"""The integrity scan, on a real release and students fabricated from it (conftest's
report_course), and on small hand-made notebooks for the cases the class does not hold."""

import contextlib
import io
import json

import nbformat
import pytest
from course_builder import ASSIGNMENT, NOTEBOOKS, TAMPERED, grade_id, tree_digest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.utils import compute_checksum

from digitlab.cli import main
from digitlab.course.grading import integrity
from digitlab.course.grading.integrity import scan_class, scan_notebook

PLANTED = {("tamper", notebook, kind, cell) for notebook, cell, kind in TAMPERED} | {
    ("absent", NOTEBOOKS[2], "missing_notebook", ""),
    ("corrupt", NOTEBOOKS[1], "corrupt_notebook", ""),
}


def test_the_scan_finds_exactly_the_planted_problems(report_course):
    before = tree_digest(report_course / "submitted")
    findings = scan_class(report_course, ASSIGNMENT)
    assert {(f.student, f.notebook, f.kind, f.grade_id) for f in findings} == PLANTED
    assert len(findings) == len(PLANTED)  # one finding per problem, no repeats
    assert all(f.kind in integrity.KINDS and f.explanation.endswith(".") for f in findings)
    [corrupt] = [f for f in findings if f.kind == "corrupt_notebook"]
    assert "NotJSONError" in corrupt.explanation
    assert tree_digest(report_course / "submitted") == before


def test_the_gradebook_stores_checksums_before_hidden_tests_are_stripped(report_course):
    """Why the scan compares with the release: an untouched released test cell matches the
    gradebook's checksum only in the cells that have no hidden tests."""
    source = nbformat.read(report_course / "notebooks" / ASSIGNMENT / NOTEBOOKS[0], 4)
    release = nbformat.read(report_course / "release" / ASSIGNMENT / NOTEBOOKS[0], 4)
    released = {grade_id(cell): cell for cell in release.cells}
    with Gradebook(f"sqlite:///{report_course / 'gradebook.db'}", "digitlab") as gradebook:
        stored = {cell.name: cell.checksum for cell in
                  gradebook.find_notebook(NOTEBOOKS[0][:-6], ASSIGNMENT).source_cells}
    for cell in source.cells:
        if "BEGIN HIDDEN TESTS" in cell.source:
            assert stored[grade_id(cell)] == compute_checksum(cell)
            assert stored[grade_id(cell)] != compute_checksum(released[grade_id(cell)])


def test_the_integrity_command_prints_every_finding(report_course):
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["integrity", ASSIGNMENT, "--course", str(report_course)]) == 0
    lines = output.getvalue().splitlines()
    assert len(lines) == len(PLANTED) + 1
    assert lines[-1].startswith(f"{len(PLANTED)} integrity findings: 1 changed_cell_type")
    assert main(["integrity", "no-such-assignment", "--course", str(report_course)]) == 1


def released_notebook():
    """A release in miniature: an answer cell and one test cell worth 2 points."""
    test = new_code_cell("assert answer() == 1\n", metadata={"nbgrader": {
        "grade": True, "grade_id": "test-answer", "locked": True, "points": 2,
        "schema_version": 3, "solution": False, "task": False}})
    answer = new_code_cell("def answer():\n    raise NotImplementedError()", metadata={
        "nbgrader": {"grade": False, "grade_id": "answer", "locked": False,
                     "schema_version": 3, "solution": True, "task": False}})
    return new_notebook(cells=[answer, test])


def scan_changed(change):
    released = released_notebook()
    submitted = nbformat.from_dict(json.loads(json.dumps(released)))
    change(submitted.cells[1])
    return {(f.kind, f.grade_id) for f in scan_notebook("s", "n.ipynb", submitted, released)}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda cell: None, set()),
    (lambda cell: setattr(cell, "source", cell.source.rstrip("\n")), {"edited_test"}),
    (lambda cell: cell.metadata.update(tags=["raises-exception", "mine"]), {"skip_tag"}),
    (lambda cell: cell.metadata.nbgrader.update(grade=False), {"foreign_metadata"}),
    (lambda cell: cell.metadata.nbgrader.pop("locked"), {"foreign_metadata"}),
    (lambda cell: cell.metadata.nbgrader.update(grade_id="renamed"), {"deleted_test"}),
    (lambda cell: cell.metadata.update(nbgrader="not a dict"), {"deleted_test"}),
    (lambda cell: cell.metadata.update(tags="skip-execution"), set()),  # not a list: no tags
])
def test_each_change_to_a_test_cell_is_named(change, expected):
    assert {kind for kind, _ in scan_changed(change)} == expected


def test_a_duplicated_answer_cell_counts_as_well(tmp_path):
    released = released_notebook()
    submitted = nbformat.from_dict(json.loads(json.dumps(released)))
    copy = new_markdown_cell("mine", metadata=dict(submitted.cells[0].metadata))
    submitted.cells.append(copy)
    findings = scan_notebook("s", "n.ipynb", submitted, released)
    assert [(f.kind, f.grade_id) for f in findings] == [("duplicated_test", "answer")]


def test_a_schema_violation_is_corrupt_and_says_why(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    notebook = released_notebook()
    notebook.cells[1].outputs = "not a list"
    with open(folder / "n.ipynb", "w") as file:
        json.dump(notebook, file)
    findings = integrity.scan_submission("alice", folder, {"n.ipynb": released_notebook(),
                                                           "m.ipynb": released_notebook()})
    assert [(f.notebook, f.kind) for f in findings] == [("n.ipynb", "corrupt_notebook"),
                                                        ("m.ipynb", "missing_notebook")]
    assert "ValidationError" in findings[0].explanation


def test_without_a_release_the_scan_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="generate_assignment"):
        scan_class(tmp_path, ASSIGNMENT)


def test_a_notebook_that_breaks_the_scan_is_reported_and_the_rest_scanned(tmp_path,
                                                                           monkeypatch):
    folder = tmp_path / "alice"
    folder.mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(released_notebook(), folder / name)

    def scan_or_break(student, name, submitted, released, skip_tags):
        if name == "a.ipynb":
            raise RecursionError("metadata nested too deep")
        return [integrity.Finding(student, name, "skip_tag", "x", "scanned.")]

    monkeypatch.setattr(integrity, "scan_notebook", scan_or_break)
    findings = integrity.scan_submission("alice", folder, {"a.ipynb": released_notebook(),
                                                           "b.ipynb": released_notebook()})
    assert [(f.notebook, f.kind) for f in findings] == [("a.ipynb", "corrupt_notebook"),
                                                        ("b.ipynb", "skip_tag")]
    assert "RecursionError: metadata nested too deep" in findings[0].explanation


def test_a_linked_notebook_is_named_and_never_followed(tmp_path):
    """A link may point at another student's notebook or the answer key: the scan must not
    read it (a reader's error would quote the start of the file)."""
    folder = tmp_path / "alice"
    folder.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("the answer key")
    (folder / "n.ipynb").symlink_to(secret)
    findings = integrity.scan_submission("alice", folder, {"n.ipynb": released_notebook()})
    assert [(f.notebook, f.kind, f.explanation) for f in findings] == [
        ("n.ipynb", "corrupt_notebook", "n.ipynb is a symbolic link, not a notebook.")]
