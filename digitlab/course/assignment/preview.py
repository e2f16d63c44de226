"""`digitlab preview ASSIGNMENT`: run the source notebooks with their solutions and write
each as an HTML page, every figure included: the reference an instructor reads.

Each notebook runs top to bottom in a fresh kernel, as a student's full run in JupyterLab
would: outside nbgrader (NBGRADER_EXECUTION unset, so the scripted experiments train), in a
copy of the assignment folder, OUT/ran-ASSIGNMENT (notebook 05 writes submission.csv, which
must not land in the source). That copy is kept: the ran notebooks with their outputs, to
open in JupyterLab, and what they wrote (the reference submission.csv). The kernel gets the
answer key, when one is found, so notebook 05's hidden tests score the submission; without
it they say "Not checked in the notebook" and pass.

The pages and the ran notebooks hold the solutions and the hidden tests. They are for the
instructor only: the output folder may not lie inside the assignment's source folder, which
nbgrader copies into the release. A notebook that fails is named with its cell, and the
others still run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellControlSignal, CellExecutionError, DeadKernelError
from nbconvert import HTMLExporter

from digitlab.course.checks.score_submission import KEY_VARIABLE, instructor_key
from digitlab.course.layout import CourseLayout

CELL_TIMEOUT = 300  # seconds; the lab's notebooks run in under 60 s each
RAN_MARK = ".digitlab-preview"  # in the folder of ran notebooks: a later preview replaces it


@dataclass(frozen=True)
class Page:
    """One notebook's outcome: its HTML page, and what failed (None when it all ran)."""

    notebook: str
    html: Path
    figures: int
    seconds: float
    problem: str | None


class PreviewError(Exception):
    """The preview cannot start; the message says why and what to do."""


def source_folder(course: str | Path, assignment: str) -> Path:
    """The assignment's source notebooks; PreviewError naming the assignments there if none."""
    folder = CourseLayout(course).source(assignment)
    sources = folder.parent
    if not sorted(folder.glob("*.ipynb")):
        there = sorted(path.name for path in sources.iterdir()
                       if path.is_dir() and any(path.glob("*.ipynb"))) if sources.is_dir() else []
        raise PreviewError(f"No source notebooks for the assignment {assignment!r} in {folder}. "
                           + (f"The assignments there: {', '.join(there)}." if there else
                              "Run this in the course folder (the one holding "
                              "nbgrader_config.py) or give it with --course."))
    return folder


def answer_key(course: str | Path, assignment: str, key: str | Path | None = None
               ) -> Path | None:
    """key if given, else $DIGITLAB_ANSWER_KEY, else COURSE/keys/ASSIGNMENT.csv; None if
    that file does not exist."""
    path = instructor_key(CourseLayout(course).answer_key(assignment), key)
    return path if path.is_file() else None


def ran_folder(out: str | Path, assignment: str) -> Path:
    """Where the preview runs the notebooks of assignment, and keeps them."""
    return Path(out) / f"ran-{assignment}"


def write_preview(course: str | Path, assignment: str, out: str | Path, *,
                  key: Path | None = None,
                  progress: Callable[[Page], None] = lambda page: None) -> list[Page]:
    """Run every source notebook of assignment in out/ran-<assignment>/ (a copy of its
    source folder, replacing a former preview's), save each there with its outputs, and
    write out/<notebook>.html for each.

    key: the answer key for the kernels, or None. progress(page) is called as each
    notebook is done. A notebook that fails still gets its page, up to and including the
    failing cell. PreviewError when there is nothing to run, out would reach the release, or
    out/ran-<assignment> is a folder that no preview made.
    """
    source = source_folder(course, assignment)
    out = Path(out)
    if out.resolve().is_relative_to(source.resolve()):
        raise PreviewError(f"--out {out} is inside the source folder {source}: nbgrader copies "
                           "that folder into the release, and the preview holds the solutions. "
                           "Choose a folder outside it.")
    out.mkdir(parents=True, exist_ok=True)
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("NBGRADER_EXECUTION", KEY_VARIABLE)}
    if key is not None:
        environment[KEY_VARIABLE] = str(Path(key).resolve())
    folder = ran_folder(out, assignment)
    if folder.exists():
        if not (folder / RAN_MARK).is_file():
            raise PreviewError(f"{folder} exists and no preview made it: the preview runs the "
                               "notebooks there, replacing it. Move it away, or choose "
                               "another --out.")
        shutil.rmtree(folder)
    shutil.copytree(source, folder)
    (folder / RAN_MARK).write_text("Made by digitlab preview, which replaces this folder.\n")
    pages = []
    for path in sorted(folder.glob("*.ipynb")):
        page = _preview_notebook(path, out / f"{path.stem}.html", environment)
        progress(page)
        pages.append(page)
    return pages


def _preview_notebook(path: Path, html: Path, environment: dict[str, str]) -> Page:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    problem = None
    try:
        client.execute(env=environment)
    except (CellControlSignal, DeadKernelError) as error:  # a failed cell, a timeout
        problem = f"{_failed_cell(notebook)}: {_first_line(error)}"
    seconds = time.perf_counter() - start
    # A panel's widget state would make the page fetch the widget library from the web to
    # draw controls that cannot train there; without it, the panel shows its text.
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    exporter = HTMLExporter(embed_images=True)  # a markdown cell's picture files too
    body, _ = exporter.from_notebook_node(
        notebook, resources={"metadata": {"name": path.stem, "path": str(path.parent)}})
    html.write_text(body, encoding="utf-8")
    figures = sum("image/png" in output.get("data", {}) for cell in notebook.cells
                  for output in cell.get("outputs", []))
    return Page(path.name, html, figures, seconds, problem)


def _failed_cell(notebook) -> str:
    """Names the cell that raised: its number, its nbgrader id and its first line."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code, 1):
        if any(output.output_type == "error" for output in cell.get("outputs", [])):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            return (f"code cell {number}" + (f" ({grade_id})" if grade_id else "")
                    + f", which starts {first.strip()!r}")
    return "a cell that did not finish"  # a timeout or a dead kernel leaves no error output


def _first_line(error: Exception) -> str:
    if isinstance(error, CellExecutionError) and error.ename:
        return f"{error.ename}: {error.evalue}".splitlines()[0]
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def register(commands: argparse._SubParsersAction) -> None:
    """Add `preview` to the digitlab command's subcommands."""
    command = commands.add_parser(
        "preview", help="run the source notebooks with their solutions and write them as HTML",
        description="Run each source notebook of ASSIGNMENT top to bottom in a fresh kernel, "
                    "outside nbgrader so that the experiments train, and write "
                    "OUT/<notebook>.html with every figure; the ran notebooks, and what they "
                    "wrote, stay in OUT/ran-ASSIGNMENT. Both hold the solutions: never put "
                    "them in the release.")
    command.add_argument("assignment", help="the nbgrader assignment, e.g. digit-lab")
    command.add_argument("--course", default=".", help="the course folder, holding "
                         "nbgrader_config.py and the source notebooks (default: the current "
                         "folder)")
    command.add_argument("--out", help="the folder for the pages and the ran notebooks "
                         "(default: COURSE/preview)")
    command.add_argument("--key", help=f"the answer key for notebook 05's hidden tests "
                         f"(default: ${KEY_VARIABLE}, else COURSE/keys/ASSIGNMENT.csv; "
                         "without one they are not checked in the notebook)")
    command.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The `digitlab preview` command: 0 when every notebook ran, 1 otherwise."""
    course = Path(args.course)
    key = answer_key(course, args.assignment, args.key)
    if args.key and key is None:
        print(f"The answer key {args.key} does not exist.")
        return 1
    out = Path(args.out or course / "preview")
    try:
        pages = write_preview(course, args.assignment, out, key=key, progress=_say)
    except PreviewError as error:
        print(error)
        return 1
    failed = [page for page in pages if page.problem]
    print(f"{len(pages) - len(failed)} of {len(pages)} notebooks ran, "
          + ("with the answer key" if key else "without an answer key (hidden tests that need "
                                                 "it said they were not checked)")
          + f"; the ran notebooks are in {ran_folder(out, args.assignment)}. The pages and "
            "the ran notebooks hold the solutions: keep them out of the release.")
    return 1 if failed else 0


def _say(page: Page) -> None:
    if page.problem:
        print(f"{page.notebook} FAILED in {page.problem}. Its page shows the cells up to "
              f"there: {page.html}")
    else:
        print(f"{page.notebook}: ran in {page.seconds:.1f} s, {page.figures} figures -> "
              f"{page.html}")
