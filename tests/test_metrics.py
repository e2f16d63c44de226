import numpy as np
import pytest

from digitlab.metrics import as_digits, confusion_counts


def test_confusion_counts_match_a_small_example_worked_by_hand():
    labels = [0, 0, 1, 2, 2, 2]
    predictions = [0, 1, 1, 2, 0, 2]
    counts = confusion_counts(labels, predictions)
    expected = np.zeros((10, 10), dtype=int)
    expected[0, 0] = 1  # a 0 read as 0
    expected[0, 1] = 1  # a 0 read as 1
    expected[1, 1] = 1
    expected[2, 2] = 2
    expected[2, 0] = 1  # a 2 read as 0
    np.testing.assert_array_equal(counts, expected)


def test_confusion_counts_sum_to_the_number_of_images_and_the_diagonal_counts_hits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=500, dtype=np.uint8)
    predictions = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 10, size=500))
    counts = confusion_counts(labels, predictions)
    assert counts.shape == (10, 10)
    assert counts.sum() == 500
    assert np.trace(counts) == np.count_nonzero(labels == predictions)
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(labels, minlength=10))


def test_as_digits_accepts_any_integer_type_and_gives_intp():
    digits = as_digits("labels", np.array([9, 0], dtype=np.uint64))
    assert digits.dtype == np.intp and digits.tolist() == [9, 0]


@pytest.mark.parametrize(
    "labels, predictions, words",
    [
        ([1, 2, 3], [1, 2], "predictions has 2 entries, expected 3"),
        ([1, 2], [1, 10], "predictions must be digits 0-9, found values from 1 to 10"),
        ([-1, 2], [1, 2], "labels must be digits 0-9"),
        ([1.0, 2.0], [1, 2], "labels must be a 1-D array of whole numbers"),
        ([[1, 2]], [1, 2], "labels must be a 1-D array"),
    ],
)
def test_bad_digits_are_rejected_with_the_reason(labels, predictions, words):
    with pytest.raises(ValueError, match=words):
        confusion_counts(labels, predictions)
