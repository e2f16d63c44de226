"""The MNIST IDX and Kaggle CSV readers: exact round trips, and errors that say where and why.

Every file is written here with plain numpy and string formatting, independently of the
readers, and kept to a few images so the whole module runs in well under a second.
"""

import gzip

import numpy as np
import pytest

from digitlab.data import (
    DataFormatError,
    load_kaggle,
    load_mnist_idx,
    read_idx,
    read_kaggle_test,
    read_kaggle_train,
)

TYPE_CODES = {
    np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B,
    np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E,
}
TEST_HEADER = ",".join(f"pixel{i}" for i in range(784))
TRAIN_HEADER = "label," + TEST_HEADER


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of an array, written out from the format's description."""
    code = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def digits(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (count, 28, 28) and labels (count,) cycling through 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    return images, (np.arange(count) % 10).astype(np.uint8)


def expect_error(call, path, where, words) -> DataFormatError:
    """Run call, expecting a DataFormatError that names path and where and holds words."""
    with pytest.raises(DataFormatError) as caught:
        call()
    message = str(caught.value)
    assert caught.value.where == where
    assert message.startswith(f"{path}, {where}:" if where else f"{path}:")
    for word in words:
        assert word in message
    return caught.value


# --- IDX --------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzipped"])
@pytest.mark.parametrize("dtype", list(TYPE_CODES))
def test_read_idx_round_trips_every_type(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    if np.issubdtype(dtype, np.integer):  # the type's whole range, so sign and byte order show
        limits = np.iinfo(dtype)
        array = rng.integers(limits.min, limits.max, (3, 4, 5), dtype=dtype, endpoint=True)
    else:
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    content = idx_bytes(array)
    # No .gz in the name: gzip must be recognised by its magic bytes.
    path = tmp_path / "data.idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    read = read_idx(path)
    assert read.dtype == dtype and read.shape == (3, 4, 5)
    np.testing.assert_array_equal(read, array)


def test_an_unzipped_file_named_gz_still_reads(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = tmp_path / "labels.gz"
    path.write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(path), labels)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzipped"])
def test_load_mnist_idx_flattens_images_and_keeps_labels(tmp_path, compress):
    images, labels = digits(seed=2, count=7)
    pack = gzip.compress if compress else bytes
    (tmp_path / "images").write_bytes(pack(idx_bytes(images)))
    (tmp_path / "labels").write_bytes(pack(idx_bytes(labels)))
    read_images, read_labels = load_mnist_idx(tmp_path / "images", tmp_path / "labels")
    assert read_images.dtype == np.uint8 and read_labels.dtype == np.uint8
    np.testing.assert_array_equal(read_images, images.reshape(7, 784))
    np.testing.assert_array_equal(read_labels, labels)


GOOD_IDX = idx_bytes(digits(seed=3, count=5)[0])  # 16-byte header, 5 x 784 bytes of data
GOOD_GZIP = gzip.compress(GOOD_IDX)


@pytest.mark.parametrize(
    "content, where, words",
    [
        (b"<!DOCTYPE html><html>", "byte 0",
         ["3c 21 44 4f", "'<!DO'", "00 00 08 03", "not an IDX file", "HTML", "CSV"]),
        (b"label,pixel0\n", "byte 0", ["6c 61 62 65", "not an IDX file"]),
        (b"\x00\x00", "header", ["only 2 bytes", "too short"]),
        (b"\x00\x00\x07\x01" + bytes(4), "byte 2", ["type code 0x07", "0x08 (uint8)"]),
        (b"\x00\x00\x08\x00", "byte 3", ["0 dimensions"]),
        (GOOD_IDX[:10], "header", ["3 dimensions", "needs 16 bytes", "only 10"]),
        (GOOD_IDX[: 16 + 3 * 784 + 100], "data",
         ["cut short", "needs 3,920 bytes", "only 2,452", "3 complete records of 5"]),
        (GOOD_IDX + b"\x00\x01\x02", "data", ["3 extra bytes", "needs 3,920 bytes"]),
        (GOOD_GZIP[:-20], "gzip stream", ["gzip", "corrupt or cut short", "download it again"]),
        (GOOD_GZIP[:12] + bytes(30) + GOOD_GZIP[42:], "gzip stream", ["corrupt or cut short"]),
        (GOOD_GZIP[:-8] + bytes(4) + GOOD_GZIP[-4:], "gzip stream", ["corrupt or cut short"]),
    ],
    ids=["html", "csv", "two-bytes", "type-code", "no-dims", "short-header", "short-data",
         "extra-bytes", "gzip-cut", "gzip-garbled", "gzip-bad-crc"],
)
def test_read_idx_explains_a_malformed_file(tmp_path, content, where, words):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)
    expect_error(lambda: read_idx(path), path, where, words)


def test_a_missing_idx_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.idx"):
        read_idx(tmp_path / "nowhere.idx")


IMAGES, LABELS = digits(seed=4, count=5)
BAD_LABELS = LABELS.copy()
BAD_LABELS[[3, 4]] = [12, 10]


@pytest.mark.parametrize(
    "images, labels, bad_file, where, words",
    [
        (np.zeros((5, 32, 32), np.uint8), LABELS, "images", "header", ["32x32", "28x28"]),
        (IMAGES.reshape(5, 784), LABELS, "images", "byte 3",
         ["2-D with shape (5, 784)", "3-D", "right file"]),
        (IMAGES.astype(np.int16), LABELS, "images", "byte 2", ["int16", "uint8"]),
        (LABELS, IMAGES, "images", "byte 3", ["1-D", "swapped"]),
        (IMAGES, LABELS.reshape(5, 1), "labels", "byte 3", ["2-D", "1-D"]),
        (IMAGES, LABELS.astype(np.int32), "labels", "byte 2", ["int32", "uint8"]),
        (IMAGES, BAD_LABELS, "labels", "record 3",
         ["label 12", "not a digit 0-9", "2 of 5 labels"]),
        (IMAGES, LABELS[:4], "labels", "header", ["4 labels", "5 images", "images"]),
    ],
    ids=["32x32", "2-D-images", "int16-images", "swapped", "2-D-labels", "int32-labels",
         "label-12", "counts-differ"],
)
def test_load_mnist_idx_explains_a_bad_pair(tmp_path, images, labels, bad_file, where, words):
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    path = tmp_path / bad_file
    error = expect_error(
        lambda: load_mnist_idx(tmp_path / "images", tmp_path / "labels"), path, where, words
    )
    if where == "header" and bad_file == "labels":  # a count mismatch names both files
        assert str(tmp_path / "images") in str(error)


# --- Kaggle CSV -------------------------------------------------------------------------


def csv_lines(images: np.ndarray, labels: np.ndarray | None = None) -> list[str]:
    """Kaggle's layout: a header, then the label (train only) and 784 pixels per line."""
    table = images.reshape(len(images), 784)
    if labels is None:
        return [TEST_HEADER, *(",".join(map(str, row)) for row in table)]
    return [TRAIN_HEADER, *(f"{label}," + ",".join(map(str, row))
                            for label, row in zip(labels, table, strict=True))]


def write_csv(path, lines, *, bom=False, crlf=False):
    """Write lines as one text file, optionally the way Windows tools save CSVs."""
    newline = "\r\n" if crlf else "\n"
    text = "".join(line + newline for line in lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("bom, crlf", [(False, False), (True, True), (True, False)])
def test_kaggle_csvs_round_trip(tmp_path, bom, crlf):
    images, labels = digits(seed=5, count=6)
    train = write_csv(tmp_path / "train.csv", csv_lines(images, labels), bom=bom, crlf=crlf)
    test = write_csv(tmp_path / "test.csv", csv_lines(images[:4]), bom=bom, crlf=crlf)
    read_images, read_labels = read_kaggle_train(train)
    assert read_images.dtype == np.uint8 and read_labels.dtype == np.uint8
    np.testing.assert_array_equal(read_images, images.reshape(6, 784))
    np.testing.assert_array_equal(read_labels, labels)
    np.testing.assert_array_equal(read_kaggle_test(test), images[:4].reshape(4, 784))


def test_whole_numbers_written_as_floats_and_empty_lines_are_accepted(tmp_path):
    images, labels = digits(seed=6, count=2)
    header, *rows = csv_lines(images, labels)
    rows[0] = rows[0].replace(",", ".0,")  # what a float DataFrame's to_csv writes
    path = write_csv(tmp_path / "train.csv", [header, rows[0], "", rows[1]])
    read_images, read_labels = read_kaggle_train(path)
    np.testing.assert_array_equal(read_images, images.reshape(2, 784))
    np.testing.assert_array_equal(read_labels, labels)


def test_load_kaggle_splits_stratified_and_by_seed(tmp_path):
    images, labels = digits(seed=7, count=200)  # 20 of each digit
    train = write_csv(tmp_path / "train.csv", csv_lines(images, labels))
    test = write_csv(tmp_path / "test.csv", csv_lines(images[:8]))
    first, again, other = (load_kaggle(train, test, seed=seed) for seed in (1, 1, 2))
    assert np.all(np.bincount(first.train.labels, minlength=10) == 15)
    assert np.all(np.bincount(first.validation.labels, minlength=10) == 5)
    np.testing.assert_array_equal(first.train.images, again.train.images)
    np.testing.assert_array_equal(first.validation.labels, again.validation.labels)
    assert not np.array_equal(first.train.images, other.train.images)
    # Every labelled image lands in exactly one part, scaled to [0, 1], with its own label.
    pool = np.concatenate([first.train.images, first.validation.images])
    pool_labels = np.concatenate([first.train.labels, first.validation.labels])
    order = np.lexsort(np.round(pool * 255).T)
    expected = np.lexsort(images.reshape(200, 784).T)
    np.testing.assert_array_equal(np.round(pool[order] * 255), images.reshape(200, 784)[expected])
    np.testing.assert_array_equal(pool_labels[order], labels[expected])
    assert first.test_images.shape == (8, 784) and first.test_images.dtype == np.float32


ROW = ",".join(["7"] + ["0"] * 784)  # a valid train.csv line
TEST_ROW = ",".join(["0"] * 784)


def with_value(column: int, value: str, row: str = ROW) -> str:
    """row with the value in column (0 = the first field) replaced by value."""
    fields = row.split(",")
    fields[column] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    "reader, lines, where, words",
    [
        ("train", [], None, ["is empty", "Download"]),
        ("train", [TEST_HEADER, TEST_ROW], "line 1",
         ["looks like Kaggle's test.csv (no label column)", "read_kaggle_test"]),
        ("test", [TRAIN_HEADER, ROW], "line 1",
         ["looks like Kaggle's train.csv (it has a label column)", "read_kaggle_train"]),
        ("train", [ROW, ROW], "line 1", ["holds numbers", "label,pixel0,...,pixel783",
                                         "missing"]),
        ("train", ["<!DOCTYPE html>", "<html>"], "line 1",
         ["starts with '<!DOCTYPE html>'.", "web page", "unzip"]),
        ("train", [TRAIN_HEADER], None, ["no data rows"]),
        ("train", [TRAIN_HEADER, ROW, ROW[:-2], ROW], "line 3",
         ["has 784 values", "have 785", "cut short"]),
        ("train", [TRAIN_HEADER, ROW[2:], ROW[2:]], "line 2", ["has 784 values"]),
        ("train", [TRAIN_HEADER, ROW, ROW, with_value(11, "abc")], "line 4, column pixel10",
         ["'abc' is not a number", "Fix or delete"]),
        ("train", [TRAIN_HEADER, with_value(1, "")], "line 2, column pixel0",
         ["'' is not a number"]),
        ("train", [TRAIN_HEADER, ROW, with_value(784, "300")], "line 3, column pixel783",
         ["'300' is outside 0-255", "multiply them by 255"]),
        ("train", [TRAIN_HEADER, with_value(5, "-1")], "line 2, column pixel4",
         ["'-1' is outside 0-255"]),
        ("train", [TRAIN_HEADER, with_value(5, "12.5")], "line 2, column pixel4",
         ["'12.5' is not a whole number", "0 to 255"]),
        ("train", [TRAIN_HEADER, with_value(5, "nan")], "line 2, column pixel4",
         ["'nan' is not a whole number"]),
        ("train", [TRAIN_HEADER, ROW, with_value(0, "10")], "line 3, column label",
         ["label '10' is not a digit 0-9"]),
        ("train", [TRAIN_HEADER, with_value(0, "3.5")], "line 2, column label",
         ["label '3.5' is not a digit 0-9"]),
        ("train", [TRAIN_HEADER, ROW, "", "", with_value(0, "-2")], "line 5, column label",
         ["label '-2'"]),
        ("test", [TEST_HEADER, TEST_ROW, with_value(0, "x1", TEST_ROW)],
         "line 3, column pixel0", ["'x1' is not a number"]),
    ],
    ids=["empty", "test-as-train", "train-as-test", "no-header", "html", "header-only",
         "short-row", "all-rows-short", "text-value", "empty-value", "pixel-300",
         "pixel-negative", "pixel-fraction", "pixel-nan", "label-10", "label-fraction",
         "lines-count-blanks", "test-text-value"],
)
def test_kaggle_readers_explain_a_malformed_file(tmp_path, reader, lines, where, words):
    path = write_csv(tmp_path / f"{reader}.csv", lines)
    read = read_kaggle_train if reader == "train" else read_kaggle_test
    expect_error(lambda: read(path), path, where, words)


def test_line_numbers_hold_with_a_bom_and_windows_line_endings(tmp_path):
    lines = [TRAIN_HEADER, ROW, with_value(3, "9O")]
    path = write_csv(tmp_path / "train.csv", lines, bom=True, crlf=True)
    expect_error(lambda: read_kaggle_train(path), path, "line 3, column pixel2",
                 ["'9O' is not a number"])


def test_a_byte_that_is_not_utf8_is_shown_as_a_bad_value(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(f"{TRAIN_HEADER}\n{with_value(2, 'X')}\n".encode().replace(b"X", b"\xff"))
    expect_error(lambda: read_kaggle_train(path), path, "line 2, column pixel1",
                 ["is not a number"])


def test_a_missing_csv_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.csv"):
        read_kaggle_train(tmp_path / "train.csv")
