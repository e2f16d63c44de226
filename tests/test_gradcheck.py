"""Every common mistake in Linear.backward gets its own plain-words diagnosis."""

import numpy as np
import pytest
from reference import ReferenceLinear

from digitlab import Linear, check_layer, numerical_gradient


class DividesWeightsByBatch(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_weights = self.grad_weights / len(grad)
        return returned


class AveragesBias(ReferenceLinear):
    """The mistake in the seed write-up: the bias gradient divided by the batch size."""

    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_bias = grad.mean(axis=0, keepdims=True)
        return returned


class MultipliesInputGradByBatch(ReferenceLinear):
    def backward(self, grad):
        return super().backward(grad) * len(grad)


class TransposedWeights(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_weights = grad.T @ self.input
        return returned


class BiasNotSummed(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_bias = grad
        return returned


class ForgetsToReturn(ReferenceLinear):
    def backward(self, grad):
        super().backward(grad)


class UpdatesWeightsInBackward(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.weights -= 0.1 * self.grad_weights
        return returned


class Accumulates(ReferenceLinear):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grad_weights = np.zeros_like(self.weights)

    def backward(self, grad):
        self.grad_weights += self.input.T @ grad
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        return grad @ self.weights.T


class WrongSign(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_weights = -self.grad_weights
        return returned


class CrashesOnShapes(ReferenceLinear):
    def backward(self, grad):
        self.grad_weights = self.input @ grad
        return grad @ self.weights.T


def check(layer_class, in_dim=5, out_dim=3):
    return check_layer(layer_class(in_dim, out_dim, np.random.default_rng(0)), batch_size=4)


def row(report, name):
    (found,) = [quantity for quantity in report.quantities if quantity.name == name]
    return found


def test_a_correct_backward_passes_with_one_line_per_quantity():
    report = check(ReferenceLinear)
    assert report.passed
    lines = str(report).splitlines()
    for name in ("input gradient", "grad_weights", "grad_bias"):
        (line,) = [text for text in lines if text.strip().startswith(name)]
        assert "max abs diff" in line and "relative error" in line and line.endswith("PASS")
    assert "relative error <= 1e-06" in lines[0]


@pytest.mark.parametrize(
    "layer_class, quantity, words",
    [
        (DividesWeightsByBatch, "grad_weights", "1/4 of the numerical gradient, a factor of"),
        (AveragesBias, "grad_bias", "do not divide or average over the batch again"),
        (MultipliesInputGradByBatch, "input gradient", "4 times the numerical gradient"),
        (TransposedWeights, "grad_weights", "looks transposed"),
        (BiasNotSummed, "grad_bias", "sum its gradient over the batch axis"),
        (ForgetsToReturn, "input gradient", "backward returned None"),
        (WrongSign, "grad_weights", "wrong sign"),
    ],
)
def test_common_mistakes_are_diagnosed(layer_class, quantity, words):
    report = check(layer_class)
    assert not report.passed
    failed = row(report, quantity)
    assert not failed.passed and words in failed.diagnosis
    # The report wraps long diagnoses; compare with line breaks folded into spaces.
    assert f"FAIL -> {failed.diagnosis}" in " ".join(str(report).split())
    others = [q for q in report.quantities if q.name != quantity]
    assert all(q.passed for q in others), "only the broken gradient is blamed"


def test_a_transposed_gradient_of_a_square_layer_is_caught_by_value():
    report = check(TransposedWeights, in_dim=4, out_dim=4)
    assert "transpose of the right answer" in row(report, "grad_weights").diagnosis


def test_changing_parameters_during_backward_is_a_problem():
    report = check(UpdatesWeightsInBackward)
    assert not report.passed
    assert any("backward changed self.weights" in problem for problem in report.problems)


def test_accumulating_gradients_is_a_problem():
    report = check(Accumulates)
    assert not report.passed
    assert any("Assign self.grad_weights = ..." in problem for problem in report.problems)


def test_unimplemented_and_crashing_backwards_are_reported_not_raised():
    assert "not implemented yet" in check(Linear).problems[0]
    problem = check(CrashesOnShapes).problems[0]
    assert "backward raised ValueError" in problem and "transposing" in problem


def test_the_checked_layer_is_left_untouched():
    layer = ReferenceLinear(5, 3, np.random.default_rng(0), dtype=np.float32)
    weights = layer.weights.copy()
    check_layer(layer)
    assert layer.weights.dtype == np.float32 and np.array_equal(layer.weights, weights)
    assert layer.input is None and layer.grad_weights is None


def test_large_layers_are_sampled_so_the_check_stays_cheap():
    class CountsForwards(ReferenceLinear):
        calls = 0

        def forward(self, x):
            CountsForwards.calls += 1
            return super().forward(x)

    report = check_layer(CountsForwards(784, 16, np.random.default_rng(0)), batch_size=16,
                         max_entries=50)
    assert report.passed
    # Two forwards per probed entry, 50 entries for each of the three arrays, plus setup.
    assert CountsForwards.calls <= 2 * 3 * 50 + 5


def test_numerical_gradient_of_a_known_function_and_restores_the_array():
    array = np.random.default_rng(1).normal(size=(3, 4))
    original = array.copy()
    gradient = numerical_gradient(lambda: float(np.sum(array**3)), array)
    np.testing.assert_allclose(gradient, 3 * original**2, rtol=1e-6)
    assert np.array_equal(array, original)
    sampled = numerical_gradient(lambda: float(np.sum(array**3)), array, np.array([0, 5]))
    np.testing.assert_allclose(sampled, 3 * original.reshape(-1)[[0, 5]] ** 2, rtol=1e-6)
