"""What the notebooks' public tests use: expected against actual, said in plain words.

The expected gradients are numerical, so these helpers hold no correct backward.
"""

from __future__ import annotations

import numpy as np

from digitlab.gradcheck import compare_gradient, float64_copy, numerical_gradient

PUBLIC_PASS = "Public test passed. Hidden tests with other shapes and seeds run at grading."


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


def expect_shape(name: str, actual, shape: tuple[int, ...]) -> None:
    """Fail with a sentence unless `actual` is an array of this shape."""
    if actual is None:
        raise AssertionError(f"{name} is None: it must be an array of shape {shape}.")
    if np.shape(actual) != shape:
        raise AssertionError(f"{name} has shape {np.shape(actual)}; expected {shape}.")


def expect_gradient(name: str, actual, expected: np.ndarray, batch_size: int) -> None:
    """Fail unless `actual` matches the numerical gradient `expected`, showing both."""
    check = compare_gradient(name, actual, expected, batch_size)
    if not check.passed:
        raise AssertionError(
            f"{name} is wrong.\n{check}\nexpected (numerical gradient):\n{_show(expected)}\n"
            f"yours:\n{_show(actual)}"
        )


def _show(array) -> str:
    if array is None:
        return "None"
    return np.array2string(np.asarray(array), precision=4, suppress_small=True)
