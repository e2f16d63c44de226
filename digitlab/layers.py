"""Layers of the network: each has forward(x) and backward(grad), CS231n style.

forward keeps what backward needs; backward takes the gradient of the loss with respect to
the layer's output and returns the gradient with respect to its input. Layers with
parameters list them in `parameter_names`; the gradient of parameter `p` lives in `grad_p`.
"""

from __future__ import annotations

import numpy as np

STUDENT_TASK = (
    "Linear.backward is yours to write: implement it in notebook 01 "
    "(01-linear-backward.ipynb), then train with your class, e.g. "
    "train(settings, data, linear=Linear) where Linear is the class from that notebook."
)


class Linear:
    """A fully connected layer: output = input @ weights + bias.

    weights: (in_dim, out_dim), drawn from a normal with standard deviation 1/sqrt(in_dim)
    so that every layer's output starts with about the spread of its input (LeCun's rule);
    bias: (1, out_dim), zeros. ReLU and sigmoid networks get the same start.
    """

    parameter_names = ("weights", "bias")

    def __init__(
        self, in_dim: int, out_dim: int, rng: np.random.Generator,
        dtype: np.dtype | type = np.float64,
    ):
        self.weights = rng.normal(0, 1 / np.sqrt(in_dim), (in_dim, out_dim)).astype(dtype)
        self.bias = np.zeros((1, out_dim), dtype=dtype)
        self.input: np.ndarray | None = None
        self.grad_weights: np.ndarray | None = None
        self.grad_bias: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in_dim) -> (N, out_dim). Keeps x as self.input for backward."""
        self.input = x
        return x @ self.weights + self.bias

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad: (N, out_dim), the loss gradient w.r.t. this layer's output.

        Sets self.grad_weights (in_dim, out_dim) and self.grad_bias (1, out_dim), assigned
        rather than accumulated, and returns the gradient w.r.t. the input, (N, in_dim).
        """
        raise NotImplementedError(STUDENT_TASK)

    def __repr__(self) -> str:
        in_dim, out_dim = self.weights.shape
        return f"{type(self).__name__}({in_dim} -> {out_dim})"


class ReLU:
    """max(0, x), elementwise. Its gradient is 1 where the input was positive, else 0."""

    parameter_names = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D) -> (N, D)."""
        self.active = x > 0
        return np.maximum(x, 0)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad: (N, D) -> (N, D)."""
        return grad * self.active

    def __repr__(self) -> str:
        return "ReLU()"


class Sigmoid:
    """1 / (1 + exp(-x)), elementwise. Its gradient s(1 - s) is at most 1/4."""

    parameter_names = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, D) -> (N, D)."""
        # The tanh form equals the logistic function but never overflows for large |x|.
        self.output = 0.5 * (1 + np.tanh(0.5 * x))
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """grad: (N, D) -> (N, D)."""
        return grad * self.output * (1 - self.output)

    def __repr__(self) -> str:
        return "Sigmoid()"


class SoftmaxCrossEntropy:
    """The mean over the batch of -log softmax(logits)[label].

    backward returns the exact gradient of that mean, so it carries the factor 1/N and no
    layer below needs to divide by the batch size again.
    """

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """logits: (N, C) floats, labels: (N,) ints in [0, C). Returns the mean loss."""
        # Subtracting each row's max leaves softmax unchanged and keeps exp from overflowing.
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        totals = probs.sum(axis=1, keepdims=True)
        probs /= totals
        self.probs, self.labels = probs, labels
        self.rows = np.arange(len(labels))
        # -log softmax[label] = log(sum of exps) - shifted[label], averaged over the batch.
        return float(np.log(totals).sum() - shifted[self.rows, labels].sum()) / len(labels)

    def backward(self) -> np.ndarray:
        """The gradient of the mean loss w.r.t. the logits, (N, C)."""
        grad = self.probs.copy()
        grad[self.rows, self.labels] -= 1
        grad /= len(self.labels)
        return grad

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"
