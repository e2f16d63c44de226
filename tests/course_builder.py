"""Build a throwaway copy of the course and fill in students' work, for the nbgrader tests
and the autograding benchmark. Everything runs the real `nbgrader` command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "digit-lab"
SOURCE = REPO / "notebooks" / ASSIGNMENT
NOTEBOOKS = sorted(path.name for path in SOURCE.glob("*.ipynb"))
KEY = REPO / "keys" / "digit-lab.csv"


def copy_course(destination: Path) -> Path:
    """The course as an instructor has it: config, answer key and source notebooks only."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", destination)
    shutil.copytree(REPO / "keys", destination / "keys")
    shutil.copytree(SOURCE, destination / "notebooks" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns("submission.csv", ".ipynb_checkpoints"))
    return destination


def nbgrader(course: Path, *arguments: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGUMENTS` in the course folder; fails the caller's test on error."""
    # nbgrader runs helper programs such as alembic by name: they sit next to this Python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    result = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course,
                            capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, "PATH": path})
    assert result.returncode == 0, f"nbgrader {' '.join(arguments)} failed:\n{result.stderr}"
    return result


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_lines(notebook: Path) -> list[str]:
    """The code lines between BEGIN and END SOLUTION in a source notebook, comments left out."""
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


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
