"""Check a layer's backward against centred differences, and say in words what is wrong.

The numerical gradient of f(x) = sum(layer.forward(x) * upstream) with respect to any
array is the reference: it needs no knowledge of the layer, so one checker serves every
layer, and the student's analytic gradients are compared with it entry by entry.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
import textwrap
import traceback
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
        lines += [textwrap.fill(problem, width=90, initial_indent="  PROBLEM: ",
                                subsequent_indent="           ") for problem in self.problems]
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

    analytic, notes, error = _run_backward(probe, x, upstream)
    if error:
        report.problems.append(error)
        return report
    report.problems += _contract_problems(probe, parameters, analytic, x, upstream)
    suspects = _suspects(probe, upstream)

    def f() -> float:
        return float(np.sum(probe.forward(x) * upstream))

    expected_arrays = {"input gradient": x, **{f"grad_{name}": getattr(probe, name)
                                               for name in probe.parameter_names}}
    for name, array in expected_arrays.items():
        indices = _sample(array.size, max_entries, rng)
        numeric = numerical_gradient(f, array, indices)
        report.quantities.append(_compare(name, analytic[name], array.shape, numeric,
                                          indices, len(x), threshold, notes.get(name, ""),
                                          suspects.get(name, {})))
    return report


def compare_gradient(
    name: str, analytic, numeric: np.ndarray, batch_size: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> QuantityCheck:
    """Compare a whole analytic gradient with a whole numerical one of the right shape.

    The diagnosis names a common mistake (sign, batch factor, transpose) when one fits.
    """
    numeric = np.asarray(numeric, dtype=np.float64)
    array, note = _as_array(name, analytic)
    return _compare(name, array, numeric.shape, numeric.reshape(-1),
                    np.arange(numeric.size), batch_size, threshold, note)


def float64_copy(layer):
    """A deep copy of the layer with float64 parameters, for exact finite differences."""
    probe = copy.deepcopy(layer)
    for name in probe.parameter_names:
        setattr(probe, name, np.array(getattr(probe, name), dtype=np.float64))
    return probe


def _run_backward(probe, x, upstream) -> tuple[dict, dict, str]:
    """Forward then backward once.

    Returns (analytic, notes, error): the analytic gradients by name (None where missing or
    unusable), a diagnosis for each unusable one, and what went wrong if backward raised.
    """
    names_before = set(vars(probe))
    probe.forward(x)
    try:
        returned = probe.backward(upstream.copy())
    except NotImplementedError as error:
        return {}, {}, not_implemented_message(error)
    except Exception as error:  # a student's bug: report it, never crash the checker
        return {}, {}, explain_backward_error(error, probe)
    values = {"input gradient": returned}
    values.update({f"grad_{name}": getattr(probe, f"grad_{name}", None)
                   for name in probe.parameter_names})
    analytic, notes = {}, {}
    for name, value in values.items():
        analytic[name], note = _as_array(name, value)
        if note:
            notes[name] = note
    new_attributes = {name: value for name, value in vars(probe).items()
                      if name not in names_before and value is not None}
    for name, near_miss in _near_misses(
            [name for name in values if name != "input gradient" and values[name] is None],
            new_attributes).items():
        notes[name] = (f"{name} is not set, but backward set self.{near_miss}: a near miss of "
                       f"the name. The training loop reads self.{name}, so assign to that "
                       "exact name.")
    return analytic, notes, ""


def not_implemented_message(error: NotImplementedError) -> str:
    """What the checker says while backward still raises NotImplementedError."""
    detail = str(error).strip()
    return ("backward is not implemented yet: it still raises NotImplementedError. "
            + (detail if detail else "Write it in the answer cell in place of "
               "`raise NotImplementedError()`, and run that cell again."))


def accumulation_problem(name: str) -> str:
    """What the checker says when grad_<name> doubles on a second call with the same batch."""
    return (f"{name} doubled when backward ran twice on the same batch: the gradient "
            f"accumulates across calls. Gradients are assigned, never accumulated: write "
            f"self.{name} = ... instead of adding to it with +=.")


# `self.grad_x += ...` or `self.grad_x = self.grad_x + ...`: adding to the previous gradient.
_ADDS_TO = re.compile(r"self\.(grad_\w+)\s*(?:\+=|=\s*self\.\1\s*\+)")
_MATMUL_WORDS = ("matmul", "not aligned", "core dimension")


def explain_backward_error(error: Exception, layer) -> str:
    """One paragraph on an exception raised by layer.backward, without any traceback.

    Names the line of the student's code that raised it, and the common mistake behind
    it when one fits: adding to a gradient that a fresh layer holds as None, or a matrix
    product whose shapes do not fit (the only case that gets the transposing hint).
    """
    frame, line = _student_line(error, layer)
    where = f" on the line `{line}`" if line else ""
    text = str(error)
    adds_to = _ADDS_TO.search(line or "")
    if isinstance(error, TypeError) and "NoneType" in text and adds_to:
        name = adds_to.group(1)
        return (f"backward raised TypeError{where}: it adds to self.{name}, which a fresh layer "
                f"holds as None. Gradients are assigned, never accumulated: write "
                f"self.{name} = ..., computed from this batch alone.")
    if isinstance(error, ValueError) and any(word in text for word in _MATMUL_WORDS):
        return (f"backward raised ValueError{where}: a matrix product whose shapes do not fit. "
                + _matmul_advice(frame, line, layer))
    if isinstance(error, ValueError) and "broadcast" in text:
        return (f"backward raised ValueError{where}: {text.strip()}. `*`, `+` and `-` work "
                "entry by entry, so their operands need matching shapes; a matrix product "
                "is written `@`.")
    return f"backward raised {type(error).__name__}{where}: {text}"


def _student_line(error: Exception, layer):
    """(frame, source text) of the innermost line of the student's code in the traceback.

    The student's code is the file that defines type(layer).backward; failing that, the
    innermost frame below the checker's own. (None, "") when no line can be shown.
    """
    frames = list(traceback.walk_tb(error.__traceback__))[1:]  # [0] is the checker's call
    code = getattr(type(layer).backward, "__code__", None)
    own = [(frame, number) for frame, number in frames
           if code is not None and frame.f_code.co_filename == code.co_filename]
    frame, number = (own or frames or [(None, 0)])[-1]
    if frame is None:
        return None, ""
    summary = traceback.FrameSummary(frame.f_code.co_filename, number, frame.f_code.co_name)
    return frame, (summary.line or "").strip()


def _matmul_advice(frame, line: str, layer) -> str:
    """Which operand of the failing product to transpose, when the shapes tell."""
    hint = ("In A @ B the columns of A must match the rows of B; `.T` swaps an array's rows "
            "and columns, so an operand probably needs transposing.")
    operands = _matmul_operands(frame, line)
    if operands is None:
        return hint
    (left, a), (right, b) = operands
    said = (f"In `{left} @ {right}`, {left} has shape {a.shape} and {right} has shape "
            f"{b.shape}: the {a.shape[1]} columns of {left} do not match the {b.shape[0]} rows "
            f"of {right}. `.T` swaps an array's rows and columns.")
    target, wanted = _target_of(line, layer)
    if target is None:
        return said + " An operand probably needs transposing."
    fits = [f"`{text}`" for text, shape in (
        (f"{left}.T @ {right}", (a.shape[1], a.shape[0], b.shape[0], b.shape[1])),
        (f"{left} @ {right}.T", (a.shape[0], a.shape[1], b.shape[1], b.shape[0])),
        (f"{left}.T @ {right}.T", (a.shape[1], a.shape[0], b.shape[1], b.shape[0])))
        if shape[1] == shape[2] and (shape[0], shape[3]) == wanted]
    if not fits:
        return said + f" {target} must have shape {wanted}; work out which arrays it needs."
    return (said + f" {target} must have shape {wanted}: transposing an operand gives it, "
            f"as {' or '.join(fits)} has that shape.")


def _matmul_operands(frame, line: str):
    """The first product `A @ B` on the line whose 2-D operands do not fit, with its arrays.

    Only plain names and attributes (grad, self.weights, x.T) are looked up, never calls,
    so nothing of the student's code runs again. None when the line tells nothing.
    """
    try:
        tree = ast.parse(line)
    except SyntaxError:  # part of a statement that spans several lines
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            pair = [(ast.unparse(side), _lookup(side, frame)) for side in (node.left, node.right)]
            if all(isinstance(array, np.ndarray) and array.ndim == 2 for _, array in pair) \
                    and pair[0][1].shape[1] != pair[1][1].shape[0]:
                return pair
    return None


def _lookup(node, frame):
    if isinstance(node, ast.Name):
        return frame.f_locals.get(node.id, frame.f_globals.get(node.id))
    if isinstance(node, ast.Attribute):
        owner = _lookup(node.value, frame)
        return None if owner is None else getattr(owner, node.attr, None)
    return None


def _target_of(line: str, layer) -> tuple[str | None, tuple | None]:
    """What the failing line computes (the returned input gradient, or grad_<name>) and
    the shape it must have; (None, None) when the line does not say."""
    if line.startswith("return") and getattr(layer, "input", None) is not None:
        return "The input gradient", np.shape(layer.input)
    assigned = re.match(r"self\.grad_(\w+)\s*=", line)
    if assigned and assigned.group(1) in layer.parameter_names:
        return f"grad_{assigned.group(1)}", np.shape(getattr(layer, assigned.group(1)))
    return None, None


def _near_misses(missing: list[str], new_attributes: dict) -> dict[str, str]:
    """For each missing gradient name, the attribute backward set under a similar name."""
    found = {}
    for attribute in new_attributes:
        closest = difflib.get_close_matches(attribute, missing, n=1, cutoff=0.6)
        if closest and closest[0] not in found:
            found[closest[0]] = attribute
    return found


def _as_array(name: str, value) -> tuple[np.ndarray | None, str]:
    """value as a float64 array, or (None, why it cannot be one) for a tuple, list or object."""
    if value is None:
        return None, ""
    what = "backward returned" if name == "input gradient" else f"{name} is"
    if isinstance(value, (tuple, list)):
        kind = type(value).__name__
        items = f"{len(value)} item{'' if len(value) == 1 else 's'}"
        return None, (f"{what} a {kind} of {items}; it must be one array. backward "
                      "sets self.grad_weights and self.grad_bias as attributes and returns "
                      "only the input gradient.")
    try:
        return np.array(value, dtype=np.float64), ""
    except (TypeError, ValueError):
        return None, f"{what} a {type(value).__name__}, not an array of numbers."


def _contract_problems(probe, parameters, analytic, x, upstream) -> list[str]:
    """Rules of backward beyond the numbers: leave parameters alone, assign gradients."""
    problems = []
    for name, before in parameters.items():
        if not np.array_equal(getattr(probe, name, None), before):
            problems.append(
                f"backward changed self.{name}. It must only compute gradients; the "
                "training loop updates the parameters afterwards."
            )
        setattr(probe, name, before.copy())  # later checks start from the true parameters
    try:
        probe.forward(x)
        probe.backward(upstream.copy())
    except Exception as error:
        return [*problems, "a second call to backward, on the same batch, failed: "
                + explain_backward_error(error, probe)]
    for name in probe.parameter_names:
        first = analytic[f"grad_{name}"]
        second, _ = _as_array(name, getattr(probe, f"grad_{name}", None))
        if doubled(first, second):
            problems.append(accumulation_problem(f"grad_{name}"))
        setattr(probe, name, parameters[name].copy())
    return problems


def doubled(first, second) -> bool:
    """True when `second` is twice a nonzero `first`: a gradient added to itself.

    Compared entry by entry with plain arithmetic rather than np.allclose, which a student's
    notebook may have replaced: a replaced np.allclose must not make every gradient look
    accumulated (the grader's outside run still judges such a notebook)."""
    if first is None or second is None or np.shape(first) != np.shape(second):
        return False
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    tolerance = 1e-8 + 1e-5 * np.abs(2 * first)
    return bool(np.any(first)) and bool(np.all(np.abs(second - 2 * first) <= tolerance))


def _suspects(probe, upstream) -> dict[str, dict[str, np.ndarray]]:
    """Wrong answers that have the right shape, by quantity: {description: array}.

    On a square layer the input gradient computed with the weights untransposed has the
    right shape, so only its values can tell.
    """
    weights = getattr(probe, "weights", None)  # activations have none
    if weights is None or weights.shape[0] != weights.shape[1]:
        return {}
    return {"input gradient": {
        "is grad @ self.weights, with the weights untransposed (a square layer hides this "
        "from the shapes). x[n, i] reaches output j through W[i, j]: which index of W "
        "does the sum run over?": upstream @ weights}}


def _sample(size: int, max_entries: int, rng: np.random.Generator) -> np.ndarray:
    if size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, max_entries, replace=False))


def _compare(name, analytic, shape, numeric, indices, batch_size, threshold, note="",
             suspects=None) -> QuantityCheck:
    """Compare one analytic gradient with the numerical values at the probed indices.

    note: why the analytic gradient is missing or unusable, when it is None.
    suspects: {description: array} of known wrong answers to name if analytic matches one.
    """
    if note:
        return QuantityCheck(name, np.inf, np.inf, False, note)
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
                                                   batch_size, threshold, suspects or {})
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


def _diagnose_values(name, analytic, values, numeric, indices, batch_size, threshold,
                     suspects) -> str:
    """Name the common mistake that explains the mismatch, if one does."""
    def matches(candidate, target=numeric):
        scale = max(np.abs(candidate).max(), np.abs(target).max(), 1e-12)
        return np.abs(candidate - target).max() / scale <= max(threshold, 1e-6) * 10

    for description, suspect in suspects.items():
        if matches(values, suspect.reshape(-1)[indices]):
            return f"{name} {description}"

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
