"""Run the student's code in a child process, through a "box", and read back only numbers.

The hidden checks that run student code (backward_check, summary_check) never run it in
their own process. They write the inputs as arrays, start a child (run_backward,
run_summary) that loads the student's answer cell from the saved notebook and writes its
results as arrays, and judge those (read with allow_pickle=False). HiddenCheck is what
such a check is made of: its own cases and judgement, and the command line, the child's
run and the verdict that they share.

A box says where and how the child starts: anything with a writable `directory`, a
`command(argv) -> argv`, an `environment` and a `deadline` (the child's timeout is cut to
it: the grader's sandbox carries the end of the student's grading budget), and perhaps a
`run_module` that runs the child its own way. plain_box, the default, is a plain child of
the same process in a temporary folder, forked rather than started (fork_server.fork_run:
the check has imported all the child needs); a sandbox with that interface (the grader's,
as another user and under limits, through its own fork server) is passed as `open_box`
instead. A box with only `command` starts `python -I -m CHILD` through it.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from digitlab.course.checks.registry import Outcome
from digitlab.course.sandbox.fork_server import Finished, ServerGone, fork_run

T = TypeVar("T")
DID_NOT_FINISH = "did not finish within"  # how a report says the student's code timed out
# The files the grader writes for the child, readable whatever the grader's umask: in a
# sandbox the child runs as a grading user, and the box's folder (theirs, 0700) keeps
# everyone else out. Under umask 007 the child could not read them and every check failed.
CHILD_READS = 0o644


class Box(Protocol):
    """Where and how the child that runs the student's code is started."""

    directory: str | Path  # a folder the child may write to; the check's files go there
    environment: dict[str, str]  # the child's whole environment
    # Optional: time.monotonic() by which the child must end; None or absent: no deadline.
    deadline: float | None

    def command(self, argv: list[str]) -> list[str]:
        """The argv that runs argv inside the box."""

    # Optional: run_module(module, argv, files, results, timeout) -> (Finished, path of the
    # results file to read, which may not exist), as run_by_command does.


OpenBox = Callable[[], AbstractContextManager[Box]]


@dataclass
class PlainBox:
    """A plain child process of this user, in a folder of its own."""

    directory: Path
    environment: dict[str, str]
    deadline: float | None = None

    def command(self, argv: list[str]) -> list[str]:
        return argv

    def run_module(self, module: str, argv: list[str], files: dict[str, bytes],
                   results: str, timeout: float) -> tuple[Finished, Path]:
        """As run_by_command, in a child forked from this process."""
        stage(Path(self.directory), files)
        return (fork_run(module, argv, self.directory, self.environment, timeout),
                Path(self.directory) / results)


def stage(folder: Path, files: dict[str, bytes]) -> None:
    """Write the child's files into its folder, readable by the child whoever it runs as."""
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(CHILD_READS)


def run_by_command(box: Box, module: str, argv: list[str], files: dict[str, bytes],
                   results: str, timeout: float) -> tuple[Finished, Path]:
    """`python -I -m module argv...` started through box.command in box.directory, with
    `files` ({name: content}) put there first; how it ended, and where its `results` file
    is. subprocess.TimeoutExpired after `timeout` seconds."""
    folder = Path(box.directory)
    stage(folder, files)
    child = subprocess.run(box.command([sys.executable, "-I", "-m", module, *argv]),
                           cwd=folder, env=box.environment, capture_output=True,
                           timeout=timeout)
    return Finished(child.returncode, child.stdout.decode(errors="replace"),
                    child.stderr.decode(errors="replace")), folder / results


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

    The notebook is copied into the child's folder under its own name, so the child needs no
    access to where it came from, and its messages name the notebook without the folders
    around it.
    `read` may raise anything: the student's code can write anything to the results file.
    """
    notebook = Path(notebook)
    if notebook.is_symlink():  # it could point at another student's notebook
        return None, f"{notebook.name} is a symbolic link; submit the notebook file itself."
    inputs_file = io.BytesIO()
    np.savez(inputs_file, **inputs)
    files = {"inputs.npz": inputs_file.getvalue()}
    try:
        if notebook.is_file():  # if not, the child's loader says that it is not here
            files[notebook.name] = notebook.read_bytes()
    except OSError as error:
        return None, f"{notebook.name} could not be read ({error.strerror})."
    with open_box() as box:
        deadline = getattr(box, "deadline", None)  # optional: boxes written before it work
        timeout = seconds if deadline is None else min(seconds, deadline - time.monotonic())
        if timeout <= 0:
            return None, f"{subject} was not run: the grading time for this student is spent."
        run = getattr(box, "run_module", None) or partial(run_by_command, box)
        try:
            child, results_path = run(module, [notebook.name, "inputs.npz", "results.npz"],
                                      files, "results.npz", timeout)
        except subprocess.TimeoutExpired:
            return None, f"{subject} {DID_NOT_FINISH} {round(timeout, 1):g} s."
        except ServerGone as error:  # e.g. the student's code killed the server
            return None, f"the process running {subject} failed ({error})."
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


def read_results(path: Path, count: int, names: tuple[str, ...] | None = None) -> list[dict]:
    """The arrays of each of `count` cases ("k/name" in the child's results file), by name:
    only `names` when given, every name otherwise.

    Never unpickles (an object array raises ValueError), and raises too for anything but
    numbers, except the "error" messages, read as text. Keys that name no case are ignored.
    """
    results = [{} for _ in range(count)]
    with np.load(path, allow_pickle=False) as stored:
        for key in stored.files:
            k, _, name = key.partition("/")
            if k.isdigit() and int(k) < count and (names is None or name in names):
                value = stored[key]
                results[int(k)][name] = (str(value) if name == "error"
                                         else np.asarray(value, dtype=np.float64))
    return results


def whole_numbers(text: str) -> list[int]:
    """A command line's "2,7,40" as [2, 7, 40]."""
    return [int(number) for number in text.split(",")]


@dataclass(frozen=True)
class HiddenCheck:
    """One hidden check that runs the student's code: what sets it apart.

    The rest is the same for every such check, and lives here: the command line (--notebook,
    --quantity, --seed, --seconds and the check's own options), running the child on the
    cases in a box, and the verdict's wording. Each case is a dict of arrays; the child
    (`child`, a module run as `python -I -m child NOTEBOOK INPUTS.npz RESULTS.npz`) answers
    each with a dict of arrays, or with an "error" message.
    """

    prog: str  # the check's module, as `python -m` names it
    description: str
    child: str
    subject: str  # the student's code in the report, e.g. "your Linear"
    notebook: str  # the default --notebook
    quantities: tuple[str, ...]
    cases_name: str  # what the report calls the cases, e.g. "cases"
    add_options: Callable[[argparse.ArgumentParser], None]  # the check's own options
    draw: Callable[[argparse.Namespace], list[dict[str, np.ndarray]]]
    # judge(args, case, result) -> the problems with one case's result, [] when right
    judge: Callable[[argparse.Namespace, dict, dict], list[str]]
    label: Callable[[dict], str]  # how the report names a case, e.g. "13->7, batch 6"
    seconds: float  # the default --seconds: how long the student's code may run
    # personalize(args, rng): args' cases varied by rng, one student's own (student_cases)
    personalize: Callable[[argparse.Namespace, np.random.Generator], None]
    result_names: tuple[str, ...] | None = None  # the results read back; None: all

    def parser(self) -> argparse.ArgumentParser:
        """The command line, which is also the arguments of check(NAME, ...)."""
        parser = argparse.ArgumentParser(prog=f"python -m {self.prog}",
                                         description=self.description)
        parser.add_argument("--notebook", default=self.notebook)
        parser.add_argument("--quantity", choices=sorted(self.quantities), required=True)
        self.add_options(parser)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--seconds", type=float, default=self.seconds,
                            help="how long the student's code may run")
        return parser

    def run_student(self, notebook: str | Path, cases: list[dict], seconds: float,
                    open_box: OpenBox = plain_box) -> tuple[list[dict] | None, str]:
        """The student's results for every case, from the child in a box; or None and why."""
        inputs = {f"{k}/{name}": value for k, case in enumerate(cases)
                  for name, value in case.items()}
        return run_child(self.child, notebook, inputs,
                         lambda path: read_results(path, len(cases), self.result_names),
                         subject=self.subject, seconds=seconds, open_box=open_box)

    def judged(self, args: argparse.Namespace, notebook: str | Path,
               open_box: OpenBox = plain_box) -> Outcome:
        """The check that `args` describe, on the code in `notebook`, as an Outcome."""
        cases = self.draw(args)
        labels = tuple(self.label(case) for case in cases)
        results, reason = self.run_student(notebook, cases, args.seconds, open_box)
        if results is None:
            return Outcome(False, f"FAILED: {reason}", labels, reason, args.seed)
        problems = [(label, problem) for label, case, result in zip(labels, cases, results,
                                                                      strict=True)
                    for problem in self.judge(args, case, result)]
        if not problems:
            return Outcome(True, "PASSED", labels, "", args.seed)
        report = "\n".join([f"FAILED: {args.quantity} is wrong on the hidden {self.cases_name}:",
                            *(f"  {label}: {problem}" for label, problem in problems)])
        # Each problem once, without the case it was found on.
        return Outcome(False, report, labels, "; ".join(dict.fromkeys(
            problem for _, problem in problems)), args.seed)

    def verdict(self, args: argparse.Namespace, notebook: str | Path,
                open_box: OpenBox = plain_box) -> tuple[bool, str]:
        """(passed, report) of the check that `args` describe, on the code in `notebook`."""
        judged = self.judged(args, notebook, open_box)
        return judged.passed, judged.report

    def outcome(self, arguments: list[str], folder: Path, open_box: OpenBox = plain_box,
                rng: np.random.Generator | None = None) -> Outcome:
        """The grader's run on `arguments` as the test cell wrote them, with the student's
        notebook taken from folder (the submitted one); on the cases rng varies them to
        (one student's own, student_cases) when rng is given."""
        args = self.parser().parse_args(arguments)
        if rng is not None:
            self.personalize(args, rng)
        return self.judged(args, folder / Path(args.notebook).name, open_box)

    def outside(self, arguments: list[str], folder: Path,
                open_box: OpenBox = plain_box) -> tuple[bool, str]:
        """The grader's run: (passed, report) on `arguments` as the test cell wrote them,
        with the student's notebook taken from folder (the submitted one)."""
        judged = self.outcome(arguments, folder, open_box)
        return judged.passed, judged.report

    def main(self, argv: list[str] | None = None) -> int:
        """The command line, as the notebook's check() runs it: print the report; exit
        status 0 when it passed, 1 when not."""
        args = self.parser().parse_args(argv)
        passed, report = self.verdict(args, args.notebook)
        print(report)
        return 0 if passed else 1
