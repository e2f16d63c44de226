"""What the notebooks' public tests use: expected against actual, said in plain words.

The expected gradients are numerical, so these helpers hold no correct backward.
"""

from __future__ import annotations

import numpy as np

from digitlab.gradcheck import (
    accumulation_problem,
    compare_gradient,
    doubled,
    explain_backward_error,
    float64_copy,
    not_implemented_message,
    numerical_gradient,
)

PUBLIC_PASS = "Public test passed. Hidden tests with other shapes and seeds run at grading."


class PublicTestFailure(AssertionError):
    """A public test failed; the message says what is wrong, with no traceback under it."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the frames of this module
        # would only hide the message.
        return [f"{type(self).__name__}: {self}"]


def run_backward(layer, x: np.ndarray, upstream: np.ndarray):
    """layer.forward(x) then layer.backward(upstream); returns what backward returns.

    When backward raises, fails with the gradient checker's words for the mistake and the
    line of the student's code that raised, instead of a traceback.
    """
    layer.forward(x)
    try:
        return layer.backward(upstream)
    except NotImplementedError as error:
        raise PublicTestFailure(not_implemented_message(error)) from None
    except Exception as error:  # the student's bug, told in words
        raise PublicTestFailure(explain_backward_error(error, layer)) from None


def expect_assigned(layer, name: str, x: np.ndarray, upstream: np.ndarray) -> None:
    """Run backward again on the same batch; fail unless gradient `name` comes out the same.

    A gradient that doubles was added to the previous one (+=) instead of assigned.
    """
    first = _gradient(layer, name)
    run_backward(layer, x, upstream)
    second = _gradient(layer, name)
    if doubled(first, second):
        raise PublicTestFailure(accumulation_problem(name))
    if not (first.shape == second.shape and np.allclose(first, second)):
        raise PublicTestFailure(
            f"{name} changed when backward ran a second time on the same batch. It must "
            "be computed afresh from self.input and grad on every call.")


def numerical_gradients(layer, x: np.ndarray, upstream: np.ndarray) -> dict[str, np.ndarray]:
    """The gradients of sum(layer.forward(x) * upstream), by centred differences.

    x: (N, in_dim), upstream: (N, out_dim). Returns {"input gradient": (N, in_dim),
    "grad_weights": (in_dim, out_dim), "grad_bias": (1, out_dim)} for a Linear layer.
    Works on a float64 copy, so the layer itself is untouched.
    """
    probe = float64_copy(layer)
    x = np.array(x, dtype=np.float64)
    upstream = np.asarray(upstream, dtype=np.float64)

    def f() -> float:
        return float(np.sum(probe.forward(x) * upstream))

    arrays = {"input gradient": x,
              **{f"grad_{name}": getattr(probe, name) for name in probe.parameter_names}}
    return {name: numerical_gradient(f, array) for name, array in arrays.items()}


def _gradient(layer, name: str) -> np.ndarray:
    """A float64 copy of the layer's gradient `name` (backward may change it in place)."""
    value = getattr(layer, name, None)
    if not isinstance(value, np.ndarray):
        raise PublicTestFailure(f"self.{name} is a {type(value).__name__} after backward; it "
                                "must be an array.")
    return value.astype(np.float64)


def expect_shape(name: str, actual, shape: tuple[int, ...]) -> None:
    """Fail with a sentence unless `actual` is an array of this shape."""
    if actual is None:
        raise PublicTestFailure(f"{name} is None: it must be an array of shape {shape}.")
    if isinstance(actual, (tuple, list)):
        raise PublicTestFailure(f"{name} is a {type(actual).__name__}: it must be one array "
                                f"of shape {shape}.")
    if np.shape(actual) != shape:
        raise PublicTestFailure(f"{name} has shape {np.shape(actual)}; expected {shape}.")


def expect_gradient(name: str, actual, expected: np.ndarray, batch_size: int) -> None:
    """Fail unless `actual` matches the numerical gradient `expected`, showing both."""
    check = compare_gradient(name, actual, expected, batch_size)
    if not check.passed:
        raise PublicTestFailure(
            f"{name} is wrong.\n{check}\nexpected (numerical gradient):\n{_show(expected)}\n"
            f"yours:\n{_show(actual)}"
        )


def _show(array) -> str:
    if array is None or isinstance(array, (tuple, list)):
        return repr(array)
    return np.array2string(np.asarray(array), precision=4, suppress_small=True)
