"""Every common mistake in Linear.backward gets its own plain-words diagnosis."""

import numpy as np
import pytest
from notebook_factory import AVERAGED_BIAS, answer, release_answer, write_notebook
from reference import ReferenceLinear

from digitlab import check_layer, numerical_gradient
from digitlab.gradcheck import compare_gradient
from digitlab.student import NOTEBOOK_01, student_linear_class

ASSIGNS_BIAS_AND_RETURNS = """\
self.grad_bias = grad.sum(axis=0, keepdims=True)
return grad @ self.weights.T
"""
# A backward body, the layer's (in_dim, out_dim), and the words its report must contain.
# Each body runs as the answer cell of a saved notebook 01, as notebooks 02-05 load it.
MISTAKES = {
    "+= on a fresh layer": (
        "self.grad_weights += self.input.T @ grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["backward raised TypeError on the line `self.grad_weights += self.input.T @ grad`",
         "adds to self.grad_weights, which a fresh layer holds as None",
         "Gradients are assigned, never accumulated", "write self.grad_weights = ..."]),
    "+= after starting from zeros": (
        "if self.grad_weights is None:\n    self.grad_weights = np.zeros_like(self.weights)\n"
        "self.grad_weights += self.input.T @ grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["grad_weights doubled when backward ran twice on the same batch",
         "Gradients are assigned, never accumulated"]),
    "a tuple returned": (
        "self.grad_weights = self.input.T @ grad\n"
        "self.grad_bias = grad.sum(axis=0, keepdims=True)\n"
        "return grad @ self.weights.T, self.grad_weights, self.grad_bias", (5, 3),
        ["backward returned a tuple of 3 items; it must be one array",
         "returns only the input gradient"]),
    "a list returned": (
        "self.grad_weights = self.input.T @ grad\n"
        "self.grad_bias = grad.sum(axis=0, keepdims=True)\n"
        "return [grad @ self.weights.T]", (5, 3),
        ["backward returned a list of 1 item; it must be one array"]),
    "input gradient without .T, non-square": (
        "self.grad_weights = self.input.T @ grad\n"
        "self.grad_bias = grad.sum(axis=0, keepdims=True)\n"
        "return grad @ self.weights", (5, 3),
        ["backward raised ValueError on the line `return grad @ self.weights`",
         "In `grad @ self.weights`, grad has shape (4, 3) and self.weights has shape (5, 3)",
         "The input gradient must have shape (4, 5)", "transposing an operand",
         "`grad @ self.weights.T` has that shape"]),
    "input gradient without .T, square": (
        "self.grad_weights = self.input.T @ grad\n"
        "self.grad_bias = grad.sum(axis=0, keepdims=True)\n"
        "return grad @ self.weights", (4, 4),
        ["input gradient is grad @ self.weights, with the weights untransposed",
         "a square layer hides this from the shapes"]),
    "grad_weight for grad_weights": (
        "self.grad_weight = self.input.T @ grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["grad_weights is not set, but backward set self.grad_weight: a near miss",
         "assign to that exact name"]),
    "grad_b for grad_bias": (
        "self.grad_weights = self.input.T @ grad\n"
        "self.grad_b = grad.sum(axis=0, keepdims=True)\n"
        "return grad @ self.weights.T", (5, 3),
        ["grad_bias is not set, but backward set self.grad_b: a near miss"]),
    "a matrix product's shapes": (
        "self.grad_weights = self.input @ grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["backward raised ValueError on the line `self.grad_weights = self.input @ grad`",
         "a matrix product whose shapes do not fit", "self.input has shape (4, 5)",
         "grad_weights must have shape (5, 3): transposing an operand gives it",
         "`self.input.T @ grad` has that shape"]),
    "an exception of another kind": (
        "self.grad_weights = self.x.T @ grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["backward raised AttributeError on the line `self.grad_weights = self.x.T @ grad`",
         "'Linear' object has no attribute 'x'"]),
    "* for @": (
        "self.grad_weights = self.input.T * grad\n" + ASSIGNS_BIAS_AND_RETURNS, (5, 3),
        ["backward raised ValueError on the line `self.grad_weights = self.input.T * grad`",
         "could not be broadcast", "work entry by entry", "a matrix product is written `@`"]),
    "the seed's averaged bias": (
        AVERAGED_BIAS, (5, 3),
        ["grad_bias is 1/4 of the numerical gradient, a factor of the batch size",
         "do not divide or average over the batch again"]),
    "the release stub": (
        None, (5, 3),
        ["backward is not implemented yet: it still raises NotImplementedError. Write it in "
         "the answer cell in place of `raise NotImplementedError()`"]),
}
# Only a matrix product whose shapes do not fit is told to transpose something.
TRANSPOSING = {"input gradient without .T, non-square", "a matrix product's shapes",
               "input gradient without .T, square"}


def student_class(folder, body):
    """The class Linear of a saved notebook 01 whose backward is `body` (None: the stub)."""
    source = release_answer() if body is None else answer(body)
    return student_linear_class(write_notebook(folder / NOTEBOOK_01, source))


@pytest.mark.parametrize(("body", "shape", "words"), MISTAKES.values(), ids=MISTAKES)
def test_each_mistake_is_named_in_the_report(tmp_path, body, shape, words):
    """The report fails and contains the mistake's words: never a traceback of the checker,
    never a dangling colon, and a transposing hint only where a transpose is the fix."""
    layer = student_class(tmp_path, body)(*shape, np.random.default_rng(0))

    report = check_layer(layer, batch_size=4)

    text = " ".join(str(report).split())  # long diagnoses are wrapped: fold line breaks
    assert not report.passed
    for phrase in words:
        assert phrase in text, text
    assert "Traceback" not in text and 'File "' not in text and "gradcheck" not in text
    assert not any(problem.rstrip().endswith(":") for problem in report.problems)
    case = next(name for name, row in MISTAKES.items() if row[0] == body and row[1] == shape)
    assert ("transpos" in text.lower()) == (case in TRANSPOSING), text


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


class WrongSign(ReferenceLinear):
    def backward(self, grad):
        returned = super().backward(grad)
        self.grad_weights = -self.grad_weights
        return returned


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


def test_a_backward_that_wrecks_the_layer_is_reported_not_raised():
    """Deleting a parameter or setting a gradient to text fails the check; it never crashes it."""
    class Wrecks(ReferenceLinear):
        def backward(self, grad):
            returned = super().backward(grad)
            del self.weights
            self.grad_bias = "zero"
            return returned

    report = check(Wrecks)

    assert not report.passed
    assert "backward changed self.weights" in report.problems[0]
    assert "grad_bias is a str, not an array of numbers" in row(report, "grad_bias").diagnosis


def test_what_notebook_01_says_of_the_checker_is_what_it_does():
    """The numbers the notebook quotes (the step h, the 60 sampled entries, the 1e-6 pass
    mark) are the checker's own; change one and this names the prose to update."""
    import inspect

    import nbformat
    from reference import SOURCE_NOTEBOOK_01

    from digitlab.gradcheck import DEFAULT_THRESHOLD, STEP

    prose = " ".join(cell.source for cell in nbformat.read(SOURCE_NOTEBOOK_01, as_version=4).cells
                     if cell.cell_type == "markdown")
    defaults = inspect.signature(check_layer).parameters
    quoted = {  # the words in notebook 01 section 3: the value they must match
        "$h = 10^{-5}$": STEP == 1e-5,
        "more than 60 entries is checked on 60 of them": defaults["max_entries"].default == 60,
        "PASS when it is at most $10^{-6}$": DEFAULT_THRESHOLD == defaults["threshold"].default
        == 1e-6,
    }
    for words, true in quoted.items():
        assert words in " ".join(prose.split()), f"notebook 01 no longer says {words!r}"
        assert true, f"update notebook 01's section 3, which says {words!r}"


def test_the_relative_error_is_the_largest_difference_over_the_largest_value():
    check = compare_gradient("g", np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]), 1)

    assert check.max_abs_difference == 1.0
    assert check.relative_error == pytest.approx(1 / 3)
