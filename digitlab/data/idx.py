"""MNIST's own file format, IDX, read straight into numpy arrays.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 size per dimension, then the values, big-endian, in
C order. MNIST ships four of them, usually gzipped: train/t10k images and labels.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from digitlab.data.errors import DataFormatError
from digitlab.data.splits import CLASSES, IMAGE_SIDE, PIXELS

GZIP_MAGIC = b"\x1f\x8b"
# Type codes from the IDX specification; every multi-byte type is big-endian.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
KNOWN_TYPES = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_TYPES.items())
DOWNLOAD_AGAIN = "Download the file again."
CUT_SHORT = "An interrupted download leaves a file cut short: download it again."


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzipped or not, into an array of the shape its header declares.

    Returns a new, writable array in native byte order, e.g. (60000, 28, 28) uint8 for
    MNIST training images or (60000,) uint8 for their labels. Gzip is recognised by its
    magic bytes, not the file name, because downloads are often renamed or unzipped by
    the browser. Byte offsets in error messages count in the unzipped data.

    Raises FileNotFoundError for a missing file and DataFormatError for a malformed one.
    """
    path = Path(path)
    content = _gunzip_if_needed(path, path.read_bytes())
    dtype, shape, header_size = _parse_header(path, content)
    _check_data_size(path, len(content) - header_size, dtype, shape)
    values = np.frombuffer(content, dtype, count=math.prod(shape), offset=header_size)
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist_idx(
    images_path: str | Path, labels_path: str | Path
) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair of MNIST IDX files: images and their labels.

    images_path: a 3-D uint8 IDX file of 28x28 images. labels_path: a 1-D uint8 IDX file
    of digits 0-9, one per image.
    Returns images (N, 784) uint8, one flattened image per row, and labels (N,) uint8.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    _check_images(Path(images_path), images)
    _check_labels(Path(labels_path), labels)
    if len(images) != len(labels):
        raise DataFormatError(
            labels_path, "header",
            f"holds {len(labels):,} labels, but {images_path} holds {len(images):,} images; "
            "every image needs exactly one label.",
            "Pair files from the same set: train-images-idx3-ubyte with "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte with t10k-labels-idx1-ubyte.",
        )
    return images.reshape(len(images), PIXELS), labels


def _gunzip_if_needed(path: Path, content: bytes) -> bytes:
    """The file's bytes, decompressed if they start with gzip's magic number."""
    if not content.startswith(GZIP_MAGIC):
        return content
    try:
        return gzip.decompress(content)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataFormatError(
            path, "gzip stream",
            f"is gzip-compressed, but the compressed data is corrupt or cut short ({error}).",
            CUT_SHORT,
        ) from error


def _parse_header(path: Path, content: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """The value type, the shape and the header's length in bytes."""
    if len(content) < 4:
        raise DataFormatError(
            path, "header",
            f"is only {len(content)} bytes long: too short for the 4-byte IDX magic number.",
            CUT_SHORT,
        )
    if content[:2] != b"\x00\x00":
        raise _bad_magic(path, content[:4])
    type_code, ndim = content[2], content[3]
    if type_code not in IDX_TYPES:
        raise DataFormatError(
            path, "byte 2",
            f"has type code 0x{type_code:02X}, which IDX does not define; "
            f"the known codes are {KNOWN_TYPES}.",
            "The file is damaged or is not an IDX file. " + DOWNLOAD_AGAIN,
        )
    if ndim == 0:
        raise DataFormatError(
            path, "byte 3", "declares 0 dimensions; an IDX file has at least one.",
            "The file is damaged or is not an IDX file. " + DOWNLOAD_AGAIN,
        )
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DataFormatError(
            path, "header",
            f"declares {ndim} dimensions, so its header needs {header_size} bytes, "
            f"but the file has only {len(content)}.",
            CUT_SHORT,
        )
    shape = tuple(int(size) for size in np.frombuffer(content, ">u4", count=ndim, offset=4))
    return IDX_TYPES[type_code], shape, header_size


def _bad_magic(path: Path, start: bytes) -> DataFormatError:
    """The error for a file that does not start like an IDX file."""
    as_text = start.decode("ascii", errors="replace")
    return DataFormatError(
        path, "byte 0",
        f"starts with the bytes {start.hex(' ')} ({as_text!r}), but an IDX file starts with "
        "two zero bytes, a type code and a dimension count: 00 00 08 03 for MNIST images, "
        "00 00 08 01 for MNIST labels.",
        "This is not an IDX file: it may be an HTML page saved by a failed download, or a "
        "CSV file (read Kaggle's CSVs with read_kaggle_train and read_kaggle_test). "
        "Download the MNIST file again.",
    )


def _check_data_size(path: Path, found: int, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """Refuse data that is shorter or longer than the shape in the header says."""
    record_bytes = math.prod(shape[1:]) * dtype.itemsize
    expected = shape[0] * record_bytes
    if found < expected:
        raise DataFormatError(
            path, "data",
            f"is cut short: shape {shape} of {dtype.name} needs {expected:,} bytes of data, "
            f"but only {found:,} follow the header; that is {found // record_bytes:,} "
            f"complete records of {shape[0]:,}.",
            CUT_SHORT,
        )
    if found > expected:
        raise DataFormatError(
            path, "data",
            f"has {found - expected:,} extra bytes: shape {shape} of {dtype.name} needs "
            f"{expected:,} bytes of data, but {found:,} follow the header.",
            "The header may be wrong or two files may have been joined. " + DOWNLOAD_AGAIN,
        )


def _check_images(path: Path, images: np.ndarray) -> None:
    """Refuse anything but uint8 images of 28x28 pixels: (N, 28, 28)."""
    _check_layout(path, images, "images", 3, "count x 28 x 28")
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        height, width = images.shape[1:]
        raise DataFormatError(
            path, "header",
            f"holds images of {height}x{width} pixels, but digitlab's network takes MNIST's "
            f"{IMAGE_SIDE}x{IMAGE_SIDE}.",
            "Use the MNIST image files, or resize other images to 28x28 first.",
        )


def _check_labels(path: Path, labels: np.ndarray) -> None:
    """Refuse anything but uint8 labels (N,) holding digits 0-9."""
    _check_layout(path, labels, "labels", 1, "one digit per image")
    bad = np.flatnonzero(labels >= CLASSES)
    if bad.size:
        first = bad[0]
        raise DataFormatError(
            path, f"record {first}",
            f"label {labels[first]} is not a digit 0-9 ({bad.size:,} of {labels.size:,} "
            "labels are out of range; records count from 0).",
            "MNIST labels are the digits 0-9; this file may come from another data set "
            "or be damaged. " + DOWNLOAD_AGAIN,
        )


def _check_layout(path: Path, array: np.ndarray, what: str, ndim: int, layout: str) -> None:
    """Refuse an array whose dimension count is not ndim or whose type is not uint8.

    what is "images" or "labels". Passing the pair the wrong way round is the likeliest
    cause of a wrong dimension count, so the message says so when the count fits the other.
    """
    if array.ndim != ndim:
        swapped = array.ndim == {"images": 1, "labels": 3}[what]
        raise DataFormatError(
            path, "byte 3",
            f"is {array.ndim}-D with shape {array.shape}, but MNIST {what} are {ndim}-D: "
            f"{layout}.",
            "It looks like the other file of the pair: are the two paths swapped?"
            if swapped else "Check that you passed the right file.",
        )
    if array.dtype != np.uint8:
        raise DataFormatError(
            path, "byte 2",
            f"holds {array.dtype} values, but MNIST {what} are uint8 (type code 0x08).",
            "Use the original MNIST files, or convert the data to uint8 first.",
        )
