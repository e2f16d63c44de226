"""A stack of layers built from (number of linear layers, width, activation)."""

from __future__ import annotations

import numpy as np

from digitlab.data.splits import CLASSES, PIXELS
from digitlab.layers import Linear, ReLU, Sigmoid

# In the order the lab meets them (notebook 03 starts from sigmoid); the depth panel's
# dropdown lists them so.
ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU}


class BackwardError(ValueError):
    """A layer's backward broke its contract (usually the student's Linear.backward)."""


class Network:
    """Layers applied in order; the last one outputs class scores (logits).

    layers: [Linear, activation, Linear, activation, ..., Linear].
    """

    def __init__(self, layers: list):
        self.layers = layers
        self.linear_layers = [layer for layer in layers if layer.parameter_names]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, 784) -> logits (N, 10)."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> None:
        """grad: (N, 10), the loss gradient w.r.t. the logits.

        Leaves every parameter's gradient on its layer. The first layer's returned input
        gradient is checked but not used: nothing lies below it.
        """
        for layer in reversed(self.layers):
            grad = check_backward(layer, layer.backward(grad))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x: (N, 784) -> predicted digits (N,)."""
        return self.forward(x).argmax(axis=1)

    def __repr__(self) -> str:
        sizes = [self.linear_layers[0].weights.shape[0]]
        sizes += [layer.weights.shape[1] for layer in self.linear_layers]
        activations = {type(layer).__name__ for layer in self.layers if not layer.parameter_names}
        kind = f", {activations.pop()}" if len(activations) == 1 else ""
        return f"Network({' -> '.join(map(str, sizes))}{kind})"


def check_backward(layer, returned: np.ndarray | None) -> np.ndarray:
    """Check a parameter layer's backward result against its contract; return it unchanged.

    Training calls this every step so that a wrong shape fails at once with a message
    that names the array, instead of broadcasting silently into wrong weights.
    """
    if not layer.parameter_names:
        return returned
    name = type(layer).__name__
    if returned is None:
        raise BackwardError(
            f"{name}.backward returned None. It must return the gradient with respect to "
            f"its input, shape {layer.input.shape}. (See notebook 01.)"
        )
    if isinstance(returned, (tuple, list)):
        raise BackwardError(
            f"{name}.backward returned a {type(returned).__name__}. It must return one array, "
            f"the gradient with respect to its input, shape {layer.input.shape}, and set "
            "the parameters' gradients as attributes. (See notebook 01.)"
        )
    expected = {"input gradient (the return value)": (returned, layer.input.shape)}
    for parameter in layer.parameter_names:
        gradient = getattr(layer, "grad_" + parameter, None)
        expected[f"grad_{parameter}"] = (gradient, getattr(layer, parameter).shape)
    for what, (array, shape) in expected.items():
        if array is None:
            raise BackwardError(f"{name}.backward did not set {what}. (See notebook 01.)")
        if np.shape(array) != shape:
            raise BackwardError(
                f"{name}.backward gave {what} the shape {np.shape(array)}, expected {shape}. "
                "Run the gradient checker in notebook 01 to find the mistake."
            )
    return returned


def build_network(
    num_layers: int,
    width: int,
    activation: str,
    rng: np.random.Generator,
    *,
    linear: type = Linear,
    dtype: np.dtype | type = np.float32,
) -> Network:
    """num_layers linear layers (784 -> width -> ... -> width -> 10), `activation` between.

    One layer is softmax regression; two is the default 784 -> 16 -> 10 network.
    linear: the class used for every linear layer. This is the one seam through which a
    student's Linear (with their backward) enters; the package's own Linear has none.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if num_layers < 1 or width < 1:
        raise ValueError(f"need num_layers >= 1 and width >= 1, got {num_layers} and {width}")
    sizes = [PIXELS] + [width] * (num_layers - 1) + [CLASSES]
    layers: list = []
    for in_dim, out_dim in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [linear(in_dim, out_dim, rng, dtype=dtype), ACTIVATIONS[activation]()]
    return Network(layers[:-1])  # no activation after the output layer
