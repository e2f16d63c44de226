"""Check a layer's backward against centred differences, and say in words what is wrong.

The numerical gradient of f(x) = sum(layer.forward(x) * upstream) with respect to any
array is the reference: it needs no knowledge of the layer, so one checker serves every
layer, and the student's analytic gradients are compared with it entry by entry.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DEFAULT_THRESHOLD = 1e-6
STEP = 1e-5


def numerical_gradient(
    f: Callable[[], float], array: np.ndarray, indices: np.ndarray | None = None,
    h: float = STEP,
) -> np.ndarray:
    """Centred differences (f(a + h) - f(a - h)) / 2h of a scalar function of `array`.

    f reads `array` (which it closes over); each entry is nudged in place and restored.
    indices: flat indices to probe; returns their (k,) partial derivatives. Without
    indices, probes every entry and returns an array of array's shape.
    """
    flat = array.reshape(-1)  # a view: writing to it nudges `array` itself
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array it can nudge in place")
    probes = np.arange(flat.size) if indices is None else np.asarray(indices)
    gradient = np.empty(len(probes))
    for position, index in enumerate(probes):
        original = flat[index]
        flat[index] = original + h
        above = f()
        flat[index] = original - h
        below = f()
        flat[index] = original
        gradient[position] = (above - below) / (2 * h)
    return gradient.reshape(array.shape) if indices is None else gradient


@dataclass
class QuantityCheck:
    """How one analytic gradient compares with the numerical one."""

    name: str
    max_abs_difference: float
    relative_error: float
    passed: bool
    diagnosis: str = ""

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        line = (f"  {self.name:<15} max abs diff {self.max_abs_difference:9.2e}   "
                f"relative error {self.relative_error:9.2e}   {verdict}")
        if not self.diagnosis:
            return line
        # Wrapped so that a notebook shows the whole diagnosis without scrolling sideways.
        return line + "\n" + textwrap.fill(self.diagnosis, width=90, initial_indent="      -> ",
                                           subsequent_indent="         ")


@dataclass
class GradcheckReport:
    """The verdict on one layer: a line per gradient, and any broken rule of backward."""

    layer: str
    batch_size: int
    threshold: float
    quantities: list[QuantityCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(check.passed for check in self.quantities)

    def __str__(self) -> str:
        lines = [f"Gradient check of {self.layer} on a batch of {self.batch_size} "
                 f"(pass: relative error <= {self.threshold:.0e})"]
        lines += [str(check) for check in self.quantities]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        lines.append("All gradients match." if self.passed else "The gradient check FAILED.")
        return "\n".join(lines)

    __repr__ = __str__


def check_layer(
    layer,
    x: np.ndarray | None = None,
    upstream: np.ndarray | None = None,
    *,
    batch_size: int = 4,
    threshold: float = DEFAULT_THRESHOLD,
    max_entries: int = 60,
    seed: int = 0,
) -> GradcheckReport:
    """Check layer.backward: the input gradient and every parameter's gradient.

    layer: any layer with forward/backward; its parameters are named in parameter_names.
        It is copied to float64, so the layer itself is left untouched.
    x: (N, in_dim) input; by default a random batch of `batch_size` rows (layers with
        weights only). upstream: (N, out_dim) gradient fed to backward; random by default.
    max_entries: entries probed per array; larger arrays are sampled so a 784x16 layer
        checks in well under a second.
    """
    rng = np.random.default_rng(seed)
    probe = float64_copy(layer)
    if x is None:
        x = rng.normal(size=(batch_size, probe.weights.shape[0]))
    x = np.array(x, dtype=np.float64)
    if upstream is None:
        upstream = rng.normal(size=np.shape(probe.forward(x.copy())))
    upstream = np.asarray(upstream, dtype=np.float64)
    report = GradcheckReport(repr(layer), len(x), threshold)
    parameters = {name: getattr(probe, name).copy() for name in probe.parameter_names}

    analytic, error = _run_backward(probe, x, upstream)
    if error:
        report.problems.append(error)
        return report
    report.problems += _contract_problems(probe, parameters, analytic, x, upstream)

    def f() -> float:
        return float(np.sum(probe.forward(x) * upstream))

    expected_arrays = {"input gradient": x, **{f"grad_{name}": getattr(probe, name)
                                               for name in probe.parameter_names}}
    for name, array in expected_arrays.items():
        indices = _sample(array.size, max_entries, rng)
        numeric = numerical_gradient(f, array, indices)
        report.quantities.append(_compare(name, analytic[name], array.shape, numeric,
                                          indices, len(x), threshold))
    return report


def compare_gradient(
    name: str, analytic, numeric: np.ndarray, batch_size: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> QuantityCheck:
    """Compare a whole analytic gradient with a whole numerical one of the right shape.

    The diagnosis names a common mistake (sign, batch factor, transpose) when one fits.
    """
    numeric = np.asarray(numeric, dtype=np.float64)
    return _compare(name, _copy_or_none(analytic), numeric.shape, numeric.reshape(-1),
                    np.arange(numeric.size), batch_size, threshold)


def float64_copy(layer):
    """A deep copy of the layer with float64 parameters, for exact finite differences."""
    probe = copy.deepcopy(layer)
    for name in probe.parameter_names:
        setattr(probe, name, np.array(getattr(probe, name), dtype=np.float64))
    return probe


def _run_backward(probe, x, upstream) -> tuple[dict, str]:
    """Forward then backward once; returns the analytic gradients by name, or an error."""
    probe.forward(x)
    try:
        returned = probe.backward(upstream.copy())
    except NotImplementedError as error:
        return {}, f"backward is not implemented yet: {error}"
    except Exception as error:  # a student's bug: report it, never crash the checker
        return {}, (f"backward raised {type(error).__name__}: {error}. A shape mismatch in "
                    "a matrix product usually means an operand needs transposing.")
    analytic = {"input gradient": _copy_or_none(returned)}
    for name in probe.parameter_names:
        analytic[f"grad_{name}"] = _copy_or_none(getattr(probe, f"grad_{name}", None))
    return analytic, ""


def _copy_or_none(array):
    return None if array is None else np.array(array, dtype=np.float64)


def _contract_problems(probe, parameters, analytic, x, upstream) -> list[str]:
    """Rules of backward beyond the numbers: leave parameters alone, assign gradients."""
    problems = []
    for name, before in parameters.items():
        if not np.array_equal(getattr(probe, name), before):
            problems.append(
                f"backward changed self.{name}. It must only compute gradients; the "
                "training loop updates the parameters afterwards."
            )
        setattr(probe, name, before.copy())  # later checks start from the true parameters
    try:
        probe.forward(x)
        probe.backward(upstream.copy())
    except Exception as error:
        return [*problems, f"a second call to backward raised {type(error).__name__}: {error}"]
    for name in probe.parameter_names:
        first = analytic[f"grad_{name}"]
        second = getattr(probe, f"grad_{name}", None)
        if (first is not None and second is not None and np.shape(first) == np.shape(second)
                and np.any(first) and np.allclose(second, 2 * first)):
            problems.append(
                f"grad_{name} doubled when backward ran twice on the same batch: gradients "
                f"accumulate across calls. Assign self.grad_{name} = ... instead of adding "
                "to it with +=."
            )
        setattr(probe, name, parameters[name].copy())
    return problems


def _sample(size: int, max_entries: int, rng: np.random.Generator) -> np.ndarray:
    if size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def _compare(name, analytic, shape, numeric, indices, batch_size, threshold) -> QuantityCheck:
    """Compare one analytic gradient with the numerical values at the probed indices."""
    if analytic is None:
        what = "backward returned None" if name == "input gradient" else f"{name} is not set"
        diagnosis = (f"{what}; it must be the gradient with respect to the "
                     f"{'input' if name == 'input gradient' else name[5:]}, shape {shape}.")
        return QuantityCheck(name, np.inf, np.inf, False, diagnosis)
    if analytic.shape != shape:
        return QuantityCheck(name, np.inf, np.inf, False,
                             _diagnose_shape(name, analytic.shape, shape))
    values = analytic.reshape(-1)[indices]
    difference = np.abs(values - numeric)
    scale = max(np.abs(values).max(), np.abs(numeric).max(), 1e-12)
    relative_error = float(difference.max() / scale)
    passed = relative_error <= threshold
    diagnosis = "" if passed else _diagnose_values(name, analytic, values, numeric, indices,
                                                   batch_size, threshold)
    return QuantityCheck(name, float(difference.max()), relative_error, passed, diagnosis)


def _diagnose_shape(name, got, expected) -> str:
    if got == expected[::-1]:
        return (f"{name} has shape {got} but should have {expected}: it looks transposed. "
                "Check the order of the operands in your matrix product.")
    if name == "grad_bias" and len(got) == 2 and got[1] == expected[1]:
        return (f"grad_bias has shape {got} but should have {expected}: the bias is shared "
                "by every example in the batch, so sum its gradient over the batch axis "
                "(keepdims=True keeps the shape (1, out_dim)).")
    if name == "grad_bias" and got == expected[1:]:
        return f"grad_bias has shape {got}; keep it 2-D, {expected}, like self.bias."
    return f"{name} has shape {got} but should have {expected}."


def _diagnose_values(name, analytic, values, numeric, indices, batch_size, threshold) -> str:
    """Name the common mistake that explains the mismatch, if one does."""
    def matches(candidate):
        scale = max(np.abs(candidate).max(), np.abs(numeric).max(), 1e-12)
        return np.abs(candidate - numeric).max() / scale <= max(threshold, 1e-6) * 10

    if matches(-values):
        return f"{name} has the wrong sign: it is exactly minus the numerical gradient."
    if matches(values * batch_size):
        return (f"{name} is 1/{batch_size} of the numerical gradient, a factor of the batch "
                "size. The loss is already a mean over the batch, so the upstream gradient "
                "carries the 1/N: do not divide or average over the batch again.")
    if matches(values / batch_size):
        return (f"{name} is {batch_size} times the numerical gradient (the batch size). "
                "Do not multiply by the batch size.")
    square = analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1]
    if square and matches(analytic.T.reshape(-1)[indices]):
        return (f"{name} is the transpose of the right answer (a square layer hides this "
                "from the shapes). Check the order of the operands in your matrix product.")
    if matches(values / 2):
        return f"{name} is twice the numerical gradient."
    return (f"{name} does not match the numerical gradient. Work out its formula from "
            "output = input @ weights + bias, one entry at a time, then vectorise.")
