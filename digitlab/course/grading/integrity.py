"""The integrity scan: what students changed in the cells that grade them.

Reads submitted/<student>/<assignment>/*.ipynb, never writes, and compares every protected
cell (a test cell, or any cell nbgrader locks) with the same cell of release/<assignment>/,
which `nbgrader generate_assignment` writes. The release is the reference, not the gradebook:
nbgrader stores each cell's source and checksum in the gradebook *before* it strips the
hidden tests, so an untouched test cell never matches them, while the release holds exactly
what students were given.

Autograde already restores edited and deleted test cells, so most findings change no score;
they show intent, and some (a duplicated test cell) make nbgrader 0.9.6 fail to grade the
student at all. `digitlab integrity` prints the scan and the class report lists it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.reader import NotJSONError
from nbgrader.utils import is_locked

from digitlab.course.layout import CourseLayout

# Every kind of finding, with what it means; the README and the report's page show these.
KINDS = {
    "missing_notebook": "a released notebook is not in the submission",
    "corrupt_notebook": "a notebook is not valid JSON or not a valid notebook",
    "deleted_test": "a protected cell of the release is absent",
    "edited_test": "a protected cell's source differs from the release",
    "duplicated_test": "a grade id appears in more than one cell",
    "skip_tag": "a protected cell carries a tag that makes a runner skip it or ignore its error",
    "changed_cell_type": "a protected code cell became markdown or raw",
    "foreign_metadata": "a protected cell's nbgrader metadata (points, grade, locked...) changed",
}
# nbclient skips cells tagged skip-execution and lets raises-exception cells fail silently;
# this course's config makes its own skip tag random, but a student's tag still shows intent.
SKIP_TAGS = ("skip-execution", "raises-exception")
# The nbgrader metadata that decides how a cell is graded.
GRADING_FIELDS = ("grade", "solution", "locked", "points", "task")


@dataclass(frozen=True)
class Finding:
    """One problem in one student's notebook; grade_id is "" when it concerns no cell."""

    student: str
    notebook: str
    kind: str
    grade_id: str
    explanation: str


def release_notebooks(course: str | Path, assignment: str) -> dict[str, NotebookNode]:
    """{file name: notebook} of release/<assignment>/, the notebooks students were given."""
    folder = CourseLayout(course).release(assignment)
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"There are no notebooks in {folder}: run nbgrader "
                                f"generate_assignment {assignment} first.")
    return {path.name: nbformat.read(path, as_version=4) for path in paths}


def protected_cells(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """{grade id: cell} of the cells autograde overwrites: test cells and locked cells."""
    return {_grade_id(cell): cell for cell in notebook.cells
            if isinstance(_nbgrader(cell), dict) and is_locked(cell) and _grade_id(cell)}


def read_notebook(path: Path) -> tuple[NotebookNode | None, str]:
    """The notebook at path and "", or None and what is wrong with the file, in a phrase."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)  # read() only logs a schema violation
    except NotJSONError:
        # Its message goes on to quote the file: a student's text, and only noise here.
        return None, "NotJSONError: the file is not JSON (cut off, or not a notebook)"
    except Exception as error:  # a student's file can break the reader in any way
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        return None, f"{type(error).__name__}: {first_line}"
    return notebook, ""


def scan_notebook(student: str, name: str, submitted: NotebookNode, released: NotebookNode,
                  skip_tags: tuple[str, ...] = SKIP_TAGS) -> list[Finding]:
    """The findings for one submitted notebook against its released version."""
    def finding(kind: str, grade_id: str, explanation: str) -> Finding:
        return Finding(student, name, kind, grade_id, explanation)

    counts = Counter(_grade_id(cell) for cell in submitted.cells if _grade_id(cell))
    findings = [finding("duplicated_test", grade_id,
                        f"Grade id {grade_id} appears in {count} cells; nbgrader keeps only "
                        "the last, and 0.9.6 may then fail to grade the notebook.")
                for grade_id, count in sorted(counts.items()) if count > 1]
    for grade_id, original in protected_cells(released).items():
        if not counts[grade_id]:
            findings.append(finding("deleted_test", grade_id,
                                    f"The cell {grade_id} is missing: it was deleted or its "
                                    "grade id was changed."))
        for cell in (cell for cell in submitted.cells if _grade_id(cell) == grade_id):
            findings += [finding(kind, grade_id, explanation) for kind, explanation
                         in _changes(grade_id, cell, original, skip_tags)]
    return findings


def scan_submission(student: str, folder: Path, released: dict[str, NotebookNode],
                    skip_tags: tuple[str, ...] = SKIP_TAGS) -> list[Finding]:
    """The findings for one student's submitted folder, notebook by notebook."""
    findings = []
    for name, original in released.items():
        path = folder / name
        if path.is_symlink():  # never followed: it may point at the key or another's work
            findings.append(Finding(student, name, "corrupt_notebook", "",
                                    f"{name} is a symbolic link, not a notebook."))
            continue
        if not path.is_file():
            findings.append(Finding(student, name, "missing_notebook", "",
                                    f"{name} was not submitted."))
            continue
        notebook, problem = read_notebook(path)
        if notebook is None:
            findings.append(Finding(student, name, "corrupt_notebook", "",
                                    f"{name} cannot be read as a notebook ({problem})."))
            continue
        try:
            findings += scan_notebook(student, name, notebook, original, skip_tags)
        except Exception as error:  # metadata of any shape: one odd file must not stop the class
            findings.append(Finding(student, name, "corrupt_notebook", "",
                                    f"{name} could not be scanned ({type(error).__name__}: "
                                    f"{error})."))
    return findings


def scan_class(course_dir: str | Path, assignment: str,
               skip_tags: tuple[str, ...] = SKIP_TAGS) -> list[Finding]:
    """Every finding for every student folder in submitted/, by student then notebook.

    Raises FileNotFoundError when there is no release or no student folder; a bad file of
    one student becomes a finding and never stops the scan.
    """
    layout = CourseLayout(course_dir)
    released = release_notebooks(course_dir, assignment)
    return [finding for student in layout.students(assignment)
            for finding in scan_submission(student, layout.submitted(student, assignment),
                                           released, skip_tags)]


def _changes(grade_id: str, cell: NotebookNode, original: NotebookNode,
             skip_tags: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, explanation) for each way one copy of a protected cell differs from the release."""
    changes = []
    if cell.cell_type != original.cell_type:
        changes.append(("changed_cell_type", f"The {original.cell_type} cell {grade_id} was "
                                             f"turned into a {cell.cell_type} cell."))
    if cell.source != original.source:
        # keepends: sources that differ only in a final newline still differ line by line.
        line = next(number for number, (a, b) in enumerate(zip_longest(
            cell.source.splitlines(True), original.source.splitlines(True)), 1) if a != b)
        changes.append(("edited_test", f"The source of {grade_id} differs from the release "
                                       f"from line {line} on."))
    tags = cell.metadata.get("tags", [])
    skipping = sorted(tag for tag in tags if tag in skip_tags) if isinstance(tags, list) else []
    if skipping:
        changes.append(("skip_tag", f"{grade_id} is tagged {', '.join(skipping)}, which tells a "
                                    "notebook runner to skip it or ignore its error."))
    edited = [f"{key} {_nbgrader(original).get(key)!r} -> {_nbgrader(cell).get(key)!r}"
              for key in GRADING_FIELDS
              if _nbgrader(cell).get(key) != _nbgrader(original).get(key)]
    if edited:
        changes.append(("foreign_metadata", f"The nbgrader metadata of {grade_id} was edited: "
                                            f"{'; '.join(edited)}."))
    return changes


def _nbgrader(cell: NotebookNode):
    """The cell's nbgrader metadata: a dict when well formed, anything a student wrote otherwise."""
    return cell.metadata.get("nbgrader", {})


def _grade_id(cell: NotebookNode) -> str:
    metadata = _nbgrader(cell)
    grade_id = metadata.get("grade_id") if isinstance(metadata, dict) else None
    return grade_id if isinstance(grade_id, str) else ""
