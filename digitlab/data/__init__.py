"""Digit data: the bundled subset, MNIST IDX files and Kaggle CSVs, as arrays and splits."""

from digitlab.data.bundled import load_bundled_pixels, load_digits
from digitlab.data.errors import DataFormatError
from digitlab.data.idx import load_mnist_idx, read_idx
from digitlab.data.kaggle import load_kaggle, read_kaggle_test, read_kaggle_train
from digitlab.data.splits import DigitData, LabelledImages, split_digits, stratified_split

__all__ = [
    "DataFormatError",
    "DigitData",
    "LabelledImages",
    "load_bundled_pixels",
    "load_digits",
    "load_kaggle",
    "load_mnist_idx",
    "read_idx",
    "read_kaggle_test",
    "read_kaggle_train",
    "split_digits",
    "stratified_split",
]
