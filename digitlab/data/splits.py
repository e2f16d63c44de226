"""Stratified, seeded splits and the arrays the rest of the package trains on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10


@dataclass(frozen=True, repr=False)
class LabelledImages:
    """Images with their labels.

    images: (N, 784) floats in [0, 1], one flattened 28x28 image per row.
    labels: (N,) int64 digits 0-9.
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=CLASSES)
        return (
            f"LabelledImages({len(self)} images, {self.images.dtype}, "
            f"per digit {counts.min()}-{counts.max()})"
        )


@dataclass(frozen=True, repr=False)
class DigitData:
    """Everything an experiment needs: labelled train and validation parts, plus test images.

    The test images come without labels on purpose: they are the competition's images, and
    their labels (the answer key) stay with the instructor.

    train, validation: LabelledImages.
    test_images: (M, 784) floats in [0, 1].
    seed: the seed that chose the train/validation split.
    """

    train: LabelledImages
    validation: LabelledImages
    test_images: np.ndarray
    seed: int

    def __repr__(self) -> str:
        return (
            f"DigitData(train={len(self.train)}, validation={len(self.validation)}, "
            f"test={len(self.test_images)} unlabelled, seed={self.seed}, "
            f"dtype={self.train.images.dtype})"
        )


def stratified_split(
    labels: np.ndarray, fractions: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Split row indices into parts that each hold the given fraction of every class.

    labels: (N,) integer class labels. fractions: one per part, summing to 1.
    Returns one shuffled (n_part,) int64 index array per part. The last part takes what
    rounding leaves, so every index lands in exactly one part. The same seed gives the same
    parts; shuffling within a part matters because source files are often sorted by label.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"fractions must be non-negative and sum to 1, got {list(fractions)}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        boundaries = np.round(np.cumsum(fractions[:-1]) * len(members)).astype(int)
        for part, chunk in zip(parts, np.split(members, boundaries), strict=True):
            part.append(chunk)
    return [rng.permutation(np.concatenate(part)) for part in parts]


def to_unit_floats(pixels: np.ndarray, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Scale uint8 pixels (N, 784) in 0-255 to floats in [0, 1] of the chosen dtype."""
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return pixels.astype(dtype) / dtype.type(255)


def split_digits(
    pixels: np.ndarray,
    labels: np.ndarray,
    test_pixels: np.ndarray,
    *,
    seed: int,
    validation_fraction: float,
    dtype: np.dtype | type = np.float32,
) -> DigitData:
    """Split labelled uint8 images into train and validation parts and scale all pixels.

    pixels: (N, 784) uint8; labels: (N,) ints 0-9; test_pixels: (M, 784) uint8.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie strictly between 0 and 1, "
                         f"got {validation_fraction}")
    train_rows, validation_rows = stratified_split(
        labels, [1 - validation_fraction, validation_fraction], seed
    )
    labels = np.asarray(labels, dtype=np.int64)
    return DigitData(
        train=LabelledImages(to_unit_floats(pixels[train_rows], dtype), labels[train_rows]),
        validation=LabelledImages(
            to_unit_floats(pixels[validation_rows], dtype), labels[validation_rows]
        ),
        test_images=to_unit_floats(test_pixels, dtype),
        seed=seed,
    )
