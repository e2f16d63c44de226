"""The hidden check of the student's Linear.backward, judged where no student code runs.

A hidden test cell in notebook 01 calls check("backward_check", "--quantity", "input", ...)
(digitlab.course.checks.hidden_check), which runs

    python -I -m digitlab.course.checks.backward_check --quantity input --layers 13x7,9x9 \
        --batch-sizes 1,6 --seed 5

and passes when it exits with status 0. This process draws the cases, has a child process
(digitlab.course.checks.run_backward) run the student's class from the saved notebook on them, and
judges the arrays the child sends back against numerical gradients computed here. The
student's code never runs in this process, and nothing done to numpy or digitlab in the
notebook's kernel or in the child can reach the verdict. The reference is numerical, so no
correct backward exists in this package.

The grader runs the same check from its own process (verify_outside calls `outside`), with
the child started through the box it passes (box.HiddenCheck holds what the checks share).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import digitlab
from digitlab.course.checks.box import HiddenCheck, whole_numbers
from digitlab.course.checks.registry import module_name
from digitlab.course.checks.run_backward import RECORDED
from digitlab.course.checks.student_cases import new_seed, vary
from digitlab.gradcheck import accumulation_problem, check_layer, doubled
from digitlab.student import NOTEBOOK_01

QUANTITIES = {  # what each --quantity judges, and the report lines that judge it
    "shapes": ("input gradient", "grad_weights", "grad_bias"),
    "input": ("input gradient",),
    "weights": ("grad_weights",),
    "bias": ("grad_bias",),
    "unchanged": (),
    "all": ("input gradient", "grad_weights", "grad_bias"),
}
# The quantities whose gradient a second backward on the same batch must not add to ("all"
# has that among the checker's contract problems; "shapes" looks at shapes only).
ACCUMULATING = {"weights": "grad_weights", "bias": "grad_bias"}
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
    if quantity == "all":
        return problems + report.problems
    # A gradient that accumulates is right on the first call and doubled on the second:
    # the quantity it belongs to fails too, in the checker's words.
    name = ACCUMULATING.get(quantity)
    if name and doubled(recorded.get(f"first_{name}"), recorded.get(f"second_{name}")):
        problems.append(accumulation_problem(name))
    return problems


def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in pair.split("x")) for pair in text.split(",")]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layers", type=_pairs, required=True, help="e.g. 13x7,9x9")
    parser.add_argument("--batch-sizes", type=whole_numbers, required=True)


def personalize(args: argparse.Namespace, rng: np.random.Generator) -> None:
    """One student's cases near the cell's: each layer's sizes varied (a size of 1 kept, a
    square layer kept square, a non-square one kept non-square, so a transposed gradient
    still shows in its shape), each batch size varied (a batch of 1 kept), a new seed."""
    layers = []
    for in_dim, out_dim in args.layers:
        varied_in = vary(rng, in_dim, kept_up_to=1)
        varied_out = varied_in if in_dim == out_dim else vary(rng, out_dim, kept_up_to=1)
        if in_dim != out_dim and varied_in == varied_out:
            varied_out += 1
        layers.append((varied_in, varied_out))
    args.layers = layers
    args.batch_sizes = [vary(rng, size, kept_up_to=1) for size in args.batch_sizes]
    args.seed = new_seed(rng)


def _label(case: dict) -> str:
    """The case as the report names it: its layer shape and batch size, "13->7, batch 6"."""
    return f"{case['weights'].shape[0]}->{case['weights'].shape[1]}, batch {len(case['x'])}"


CHECK = HiddenCheck(
    prog=module_name("backward_check"), description=__doc__.splitlines()[0],
    child=f"{__package__}.run_backward", subject="your Linear", notebook=NOTEBOOK_01,
    quantities=tuple(QUANTITIES), cases_name="cases", add_options=_options,
    draw=lambda args: make_cases(args.layers, args.batch_sizes, args.seed),
    judge=lambda args, case, recorded: judge(case, recorded, args.quantity, args.seed),
    label=_label, seconds=CHILD_SECONDS, personalize=personalize)
# The grader's runs (verify_outside, through the registry) and the in-kernel command line.
outside, outcome, main = CHECK.outside, CHECK.outcome, CHECK.main


if __name__ == "__main__":
    sys.exit(main())
