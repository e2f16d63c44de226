"""The one registry of hidden checks: the names a hidden test may call, and where each lives.

A hidden test cell calls check(NAME, ...) in the student's kernel (hidden_check), and the
grader judges the same call again from its own process (verify_outside); both find NAME
here. Each NAME is a module of this package that defines

- main(argv=None) -> exit status: `python -I -m MODULE ARGUMENTS`, the kernel's run;
- outside(arguments, submitted folder, open_box) -> (passed, report): the grader's run;
- outcome(arguments, submitted folder, open_box, rng=None) -> Outcome: the same run, told
  in parts, on the cases `rng` draws for one student (student_cases) when it is given.

The names are written in the hidden tests' source, which every gradebook stores, so a name
once released never changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

CHECKS = ("backward_check", "score_submission", "summary_check")


def module_name(name: str) -> str:
    """The module of the check `name`, for `python -m`; ValueError for an unknown name."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; the checks are {', '.join(CHECKS)}")
    return f"{__package__}.{name}"


MODULES = tuple(map(module_name, CHECKS))  # what a server of the checks imports


@dataclass(frozen=True)
class Outcome:
    """The grader's run of one check call, in the parts that its readers need.

    report: for the instructor, every case named (the cell's error or note in the
        autograded notebook); cases: how the report names each case judged ("13->7,
        batch 6"), recorded so a regrade can be compared; shown: what a student may read
        in the feedback, the diagnosis without cases, shapes or seeds ("" when nothing
        needs saying); seed: the seed of the cases' arrays, None for a check without one.
    """

    passed: bool
    report: str
    cases: tuple[str, ...]
    shown: str
    seed: int | None = None


def outcome(name: str) -> Callable[..., Outcome]:
    """The grader's run of the check `name`, told as an Outcome."""
    return importlib.import_module(module_name(name)).outcome


def outside(name: str) -> Callable[..., tuple[bool, str]]:
    """The grader's run of the check `name` (imported only when the grader needs it)."""
    return importlib.import_module(module_name(name)).outside
