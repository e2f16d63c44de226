"""A class of attackers for the adversarial grading test (tests/test_adversarial_class.py).

Each attack is a submission built from the solved release with nbformat edits, as a student
could write it in JupyterLab. Wherever the attack allows, it sits in a cell of its own that is
not a test cell, right after the notebook's first code cell (the imports): the student then
earns exactly the points of the tests the attack leaves alone, which the table below computes
from the source notebooks' points, not from typed-in totals.

Every attack is bounded by itself too (so many GiB, so many processes, so many minutes), so a
protection that fails shows up as a wrong score or a missing note, never as a dead machine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    TAMPERED,
    averaged_bias,
    grade_id,
    solved_release,
    submit,
    tamper_with_tests,
)

LINEAR, LEARNING_RATE, VANISHING, RANDOMNESS, COMPETITION = NOTEBOOKS
# What the seed's bias bug (averaged_bias) fails, and what an all-zero submission.csv fails.
BIAS_BUG_FAILS = ("test-bias-gradient", "test-sizes")
ZERO_LABELS_FAIL = ("test-accuracy-85", "test-accuracy-89", "test-accuracy-91")
# A string that only the vandal's own files contain, so any other file holding it was vandalised.
VANDAL_MARK = "vandalised-by-the-vandal"


def _graded_cells() -> dict[str, dict[str, tuple[str, float]]]:
    """{notebook: {grade id: (cell type, points)}} of every graded cell in the source."""
    return {name: {grade_id(cell): (cell.cell_type, cell.metadata.nbgrader.points)
                   for cell in nbformat.read(SOURCE / name, 4).cells
                   if cell.metadata.get("nbgrader", {}).get("grade")}
            for name in NOTEBOOKS}


GRADED_CELLS = _graded_cells()
MAX_SCORES = {notebook: sum(points for _, points in cells.values())
              for notebook, cells in GRADED_CELLS.items()}


def expected_points(failing: tuple[str, ...] = (), lost: tuple[str, ...] = ()) -> dict:
    """{notebook: points} autograde gives for the solved release, minus the failing test
    cells and every test of the lost notebooks (missing, corrupt). Written answers score 0
    until graded by hand."""
    return {notebook: sum(points for cell, (kind, points) in cells.items()
                          if kind == "code" and cell not in failing and notebook not in lost)
            for notebook, cells in GRADED_CELLS.items()}


def tests_of(notebook: str) -> tuple[str, ...]:
    """The grade ids of the notebook's test (code) cells."""
    return tuple(cell for cell, (kind, _) in GRADED_CELLS[notebook].items() if kind == "code")


# --- The attacks' code, each one cell -------------------------------------------------------

SPINNER = """\
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the cell timeout's interrupt does nothing
while True:
    pass
"""

SLEEPER = """\
import signal
import time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # uses no CPU: only wall time can stop it
for _ in range(3600):
    time.sleep(1)
"""

MEMORY_BOMB = """\
chunks = []
for _ in range(6 * 64):  # 6 GiB at most, 16 MiB at a time, every page touched
    chunks.append(b"x" * 2**24)
"""

FORK_BOMB = """\
import os
import time
children = 0
try:
    while children < 500:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        children += 1
except OSError as refusal:
    print(f"fork refused after {children} children: {refusal}")
"""

FLOOD = """\
import sys
megabyte = ("flood " * 170 + "\\n") * 1024
for _ in range(4 * 1024):  # 4 GiB at most
    sys.stdout.write(megabyte)
"""

# Replaces every checking tool the test cells use, in the kernel, so that they all pass.
PATCHER = """\
import subprocess
import types

import numpy as np

import digitlab
import digitlab.gradcheck
import digitlab.testing


class Passed:
    passed = True
    problems = []

    def __str__(self):
        return "all gradients match"


def check_layer(*args, **kwargs):
    return Passed()


def expect_gradient(*args, **kwargs):
    return None


def passing_run(*args, **kwargs):
    return types.SimpleNamespace(returncode=0, stdout="accuracy 1.000000\\n", stderr="")


np.allclose = np.array_equal = lambda *args, **kwargs: True
digitlab.check_layer = digitlab.gradcheck.check_layer = check_layer
expect_shape = digitlab.testing.expect_gradient = digitlab.testing.expect_shape = expect_gradient
subprocess.run = passing_run
"""

# Looks for the answer key wherever it might be, and writes it as its predictions.
KEY_READER = """\
import os
from pathlib import Path

places = [os.environ.get("DIGITLAB_ANSWER_KEY", ""), {key!r}]
places += [str(folder / "keys" / "digit-lab.csv") for folder in Path.cwd().parents]
for place in dict.fromkeys(filter(None, places)):
    try:
        key = Path(place).read_text()
    except OSError as error:
        print("key", place, "refused:", type(error).__name__)
        continue
    print("key", place, "READ:", key.splitlines()[1:4])
    try:
        Path("submission.csv").write_text(key)
        print("predictions written from the key")
    except OSError as error:
        print("cannot write submission.csv:", type(error).__name__)
"""

# Writes into every file that decides someone's grade, by absolute and by relative path.
VANDAL = """\
import sqlite3
from pathlib import Path

MARK = {mark!r}


def attempt(what, action):
    try:
        action()
        print("ALLOWED", what)
    except Exception as error:
        print("refused", what, type(error).__name__)


def scribble(path):
    with open(path, "a") as file:
        file.write(MARK)


def rescore(path):
    with sqlite3.connect(path, timeout=1) as connection:
        connection.execute("UPDATE grade SET manual_score = 99, extra_credit = 99")


for absolute, relative in {targets!r}:
    for path in (absolute, relative):
        if path.endswith(".db"):
            attempt("rescore " + path, lambda path=path: rescore(path))
        attempt("write " + path, lambda path=path: scribble(path))
        attempt("create next to " + path,
                lambda path=path: Path(path).with_name("vandal.txt").write_text(MARK))
"""


# --- Building the submissions ---------------------------------------------------------------

Change = Callable[[dict[str, nbformat.NotebookNode]], None]


def add_cell(notebook: str, source: str) -> Change:
    """A change that adds a code cell right after the notebook's first code cell."""
    def change(notebooks: dict[str, nbformat.NotebookNode]) -> None:
        cells = notebooks[notebook].cells
        first = next(index for index, cell in enumerate(cells) if cell.cell_type == "code")
        cells.insert(first + 1, nbformat.v4.new_code_cell(source, id=f"attack-{first + 1}"))
    return change


def together(*changes: Change) -> Change:
    def change(notebooks: dict[str, nbformat.NotebookNode]) -> None:
        for each in changes:
            each(notebooks)
    return change


def tag_tests_skip(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """Every test cell tagged so that a runner skips it or ignores its error."""
    for notebook in notebooks.values():
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
                cell.metadata["tags"] = ["skip-execution", "raises-exception"]


def leave_out(*names: str) -> Change:
    def change(notebooks: dict[str, nbformat.NotebookNode]) -> None:
        for name in names:
            del notebooks[name]
    return change


@dataclass(frozen=True)
class Attack:
    """One fabricated student: what it does, and what grading it must give.

    problems: phrases (case-insensitive) the summary must name among its problems;
    limits: the limit kinds its grading record must list; patched: the grade ids its record
    must list as patched checks.
    """

    student: str
    what: str
    points: dict
    problems: tuple[str, ...] = ()
    limits: frozenset[str] = frozenset()
    patched: frozenset[str] = frozenset()
    change: Change | None = None
    zero_labels: bool = False  # submission.csv of all zeros instead of the key's labels
    corrupt: dict[str, Callable[[str], str]] = field(default_factory=dict)


NB04_TESTS_LOST = expected_points(failing=tests_of(RANDOMNESS))


def attacks(course: Path, students: list[str]) -> list[Attack]:
    """The class: two honest students and one per attack. Vandal and key reader are given
    the course's real paths, as a student who knows the grading machine would use."""
    key = str(course / "keys" / KEY.name)
    others = [student for student in students if student != "vandal"]
    inside = ["gradebook.db", "nbgrader_config.py", f"keys/{KEY.name}",
              *(f"submitted/{student}/{ASSIGNMENT}/{LINEAR}" for student in students),
              *(f"autograded/{student}/{ASSIGNMENT}/{LINEAR}" for student in others),
              *(f"grading/{ASSIGNMENT}/{student}.json" for student in others)]
    # Absolute, and relative to where the kernel runs: autograded/vandal/digit-lab.
    targets = [(str(course / path), f"../../../{path}") for path in inside]
    return [
        Attack("perfect", "the reference solutions", expected_points()),
        Attack("buggy", "the seed's bias bug (bias gradient averaged)",
               expected_points(failing=BIAS_BUG_FAILS), change=averaged_bias),
        Attack("spinner", "ignores SIGINT, loops on the CPU (notebook 04)", NB04_TESTS_LOST,
               ("CPU time limit",), frozenset({"cpu"}), change=add_cell(RANDOMNESS, SPINNER)),
        Attack("sleeper", "ignores SIGINT, sleeps for an hour (notebook 04)", NB04_TESTS_LOST,
               ("wall-clock limit",), frozenset({"wall"}), change=add_cell(RANDOMNESS, SLEEPER)),
        Attack("memory_bomb", "allocates up to 6 GiB, 16 MiB at a time (notebook 04)",
               NB04_TESTS_LOST, ("memory limit",), frozenset({"memory"}),
               change=add_cell(RANDOMNESS, MEMORY_BOMB)),
        # Its sleeping children hold the kernel's process budget until the notebook ends, so
        # notebook 04's later checks cannot start a process and fail; notebook 05 gets a
        # fresh kernel and is graded in full.
        Attack("fork_bomb", "forks up to 500 sleeping children (notebook 04)",
               NB04_TESTS_LOST, ("process limit",), frozenset({"processes"}),
               change=add_cell(RANDOMNESS, FORK_BOMB)),
        Attack("flood", "prints up to 4 GiB (notebook 04)", expected_points(), ("output limit",),
               frozenset({"output"}), change=add_cell(RANDOMNESS, FLOOD)),
        Attack("tamper", "the bias bug, and tests deleted, edited, duplicated, skip-tagged, "
               "turned into markdown and worth 20 points",
               expected_points(failing=BIAS_BUG_FAILS),
               tuple(sorted({kind.replace("_", " ") for _, _, kind in TAMPERED})),
               change=together(averaged_bias, tamper_with_tests)),
        Attack("skip_tag", "the bias bug, every test tagged skip-execution and raises-exception",
               expected_points(failing=BIAS_BUG_FAILS), ("skip tag",),
               change=together(averaged_bias, tag_tests_skip)),
        Attack("patcher", "the bias bug and all-zero labels, with numpy, digitlab's checks and "
               "subprocess.run replaced in the kernel (notebooks 01 and 05)",
               expected_points(failing=BIAS_BUG_FAILS + ZERO_LABELS_FAIL), ("patched check",),
               patched=frozenset(BIAS_BUG_FAILS + ZERO_LABELS_FAIL),
               change=together(averaged_bias, add_cell(LINEAR, PATCHER),
                               add_cell(COMPETITION, PATCHER)),
               zero_labels=True),
        Attack("key_reader", "all-zero labels; while graded, reads the key and writes it as "
               "submission.csv (notebook 05)", expected_points(failing=ZERO_LABELS_FAIL),
               change=add_cell(COMPETITION, KEY_READER.format(key=key)), zero_labels=True),
        Attack("vandal", "writes into the gradebook, the config, the key, and every student's "
               "submitted, autograded and grading files (notebook 01)", expected_points(),
               change=add_cell(LINEAR, VANDAL.format(mark=VANDAL_MARK, targets=targets))),
        Attack("missing", "no notebook 05", expected_points(lost=(COMPETITION,)),
               (f"{COMPETITION} was not submitted",), change=leave_out(COMPETITION)),
        Attack("corrupt", "notebook 01 cut off mid-JSON, notebook 04 not JSON at all",
               expected_points(lost=(LINEAR, RANDOMNESS)),
               (LINEAR, RANDOMNESS, "not a valid notebook"),
               corrupt={LINEAR: lambda text: text[:len(text) // 2],
                        RANDOMNESS: lambda _: "this is not a notebook\n"}),
    ]


STUDENTS = ["perfect", "buggy", "spinner", "sleeper", "memory_bomb", "fork_bomb", "flood",
            "tamper", "skip_tag", "patcher", "key_reader", "vandal", "missing", "corrupt"]


def submit_class(course: Path, zero_labels_csv: Path) -> list[Attack]:
    """Every attack's submission in course/submitted/; returns the attacks."""
    solved = solved_release(course)
    class_attacks = attacks(course, STUDENTS)
    for attack in class_attacks:
        labels = zero_labels_csv if attack.zero_labels else KEY
        folder = submit(course, attack.student, copy.deepcopy(solved),
                        {"submission.csv": labels}, change=attack.change)
        for notebook, damage in attack.corrupt.items():
            (folder / notebook).write_text(damage((folder / notebook).read_text()))
    return class_attacks


def write_zero_labels(path: Path) -> Path:
    """A valid submission.csv that predicts 0 for every competition image (about 10%)."""
    rows = len(KEY.read_text().splitlines()) - 1
    path.write_text("ImageId,Label\n" + "".join(f"{image},0\n" for image in range(1, rows + 1)))
    return path
