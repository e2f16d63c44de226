"""A competition set with an answer key, cut from Kaggle's digit-recognizer train.csv.

Kaggle does not publish the labels of its test.csv, so a course on Kaggle's data cannot score
against them. Instead, hold out part of train.csv: its images become the course's test.csv
(Kaggle's layout, no labels), their labels the answer key, and the rest the course's
train.csv. Students then load both with digitlab.data.load_kaggle, as they would Kaggle's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitlab.competition import write_submission
from digitlab.data.kaggle import TEST_COLUMNS, TRAIN_COLUMNS, read_kaggle_train

OUTPUTS = ("train.csv", "test.csv", "answer-key.csv")


def split_kaggle_train(train_csv: str | Path, test_size: int, out: str | Path,
                       seed: int = 0) -> dict[str, Path]:
    """Write out/train.csv, out/test.csv and out/answer-key.csv from Kaggle's train.csv.

    test_size images, chosen at random by `seed`, go to test.csv (784 pixel columns) and
    their digits to answer-key.csv (ImageId,Label, ids in test.csv's row order); the others
    stay in train.csv (label and 784 pixels), in their original order. Refuses to overwrite
    an existing file, so the source train.csv is never replaced by its own part.
    Returns {file name: path written}.
    """
    out = Path(out)
    paths = {name: out / name for name in OUTPUTS}
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing:
        raise FileExistsError(f"Not overwriting {', '.join(existing)}: choose another --out "
                              "folder or move those files away.")
    images, labels = read_kaggle_train(train_csv)
    if not 0 < test_size < len(labels):
        raise ValueError(f"The test size must be between 1 and {len(labels) - 1} (train.csv "
                         f"has {len(labels)} images), got {test_size}.")
    held = np.zeros(len(labels), dtype=bool)
    held[np.random.default_rng(seed).permutation(len(labels))[:test_size]] = True
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(paths["train.csv"], TRAIN_COLUMNS,
               np.column_stack([labels[~held], images[~held]]))
    _write_csv(paths["test.csv"], TEST_COLUMNS, images[held])
    write_submission(labels[held], paths["answer-key.csv"])
    return paths


def _write_csv(path: Path, columns: tuple[str, ...], table: np.ndarray) -> None:
    """table (N, len(columns)) whole numbers under a header of columns, "\\n" line ends."""
    np.savetxt(path, table, fmt="%d", delimiter=",", header=",".join(columns), comments="")
