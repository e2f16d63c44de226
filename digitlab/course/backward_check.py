"""The hidden check of the student's Linear.backward, judged where no student code runs.

A hidden test cell in notebook 01 calls check("backward_check", "--quantity", "input", ...)
(digitlab.course.hidden_check), which runs

    python -I -m digitlab.course.backward_check --quantity input --layers 13x7,9x9 \
        --batch-sizes 1,6 --seed 5

and passes when it exits with status 0. This process draws the cases, has a child process
(digitlab.course.run_backward) run the student's class from the saved notebook on them, and
judges the arrays the child sends back against numerical gradients computed here. The
student's code never runs in this process, and nothing done to numpy or digitlab in the
notebook's kernel or in the child can reach the verdict. The reference is numerical, so no
correct backward exists in this package.

The grader runs the same check from its own process (digitlab.course.verify_outside calls
`outside`), with the child started through the box it passes (digitlab.course.box).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

import digitlab
from digitlab.course.box import (
    OpenBox,
    judged_outside,
    plain_box,
    run_child,
    run_from_command_line,
)
from digitlab.course.run_backward import RECORDED
from digitlab.gradcheck import check_layer
from digitlab.student import NOTEBOOK_01

QUANTITIES = {  # what each --quantity judges, and the report lines that judge it
    "shapes": ("input gradient", "grad_weights", "grad_bias"),
    "input": ("input gradient",),
    "weights": ("grad_weights",),
    "bias": ("grad_bias",),
    "unchanged": (),
    "all": ("input gradient", "grad_weights", "grad_bias"),
}
CHILD_SECONDS = 60  # far more than any correct backward needs on these small cases


class ReplayedLinear(digitlab.Linear):
    """The package's forward, with a backward that replays what the student's did.

    check_layer can then judge the student's arrays like any layer's: the first call gives
    the first run's gradients and leaves the parameters as the student's backward left them,
    the second call gives the second run's (accumulating gradients would show there).
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray, recorded: dict):
        self.weights, self.bias, self.input = weights, bias, None
        self.recorded, self.calls = recorded, 0

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        self.calls += 1
        run = "first" if self.calls == 1 else "second"
        values = {name: self.recorded.get(f"{run}_{name}") for name in RECORDED}
        self.grad_weights, self.grad_bias = values["grad_weights"], values["grad_bias"]
        # A parameter backward deleted or set to None counts as changed: check_layer compares.
        self.weights, self.bias = values["weights"], values["bias"]
        return values["returned"]


def make_cases(layers: list[tuple[int, int]], batch_sizes: list[int], seed: int) -> list[dict]:
    """One case per layer shape and batch size: weights, a nonzero bias, x and upstream."""
    rng = np.random.default_rng(seed)
    return [{"weights": rng.normal(0, 1 / np.sqrt(in_dim), (in_dim, out_dim)),
             "bias": rng.normal(size=(1, out_dim)),  # a zero bias would hide mistakes
             "x": rng.normal(size=(batch_size, in_dim)),
             "upstream": rng.normal(size=(batch_size, out_dim))}
            for in_dim, out_dim in layers for batch_size in batch_sizes]


def run_student(notebook: str | Path, cases: list[dict], seconds: float = CHILD_SECONDS,
                open_box: OpenBox = plain_box) -> tuple[list[dict] | None, str]:
    """The student's arrays for every case, from run_backward in a box; or None and why."""
    inputs = {f"{k}/{name}": value for k, case in enumerate(cases)
              for name, value in case.items()}
    return run_child("digitlab.course.run_backward", notebook, inputs,
                     lambda path: read_results(path, len(cases)), subject="your Linear",
                     seconds=seconds, open_box=open_box)


def read_results(path: Path, count: int) -> list[dict]:
    """The arrays of each of `count` cases, by name, from the child's results file.

    Never unpickles (an object array raises ValueError), and raises too for anything but
    numbers, except the "error" message. Keys that name no case are ignored.
    """
    recorded = [{} for _ in range(count)]
    with np.load(path, allow_pickle=False) as stored:
        for key in stored.files:
            k, _, name = key.partition("/")
            if k.isdigit() and int(k) < count:
                value = stored[key]
                recorded[int(k)][name] = (str(value) if name == "error"
                                          else np.asarray(value, dtype=np.float64))
    return recorded


def judge(case: dict, recorded: dict, quantity: str, seed: int) -> list[str]:
    """The problems with one case's arrays for `quantity`; [] when they are right."""
    if "error" in recorded:
        return [str(recorded["error"])]
    if quantity == "unchanged":
        return [f"backward changed self.{name}; it must leave the parameters alone"
                for name in ("weights", "bias")  # a missing array counts as changed
                if not np.array_equal(recorded.get(f"first_{name}"), case[name])]
    layer = ReplayedLinear(case["weights"], case["bias"], recorded)
    report = check_layer(layer, case["x"], case["upstream"], max_entries=200, seed=seed)
    problems = []
    for line in report.quantities:
        if line.name not in QUANTITIES[quantity]:
            continue
        # For shapes, only a wrong shape or a missing array (an infinite error) counts.
        wrong = np.isinf(line.relative_error) if quantity == "shapes" else not line.passed
        if wrong:
            problems.append(f"{line.name}: {line.diagnosis}")
    return problems + (report.problems if quantity == "all" else [])


def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in pair.split("x")) for pair in text.split(",")]


def parser() -> argparse.ArgumentParser:
    """The command line, which is also the arguments of check("backward_check", ...)."""
    parser = argparse.ArgumentParser(prog="python -m digitlab.course.backward_check",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default=NOTEBOOK_01)
    parser.add_argument("--quantity", choices=sorted(QUANTITIES), required=True)
    parser.add_argument("--layers", type=_pairs, required=True, help="e.g. 13x7,9x9")
    parser.add_argument("--batch-sizes", type=lambda t: [int(n) for n in t.split(",")],
                        required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=CHILD_SECONDS,
                        help="how long the student's code may run")
    return parser


def verdict(args: argparse.Namespace, notebook: str | Path,
            open_box: OpenBox = plain_box) -> tuple[bool, str]:
    """(passed, report) of the check that `args` describe, on the class in `notebook`."""
    cases = make_cases(args.layers, args.batch_sizes, args.seed)
    recorded, reason = run_student(notebook, cases, args.seconds, open_box)
    if recorded is None:
        return False, f"FAILED: {reason}"
    failures = [f"  {case['weights'].shape[0]}->{case['weights'].shape[1]}, batch "
                f"{len(case['x'])}: {problem}"
                for case, record in zip(cases, recorded, strict=True)
                for problem in judge(case, record, args.quantity, args.seed)]
    if failures:
        return False, "\n".join([f"FAILED: {args.quantity} is wrong on the hidden cases:",
                                  *failures])
    return True, "PASSED"


# The grader's run (digitlab.course.verify_outside) and the in-kernel command line.
outside = functools.partial(judged_outside, parser, verdict)
main = functools.partial(run_from_command_line, parser, verdict)


if __name__ == "__main__":
    sys.exit(main())
