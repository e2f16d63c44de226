"""Run the student's code in a child process, through a "box", and read back only numbers.

The hidden checks (backward_check, summary_check) never run the student's code in their own
process. They write the inputs as arrays, start a child (run_backward, run_summary) that
loads the student's answer cell from the saved notebook and writes its results as arrays,
and judge those (read with allow_pickle=False).

A box says where and how the child starts: anything with a writable `directory`, a
`command(argv) -> argv` and an `environment`. plain_box, the default, is a plain child
process of the same user in a temporary folder; a sandbox with that interface (the grader's,
as another user and under limits) is passed as `open_box` instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

T = TypeVar("T")


class Box(Protocol):
    """Where and how the child that runs the student's code is started."""

    directory: str | Path  # a folder the child may write to; the check's files go there
    environment: dict[str, str]  # the child's whole environment

    def command(self, argv: list[str]) -> list[str]:
        """The argv that runs argv inside the box."""


OpenBox = Callable[[], AbstractContextManager[Box]]
# verdict(arguments, notebook, open_box) -> (passed, report): a check's judgement.
Verdict = Callable[..., tuple[bool, str]]


@dataclass
class PlainBox:
    """A plain child process of this user, in a folder of its own."""

    directory: Path
    environment: dict[str, str]

    def command(self, argv: list[str]) -> list[str]:
        return argv


@contextmanager
def plain_box() -> Iterator[PlainBox]:
    """The default box: a temporary folder, removed afterwards, and this environment."""
    with tempfile.TemporaryDirectory() as folder:
        yield PlainBox(Path(folder), dict(os.environ))


def run_child(module: str, notebook: str | Path, inputs: dict[str, np.ndarray],
              read: Callable[[Path], T], *, subject: str, seconds: float,
              open_box: OpenBox = plain_box) -> tuple[T | None, str]:
    """read(results file) of `python -I -m module NOTEBOOK INPUTS.npz RESULTS.npz` run in a
    box; or None and the reason, in words for the student, who wrote `subject`.

    The notebook is copied into the box under its own name, so the child needs no access to
    where it came from, and its messages name the notebook without the folders around it.
    `read` may raise anything: the student's code can write anything to the results file.
    """
    notebook = Path(notebook)
    if notebook.is_symlink():  # it could point at another student's notebook
        return None, f"{notebook.name} is a symbolic link; submit the notebook file itself."
    with open_box() as box:
        folder = Path(box.directory)
        try:
            if notebook.is_file():  # if not, the child's loader says that it is not here
                shutil.copyfile(notebook, folder / notebook.name)
        except OSError as error:
            return None, f"{notebook.name} could not be read ({error.strerror})."
        inputs_path, results_path = folder / "inputs.npz", folder / "results.npz"
        np.savez(inputs_path, **inputs)
        try:
            child = subprocess.run(
                box.command([sys.executable, "-I", "-m", module, notebook.name,
                             inputs_path.name, results_path.name]),
                cwd=folder, env=box.environment, capture_output=True, text=True,
                timeout=seconds)
        except subprocess.TimeoutExpired:
            return None, f"{subject} did not finish within {seconds:g} s."
        if child.returncode != 0:  # the child printed why: the loader's message
            return None, (child.stdout.strip() or child.stderr.strip()[-2000:]
                          or f"the process running {subject} failed ({child.returncode}).")
        if not results_path.exists():
            return None, (f"the process running {subject} ended before writing its results; "
                          "does your code exit the process?")
        # A named pipe would block the reader forever, a link would read another file.
        if results_path.is_symlink() or not results_path.is_file():
            return None, f"the results of {subject} are not a plain file."
        try:
            return read(results_path), ""
        except Exception as error:
            return None, (f"the results of {subject} could not be read as arrays of "
                          f"numbers ({type(error).__name__}).")


def judged_outside(parser: Callable[[], argparse.ArgumentParser], verdict: Verdict,
                   arguments: list[str], folder: Path, open_box: OpenBox) -> tuple[bool, str]:
    """The grader's run of a check: (passed, report) of verdict on `arguments` as the test
    cell wrote them, with the student's notebook taken from folder (the submitted one)."""
    args = parser().parse_args(arguments)
    return verdict(args, folder / Path(args.notebook).name, open_box)


def run_from_command_line(parser: Callable[[], argparse.ArgumentParser], verdict: Verdict,
                          argv: list[str] | None = None) -> int:
    """A check's command line, as the notebook's check() runs it: print the report; exit
    status 0 when it passed, 1 when not."""
    args = parser().parse_args(argv)
    passed, report = verdict(args, args.notebook)
    print(report)
    return 0 if passed else 1
