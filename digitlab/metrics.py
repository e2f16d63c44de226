"""Figures computed from labels and predictions: pure numpy, so reports need no matplotlib."""

from __future__ import annotations

import numpy as np

from digitlab.data.splits import CLASSES


def as_digits(name: str, values, length: int | None = None) -> np.ndarray:
    """values as an (N,) int array of digits 0-9, or a ValueError that names `name`.

    length: if given, the N that values must have.
    """
    digits = np.asarray(values)
    if digits.ndim != 1 or not np.issubdtype(digits.dtype, np.integer):
        raise ValueError(
            f"{name} must be a 1-D array of whole numbers (digits 0-9), got shape "
            f"{digits.shape} and dtype {digits.dtype}."
        )
    if length is not None and len(digits) != length:
        raise ValueError(f"{name} has {len(digits)} entries, expected {length}.")
    if digits.size and (digits.min() < 0 or digits.max() >= CLASSES):
        raise ValueError(
            f"{name} must be digits 0-{CLASSES - 1}, found values from {digits.min()} "
            f"to {digits.max()}."
        )
    # intp: bincount refuses unsigned 64-bit input, and uint8 would overflow in arithmetic.
    return digits.astype(np.intp, copy=False)


def confusion_counts(labels, predictions) -> np.ndarray:
    """counts[t, p]: how many images of true digit t were predicted as digit p.

    labels, predictions: (N,) digits 0-9.
    Returns (10, 10) ints that sum to N; the diagonal holds the correct predictions.
    """
    labels = as_digits("labels", labels)
    predictions = as_digits("predictions", predictions, length=len(labels))
    # Each (true, predicted) pair gets its own bin: bin t * 10 + p is row t, column p.
    pairs = labels * CLASSES + predictions
    return np.bincount(pairs, minlength=CLASSES * CLASSES).reshape(CLASSES, CLASSES)
