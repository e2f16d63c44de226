"""Build a throwaway copy of the course and fill in students' work, for the nbgrader tests
and the autograding benchmark. Everything runs the real `nbgrader` command.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

from digitlab.course.grading.gradebook import nbgrader_command, nbgrader_environment

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "digit-lab"
SOURCE = REPO / "notebooks" / ASSIGNMENT
NOTEBOOKS = sorted(path.name for path in SOURCE.glob("*.ipynb"))
KEY = REPO / "keys" / "digit-lab.csv"
AVERAGED_BIAS = "self.grad_bias = grad.mean(axis=0, keepdims=True)"
# A fixed hidden-cases key (the grader makes a random one on the first grading otherwise):
# the cases drawn for each student, and the tests that name them, are the same on every run.
CASES_KEY = "5eed" * 16 + "\n"


def copy_course(destination: Path) -> Path:
    """The course as an instructor has it: config, answer key and source notebooks only."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", destination)
    shutil.copytree(REPO / "keys", destination / "keys")
    shutil.copytree(SOURCE, destination / "notebooks" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns("submission.csv", ".ipynb_checkpoints"))
    return destination


def copy_generated(generated: Path, destination: Path) -> Path:
    """A copy at destination of the course after `nbgrader generate_assignment` (conftest's
    generated_course: generating costs about 7 CPU s, copying next to nothing). Generation
    reads neither the course's path nor its hidden-cases key, and a copy's gradebook is its
    own."""
    shutil.copytree(generated, destination, symlinks=True, dirs_exist_ok=True)
    return destination


def fix_cases_key(course: Path) -> None:
    """Give the course CASES_KEY at the path nbgrader_config.py names, mode 600 as the
    grader would make it."""
    path = course / "keys" / "hidden-cases.key"
    path.write_text(CASES_KEY)
    path.chmod(0o600)


def nbgrader(course: Path, *arguments: str, timeout: float = 600,
             check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGUMENTS` in the course folder as `digitlab` runs it (nbgrader's own
    command, whose start costs 1.7 CPU s less: gradebook.nbgrader_command); fails the caller's
    test on error unless check is False (autograde exits with 1 when it fails for any
    student). test_hub runs the instructor's commands as typed, `python -m nbgrader`."""
    result = subprocess.run(nbgrader_command(*arguments), cwd=course, capture_output=True,
                            text=True, timeout=timeout, env=nbgrader_environment())
    assert result.returncode == 0 or not check, (f"nbgrader {' '.join(arguments)} failed:\n"
                                                 f"{result.stderr}")
    return result


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_lines(notebook: Path, marker: str = "SOLUTION") -> list[str]:
    """The code lines between BEGIN and END SOLUTION (or another marker, such as HIDDEN
    TESTS) in a source notebook, comments left out."""
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            if f"### BEGIN {marker}" in line or f"### END {marker}" in line:
                inside = "BEGIN" in line
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def leaked_lines(text: str, marker: str) -> list[str]:
    """The code lines between BEGIN and END `marker` (SOLUTION, HIDDEN TESTS) of any source
    notebook that appear in text (spaces ignored), and the marker itself if it does: what
    must never reach a student."""
    lines = [line for notebook in SOURCE.glob("*.ipynb")
             for line in solution_lines(notebook, marker)]
    assert len(lines) >= 8  # backward's three lines and more: the search looks for something
    compact = text.replace(" ", "")
    return ([line for line in lines if line.replace(" ", "") in compact]
            + [f"BEGIN {marker}"] * (f"BEGIN {marker}" in text))


def solved_release(course: Path) -> dict[str, nbformat.NotebookNode]:
    """The released notebooks with every answer cell filled in from the source's solutions,
    as a student who got everything right would submit them."""
    solved = {}
    for name in NOTEBOOKS:
        source = {grade_id(cell): cell for cell in
                  nbformat.read(course / "notebooks" / ASSIGNMENT / name, as_version=4).cells}
        notebook = nbformat.read(course / "release" / ASSIGNMENT / name, as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = "\n".join(line for line in source[grade_id(cell)].source.splitlines()
                                        if "### BEGIN SOLUTION" not in line
                                        and "### END SOLUTION" not in line)
        solved[name] = notebook
    return solved


def submit(course: Path, student: str, notebooks: dict[str, nbformat.NotebookNode],
           files: dict[str, Path] | None = None,
           change: Callable[[dict[str, nbformat.NotebookNode]], None] | None = None) -> Path:
    """Place a student's submission in submitted/<student>/digit-lab, as `collect` would."""
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    notebooks = {name: nbformat.from_dict(notebook) for name, notebook in notebooks.items()}
    if change is not None:
        change(notebooks)
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    for name, path in (files or {}).items():
        shutil.copy(path, folder / name)
    return folder


def preview(*arguments: str, course: Path = REPO) -> subprocess.CompletedProcess:
    """The real `digitlab preview` command, as an instructor runs it, outside nbgrader."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("NBGRADER_EXECUTION", "DIGITLAB_ANSWER_KEY")}
    return subprocess.run([str(Path(sys.executable).with_name("digitlab")), "preview",
                           *arguments, "--course", str(course)],
                          capture_output=True, text=True, env=environment, timeout=900)


def tree_digest(folder: Path) -> str:
    """A digest of every path, type, mode and file content under folder (links unfollowed),
    to show that grading or scoring left a folder such as submitted/ exactly as it was."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(folder)} {info.st_mode} {info.st_size}".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def replace_answer(notebooks: dict[str, nbformat.NotebookNode], notebook: str, cell_id: str,
                   transform: Callable[[str], str]) -> None:
    """Rewrite the source of the cell `cell_id` of one notebook with transform(source)."""
    for cell in notebooks[notebook].cells:
        if grade_id(cell) == cell_id:
            cell.source = transform(cell.source)


def averaged_bias(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """The bug in the seed write-up: the bias gradient divided by the batch size."""
    replace_answer(notebooks, NOTEBOOKS[0], "linear-backward", lambda source: "\n".join(
        line[:line.index("self")] + AVERAGED_BIAS if "self.grad_bias =" in line else line
        for line in source.splitlines()))


def tamper_with_tests(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """One of each way to tamper with test cells, on the cells TAMPERED names."""
    first, fourth = notebooks[NOTEBOOKS[0]], notebooks[NOTEBOOKS[3]]
    cells = {grade_id(cell): cell for cell in first.cells}
    cells["test-weights-gradient"].source = "print(PUBLIC_PASS)"
    cells["test-sizes"].metadata["tags"] = ["skip-execution"]
    duplicate = copy.deepcopy(cells["test-parameters-unchanged"])
    duplicate.id = f"{duplicate.id}-copy"  # nbformat 4.5 needs unique cell ids
    first.cells.insert(first.cells.index(cells["test-parameters-unchanged"]) + 1, duplicate)
    first.cells.remove(cells["test-input-gradient"])
    for index, cell in enumerate(fourth.cells):
        if grade_id(cell) == "test-summary-interval":
            fourth.cells[index] = nbformat.v4.new_markdown_cell(cell.source, id=cell.id,
                                                                metadata=cell.metadata)
        elif grade_id(cell) == "test-summary-mean-std":
            cell.metadata.nbgrader.points = 20


# (notebook, grade id, kind) of every change tamper_with_tests makes.
TAMPERED = {
    (NOTEBOOKS[0], "test-input-gradient", "deleted_test"),
    (NOTEBOOKS[0], "test-weights-gradient", "edited_test"),
    (NOTEBOOKS[0], "test-parameters-unchanged", "duplicated_test"),
    (NOTEBOOKS[0], "test-sizes", "skip_tag"),
    (NOTEBOOKS[3], "test-summary-interval", "changed_cell_type"),
    (NOTEBOOKS[3], "test-summary-mean-std", "foreign_metadata"),
}


MARKUP = "<script>alert(1)</script>"  # what a student's output may hold: reports must escape it
RAISING_SUMMARY = f'''
def summarize_accuracies(accuracies):
    print({MARKUP!r})
    raise ValueError({MARKUP!r})
'''


def absent_and_raising(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """Notebook 03 left out, the seed's bias bug, and a summary that prints and raises markup."""
    del notebooks[NOTEBOOKS[2]]
    averaged_bias(notebooks)
    replace_answer(notebooks, NOTEBOOKS[3], "summarize-accuracies", lambda _: RAISING_SUMMARY)


def submit_report_class(course: Path) -> None:
    """Six students in submitted/ of a generated course, for the integrity scan and the report:
    perfect, blank (the release), buggy (the averaged bias), tamper (tamper_with_tests),
    absent (absent_and_raising) and corrupt (notebook 02 cut off mid-JSON)."""
    solved = solved_release(course)
    release = {name: nbformat.read(course / "release" / ASSIGNMENT / name, 4)
               for name in NOTEBOOKS}
    files = {"submission.csv": KEY}
    submit(course, "perfect", solved, files)
    submit(course, "blank", release)
    submit(course, "buggy", solved, files, change=averaged_bias)
    submit(course, "tamper", solved, files, change=tamper_with_tests)
    submit(course, "absent", solved, files, change=absent_and_raising)
    corrupt = submit(course, "corrupt", solved, files) / NOTEBOOKS[1]
    corrupt.write_text(corrupt.read_text()[:500])
