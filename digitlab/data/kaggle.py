"""The CSV files of Kaggle's digit-recognizer competition, read into numpy arrays.

train.csv: a header `label,pixel0,...,pixel783`, then one image per line: its digit and
784 pixels. test.csv: the same without the label column. Pixels are whole numbers from
0 (background) to 255 (ink), row by row through the 28x28 image.

Reading takes two passes only when something is wrong: numpy's C parser reads a good file
in about a second, and a slower line-by-line pass runs only to say exactly where a bad
file goes wrong, because numpy's own messages count rows, not the lines an editor shows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from digitlab.data.errors import DataFormatError
from digitlab.data.splits import CLASSES, PIXELS, DigitData, split_digits

TEST_COLUMNS = tuple(f"pixel{i}" for i in range(PIXELS))
TRAIN_COLUMNS = ("label", *TEST_COLUMNS)
COLUMNS = {"train.csv": TRAIN_COLUMNS, "test.csv": TEST_COLUMNS}
READERS = {"train.csv": "read_kaggle_train", "test.csv": "read_kaggle_test"}
# The largest value allowed in each column: a digit for the label, a byte for a pixel.
LIMITS = {
    "train.csv": np.array([CLASSES - 1] + [255] * PIXELS, dtype=np.float32),
    "test.csv": np.full(PIXELS, 255, dtype=np.float32),
}
DOWNLOAD_AGAIN = (
    "Download it again from Kaggle's digit-recognizer competition (Data tab) and unzip it."
)


def read_kaggle_train(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read Kaggle's train.csv.

    Returns images (N, 784) uint8, one flattened 28x28 image per row, and labels (N,)
    uint8 digits 0-9. Accepts a UTF-8 byte-order mark and Windows line endings.
    Raises FileNotFoundError for a missing file and DataFormatError for a malformed one.
    """
    table = _read_table(Path(path), "train.csv")
    return table[:, 1:].astype(np.uint8), table[:, 0].astype(np.uint8)


def read_kaggle_test(path: str | Path) -> np.ndarray:
    """Read Kaggle's test.csv: images (N, 784) uint8, one flattened 28x28 image per row.

    Accepts a UTF-8 byte-order mark and Windows line endings.
    Raises FileNotFoundError for a missing file and DataFormatError for a malformed one.
    """
    return _read_table(Path(path), "test.csv").astype(np.uint8)


def load_kaggle(
    train_path: str | Path,
    test_path: str | Path,
    *,
    seed: int = 0,
    validation_fraction: float = 0.25,
    dtype: np.dtype | type = np.float32,
) -> DigitData:
    """Kaggle's digits, split for training like the bundled ones.

    train.csv is split into train and validation parts, stratified and chosen by `seed`;
    test.csv's images become the unlabelled test_images. Pixels are scaled to [0, 1] as
    `dtype` (float32 or float64).
    """
    images, labels = read_kaggle_train(train_path)
    return split_digits(
        images, labels, read_kaggle_test(test_path),
        seed=seed, validation_fraction=validation_fraction, dtype=dtype,
    )


def _read_table(path: Path, kind: str) -> np.ndarray:
    """Every data row of a checked Kaggle CSV as floats: (N, 785) for train, (N, 784) for test.

    kind is "train.csv" or "test.csv".
    """
    # errors="replace": a stray non-UTF-8 byte then shows up as a bad value on its line.
    with path.open(encoding="utf-8-sig", errors="replace") as file:
        _check_header(path, file.readline(), kind)
        try:
            with warnings.catch_warnings():
                # A file without data rows gets its own message below.
                warnings.filterwarnings("ignore", "loadtxt: input contained no data")
                table = np.loadtxt(file, delimiter=",", dtype=np.float32, ndmin=2, comments=None)
        except ValueError as error:
            raise _explain(path, kind, str(error)) from error
    if len(table) == 0:
        raise DataFormatError(
            path, None, "has the column names on line 1 but no data rows after them.",
            DOWNLOAD_AGAIN,
        )
    if table.shape[1] != len(COLUMNS[kind]) or not np.all(_valid(table, LIMITS[kind])):
        raise _explain(path, kind, "a wrong column count or value")
    return table


def _valid(values: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Which values (..., C) are whole numbers from 0 to their column's limit (C,)."""
    # NaN fails every comparison, so it counts as invalid too.
    return (values == np.round(values)) & (values >= 0) & (values <= limits)


def _check_header(path: Path, first_line: str, kind: str) -> None:
    """Refuse a file whose first line is not exactly the column names of `kind`."""
    if not first_line:
        raise DataFormatError(path, None, "is empty.", DOWNLOAD_AGAIN)
    line = first_line.rstrip("\n")
    names = tuple(name.strip().strip('"') for name in line.split(","))
    if names == COLUMNS[kind]:
        return
    other = "test.csv" if kind == "train.csv" else "train.csv"
    if names == COLUMNS[other]:
        what = "no label column" if other == "test.csv" else "it has a label column"
        raise DataFormatError(
            path, "line 1",
            f"this looks like Kaggle's {other} ({what}), but {kind} was expected.",
            f"Read {other} with {READERS[other]}, or pass {kind} here.",
        )
    expected = f"{COLUMNS[kind][0]},{COLUMNS[kind][1]},...,{COLUMNS[kind][-1]}"
    if _is_number(names[0]):
        raise DataFormatError(
            path, "line 1",
            f"holds numbers, not the column names: the header line {expected} is missing.",
            "Add that line at the top of the file, or download the file again.",
        )
    raise DataFormatError(
        path, "line 1",
        f"should hold the column names {expected}, but it starts with {line[:40]!r}.",
        f"This is not Kaggle's {kind}: if it is the .zip from Kaggle, unzip it first; "
        f"if it is a web page, the download failed. {DOWNLOAD_AGAIN}",
    )


def _explain(path: Path, kind: str, cause: str) -> DataFormatError:
    """The error for the first bad line of a file the fast reader refused.

    Walks the file line by line with the same parser and checks as the fast reader, so
    it finds the problem and can name its line (counting from 1, as editors do) and
    column. `cause` says what the fast reader saw, in case no single line is to blame.
    """
    with path.open(encoding="utf-8-sig", errors="replace") as file:
        next(file)  # the header, already checked
        for number, line in enumerate(file, start=2):
            text = line.rstrip("\n")
            if text:  # numpy skips empty lines, and so may we
                error = _check_line(path, kind, number, text)
                if error:
                    return error
    return DataFormatError(path, None, f"could not be read as CSV: {cause}.", DOWNLOAD_AGAIN)


def _check_line(path: Path, kind: str, number: int, text: str) -> DataFormatError | None:
    """The error for one data line, or None if it is fine."""
    columns, fields = COLUMNS[kind], text.split(",")
    if len(fields) != len(columns):
        return DataFormatError(
            path, f"line {number}",
            f"has {len(fields)} values, but {kind} rows have {len(columns)} "
            f"({', '.join(columns[:2])}, ..., {columns[-1]}).",
            "The line may be cut short or joined with another; fix or delete it, or "
            "download the file again.",
        )
    try:
        values = np.loadtxt([text], delimiter=",", dtype=np.float32, comments=None, ndmin=1)
    except ValueError:
        first = next(i for i, field in enumerate(fields) if not _is_number(field))
        return DataFormatError(
            path, f"line {number}, column {columns[first]}",
            f"{fields[first].strip()!r} is not a number.", "Fix or delete that line.",
        )
    bad = np.flatnonzero(~_valid(values, LIMITS[kind]))
    if not bad.size:
        return None
    first = bad[0]
    return _bad_value(path, f"line {number}", columns[first], fields[first], values[first])


def _bad_value(
    path: Path, line: str, column: str, field: str, value: np.float32
) -> DataFormatError:
    """The error for a number, `field` as written and `value` as read, out of its range."""
    where, written = f"{line}, column {column}", field.strip()
    if column == "label":
        return DataFormatError(
            path, where, f"label {written!r} is not a digit 0-9.",
            "Each row starts with the digit its image shows; fix or delete that line.",
        )
    # NaN is not equal to itself, so it counts as not whole, as in _valid.
    problem = "not a whole number" if value != np.round(value) else "outside 0-255"
    return DataFormatError(
        path, where,
        f"pixel value {written!r} is {problem}; pixels are whole numbers from 0 to 255.",
        "If your pixels are scaled to 0-1, multiply them by 255 and round before saving.",
    )


def _is_number(field: str) -> bool:
    """Whether numpy's CSV parser reads `field` as a number."""
    if not field.strip():  # numpy would read a blank line as no data, not as an error
        return False
    try:
        np.loadtxt([field], delimiter=",", dtype=np.float32, comments=None)
    except ValueError:
        return False
    return True
