import numpy as np
import pytest
from reference import ReferenceLinear

from digitlab import (
    BackwardError,
    Linear,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    build_network,
    numerical_gradient,
)


def build(num_layers=2, activation="relu", linear=ReferenceLinear, dtype=np.float64):
    return build_network(num_layers, 8, activation, np.random.default_rng(0),
                         linear=linear, dtype=dtype)


@pytest.mark.parametrize("num_layers", [1, 2, 5])
def test_layer_count_sizes_and_activations(num_layers):
    network = build(num_layers, "sigmoid")
    sizes = [layer.weights.shape for layer in network.linear_layers]
    assert len(sizes) == num_layers
    assert sizes[0][0] == 784 and sizes[-1][1] == 10
    assert all(isinstance(layer, Sigmoid) for layer in network.layers[1::2])
    assert len(network.layers) == 2 * num_layers - 1
    assert network.forward(np.zeros((3, 784))).shape == (3, 10)


def test_repr_shows_the_architecture():
    assert repr(build(5, "relu")) == "Network(784 -> 8 -> 8 -> 8 -> 8 -> 10, ReLU)"
    assert repr(build(1)) == "Network(784 -> 10)"


def test_the_student_class_is_used_for_every_linear_layer():
    network = build(3)
    assert all(type(layer) is ReferenceLinear for layer in network.linear_layers)
    assert isinstance(network.layers[1], ReLU)


def test_dtype_follows_the_request():
    assert build(dtype=np.float32).linear_layers[0].weights.dtype == np.float32


def test_unknown_activation_and_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="activation must be one of"):
        build(activation="tanh")
    with pytest.raises(ValueError, match="num_layers >= 1"):
        build(num_layers=0)


def test_backward_through_the_whole_network_matches_numerical_gradients():
    rng = np.random.default_rng(1)
    network = build(3, "sigmoid")
    x, labels = rng.normal(size=(6, 784)), rng.integers(0, 10, size=6)
    loss = SoftmaxCrossEntropy()
    loss.forward(network.forward(x), labels)
    network.backward(loss.backward())
    for layer in network.linear_layers:
        analytic = layer.grad_weights.copy()
        probes = rng.choice(layer.weights.size, 20, replace=False)
        numeric = numerical_gradient(
            lambda: loss.forward(network.forward(x), labels), layer.weights, probes)
        np.testing.assert_allclose(analytic.reshape(-1)[probes], numeric, atol=1e-7)


def test_predict_returns_the_argmax_digit():
    network = build(1)
    x = np.random.default_rng(2).normal(size=(5, 784))
    np.testing.assert_array_equal(network.predict(x), network.forward(x).argmax(axis=1))


class ReturnsNothing(ReferenceLinear):
    def backward(self, grad):
        super().backward(grad)


class BiasOneDimensional(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_bias = grad.sum(axis=0)
        return returned


class SetsNoGradients(Linear):
    def backward(self, grad):
        return grad @ self.weights.T


class ReturnsATuple(ReferenceLinear):
    def backward(self, grad):
        return super().backward(grad), self.grad_weights, self.grad_bias


@pytest.mark.parametrize(
    "linear, words",
    [
        (ReturnsNothing, "returned None"),
        (BiasOneDimensional, "grad_bias the shape (10,), expected (1, 10)"),
        (SetsNoGradients, "did not set grad_weights"),
        (ReturnsATuple, "returned a tuple. It must return one array"),
    ],
)
def test_a_broken_backward_fails_at_once_with_a_message(linear, words):
    network = build(2, linear=linear)
    network.forward(np.zeros((4, 784)))
    with pytest.raises(BackwardError, match=words.replace("(", r"\(").replace(")", r"\)")):
        network.backward(np.ones((4, 10)))
