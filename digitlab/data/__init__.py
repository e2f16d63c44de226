"""Digit data: the bundled subset, MNIST IDX files and Kaggle CSVs, as arrays and splits."""

from digitlab.data.bundled import load_bundled_pixels, load_digits
from digitlab.data.errors import DataFormatError
from digitlab.data.splits import DigitData, LabelledImages, split_digits, stratified_split

__all__ = [
    "DataFormatError",
    "DigitData",
    "LabelledImages",
    "load_bundled_pixels",
    "load_digits",
    "split_digits",
    "stratified_split",
]
