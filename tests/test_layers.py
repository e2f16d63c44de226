import numpy as np
import pytest
from reference import ReferenceLinear

from digitlab import Linear, ReLU, Sigmoid, SoftmaxCrossEntropy, check_layer, numerical_gradient


def test_linear_forward_keeps_input_and_computes_affine_map():
    rng = np.random.default_rng(0)
    layer = Linear(5, 3, rng)
    x = rng.normal(size=(4, 5))
    out = layer.forward(x)
    assert layer.input is x
    assert out.shape == (4, 3)
    np.testing.assert_allclose(out, x @ layer.weights + layer.bias)


def test_linear_initialisation_follows_lecun_rule():
    layer = Linear(784, 400, np.random.default_rng(1), dtype=np.float32)
    assert layer.weights.shape == (784, 400) and layer.weights.dtype == np.float32
    assert layer.bias.shape == (1, 400) and not layer.bias.any()
    assert layer.weights.std() == pytest.approx(1 / np.sqrt(784), rel=0.02)


def test_package_linear_backward_is_left_to_the_student():
    layer = Linear(3, 2, np.random.default_rng(0))
    layer.forward(np.ones((1, 3)))
    with pytest.raises(NotImplementedError, match="notebook 01"):
        layer.backward(np.ones((1, 2)))


def test_reprs_name_the_layers():
    assert repr(Linear(784, 16, np.random.default_rng(0))) == "Linear(784 -> 16)"
    assert repr(ReLU()) == "ReLU()" and repr(Sigmoid()) == "Sigmoid()"


@pytest.mark.parametrize("activation", [ReLU, Sigmoid])
def test_activation_gradients_match_numerical_gradients(activation):
    x = np.random.default_rng(2).normal(size=(6, 7))
    report = check_layer(activation(), x)
    assert report.passed, str(report)


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(all="raise"):
        out = Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_softmax_cross_entropy_is_the_mean_negative_log_likelihood():
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(5, 10)), rng.integers(0, 10, size=5)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(probs[np.arange(5), labels]).mean()
    assert SoftmaxCrossEntropy().forward(logits, labels) == pytest.approx(expected)


def test_softmax_cross_entropy_survives_huge_logits():
    loss = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-1000) may underflow
        value = loss.forward(np.array([[1000.0, 0.0], [0.0, 1000.0]]), np.array([0, 0]))
    assert value == pytest.approx(500.0)


def test_softmax_cross_entropy_gradient_is_that_of_the_mean_loss():
    rng = np.random.default_rng(4)
    logits, labels = rng.normal(size=(8, 10)), rng.integers(0, 10, size=8)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda: loss.forward(logits, labels), logits)
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)


def test_reference_backward_passes_the_checker_on_square_and_non_square_layers():
    rng = np.random.default_rng(5)
    for in_dim, out_dim in [(6, 6), (7, 3), (3, 7)]:
        assert check_layer(ReferenceLinear(in_dim, out_dim, rng), batch_size=5).passed
