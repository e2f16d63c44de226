"""The MNIST subset that ships inside the package, so every experiment works offline."""

from __future__ import annotations

from importlib import resources

import numpy as np

from digitlab.data.splits import DigitData, split_digits

BUNDLED_FILE = "mnist_5k.npz"


def load_bundled_pixels() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raw bundled arrays.

    Returns images (4000, 784) uint8, labels (4000,) uint8 and test_images (1000, 784) uint8.
    The test images' labels are the competition key and are not in the package.
    """
    with resources.files("digitlab.data").joinpath(BUNDLED_FILE).open("rb") as file:
        arrays = np.load(file)
        return arrays["images"], arrays["labels"], arrays["test_images"]


def load_digits(
    seed: int = 0, validation_fraction: float = 0.25, dtype: np.dtype | type = np.float32
) -> DigitData:
    """The bundled digits, split for training.

    By default: 3,000 training and 1,000 validation images, stratified (every digit in
    the same proportion) and chosen by `seed`, plus the 1,000 unlabelled competition images.
    Pixels are scaled to [0, 1] as `dtype` (float32 or float64).
    """
    images, labels, test_images = load_bundled_pixels()
    return split_digits(
        images, labels, test_images,
        seed=seed, validation_fraction=validation_fraction, dtype=dtype,
    )
