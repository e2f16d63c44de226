"""The hidden check of the student's Linear.backward, run in a fresh Python process.

A hidden test cell runs

    python -I -m digitlab.course.backward_check --quantity input --layers 13x7,9x9 ...

with a random token on stdin, and passes only if the last line printed is "<token> PASSED".
The fresh process never sees what the student's code did to numpy or digitlab inside the
notebook's kernel. The answer cell itself runs here too, so every module attribute of numpy
and digitlab is recorded before it runs and compared after each call into the student's
code: code that patches them fails the check instead of faking a pass.

The reference is the numerical gradient, so no correct backward exists in this file.
"""

from __future__ import annotations

import argparse
import math
import sys
import types

import numpy as np

import digitlab
from digitlab.gradcheck import check_layer
from digitlab.student import NOTEBOOK_01, StudentCodeError, run_answer

QUANTITY_LINES = {
    "shapes": ("input gradient", "grad_weights", "grad_bias"),
    "input": ("input gradient",),
    "weights": ("grad_weights",),
    "bias": ("grad_bias",),
    "all": ("input gradient", "grad_weights", "grad_bias"),
}
QUANTITIES = {
    "shapes": "the shapes of the input gradient, grad_weights and grad_bias",
    "input": "input gradient",
    "weights": "grad_weights",
    "bias": "grad_bias",
    "unchanged": "the parameters, which backward must leave unchanged",
    "all": "every gradient",
}


class Tampering(Exception):
    """The student's code changed numpy, digitlab or the checker's own modules."""


GUARDED_PACKAGES = ("numpy", "digitlab")
GUARDED_MODULES = ("builtins", "sys", "os", "__main__")  # __main__ is this checker


class ModuleGuard:
    """Remembers the attributes of the modules the check relies on, and notices any change."""

    def __init__(self):
        self.recorded = {
            (name, key): value
            for name, module in list(sys.modules.items())
            if name in GUARDED_MODULES or name.split(".")[0] in GUARDED_PACKAGES
            for key, value in list(vars(module).items())
            if not key.startswith("__")  # e.g. __warningregistry__ changes by itself
        }
        self.classes = {cls: dict(vars(cls)) for cls in _digitlab_classes()}

    def verify(self, after: str) -> None:
        for (name, key), value in self.recorded.items():
            if getattr(sys.modules[name], key, None) is not value:
                raise Tampering(f"{after}, {name}.{key} was replaced")
        for cls, attributes in self.classes.items():
            if dict(vars(cls)) != attributes:
                raise Tampering(f"{after}, the class {cls.__module__}.{cls.__name__} changed")


def guarded_class(linear: type, guard: ModuleGuard) -> type:
    """A subclass of the student's class in which every method the student wrote is
    followed by guard.verify, so a patch cannot hide by undoing itself later."""

    def wrap(name, method):
        def checked(*args, **kwargs):
            result = method(*args, **kwargs)
            guard.verify(f"after your {name} ran")
            return result
        return checked

    return type(linear.__name__, (linear,),
                {name: wrap(name, method) for name, method in _student_methods(linear)})


def check(linear: type, quantity: str, layers: list[tuple[int, int]], batch_sizes: list[int],
          seed: int) -> list[str]:
    """Problems found for `quantity` over every layer shape and batch size; [] means passed."""
    failures = []
    rng = np.random.default_rng(seed)
    for in_dim, out_dim in layers:
        for batch_size in batch_sizes:
            layer = linear(in_dim, out_dim, rng)
            layer.bias = rng.normal(size=layer.bias.shape)  # a zero bias would hide mistakes
            if quantity == "unchanged":
                problems = _parameter_changes(layer, rng.normal(size=(batch_size, in_dim)),
                                              rng.normal(size=(batch_size, out_dim)))
            else:
                report = check_layer(layer, batch_size=batch_size, max_entries=200,
                                     seed=int(rng.integers(1 << 30)))
                problems = _wrong_quantities(report, quantity)
            failures += [f"  {in_dim}->{out_dim}, batch {batch_size}: {problem}"
                         for problem in problems]
    return failures


def _wrong_quantities(report, quantity: str) -> list[str]:
    lines = {line.name: line for line in report.quantities}
    if not lines:  # backward raised, or is not written: nothing was compared
        return report.problems
    failures = []
    for name in QUANTITY_LINES[quantity]:
        line = lines[name]
        # A shape check only: an infinite error means a wrong shape or a missing array.
        wrong = math.isinf(line.relative_error) if quantity == "shapes" else not line.passed
        if wrong:
            failures.append(f"{name}: {line.diagnosis}")
    return failures + (report.problems if quantity == "all" else [])


def _parameter_changes(layer, x, upstream) -> list[str]:
    before = {name: getattr(layer, name).copy() for name in layer.parameter_names}
    try:
        layer.forward(x)
        layer.backward(upstream)
    except Exception as error:
        return [f"backward raised {type(error).__name__}: {error}"]
    return [f"backward changed self.{name}; it must leave the parameters alone"
            for name, value in before.items()
            if not np.array_equal(getattr(layer, name), value)]


def _student_methods(linear: type) -> list[tuple[str, types.FunctionType]]:
    """The plain functions defined in the student's classes, above digitlab.Linear."""
    methods = {}
    for cls in reversed(linear.__mro__):
        if not cls.__module__.startswith("digitlab") and cls is not object:
            methods.update((name, value) for name, value in vars(cls).items()
                           if isinstance(value, types.FunctionType))
    return [(name, getattr(linear, name)) for name in methods]


def _digitlab_classes() -> list[type]:
    return [value for name, module in list(sys.modules.items())
            if name.split(".")[0] == "digitlab"
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__.startswith("digitlab")]


def _pairs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in pair.split("x")) for pair in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default=NOTEBOOK_01)
    parser.add_argument("--quantity", choices=sorted(QUANTITIES), required=True)
    parser.add_argument("--layers", type=_pairs, required=True, help="e.g. 13x7,9x9")
    parser.add_argument("--batch-sizes", type=lambda t: [int(n) for n in t.split(",")],
                        required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    # Read before any student code runs, so that code cannot print a pass of its own.
    token = sys.stdin.readline().strip()
    guard = ModuleGuard()
    try:
        namespace = run_answer(args.notebook)
        guard.verify("after your answer cell ran")
        linear = namespace.get("Linear")
        if not (isinstance(linear, type) and issubclass(linear, digitlab.Linear)):
            raise StudentCodeError("the answer cell must define class Linear(digitlab.Linear).")
        failures = check(guarded_class(linear, guard), args.quantity, args.layers,
                         args.batch_sizes, args.seed)
        guard.verify("after the check")
    except Tampering as error:
        print(f"FAILED: {error}. The hidden tests do not accept code that modifies numpy, "
              "digitlab or Python's builtins.")
        return 1
    except StudentCodeError as error:
        print(f"FAILED: {error}")
        return 1
    if failures:
        print(f"FAILED: {QUANTITIES[args.quantity]} is wrong on the hidden cases:")
        print("\n".join(failures))
        return 1
    print(f"{token} PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
