"""Kaggle's digit-recognizer files, end to end: small train.csv and test.csv in Kaggle's exact
layout (written here from bundled digits, so the labels of the test rows are known), loaded,
trained on, and a submission written that Kaggle would accept; and the instructor's
`digitlab kaggle-split`, which makes a competition with an answer key from a train.csv."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from reference import ReferenceLinear
from test_data_formats import csv_lines, write_csv

from digitlab import TrainingSettings, train
from digitlab.cli import main
from digitlab.competition import check_submission, submission_accuracy, write_submission
from digitlab.data import load_bundled_pixels, load_kaggle, read_kaggle_test, read_kaggle_train

TRAIN_ROWS, TEST_ROWS = 600, 100
SETTINGS = TrainingSettings(width=32, step_size=0.1, max_epochs=8, seed=0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 700 labelled bundled digits: pixels (700, 784) uint8 and labels (700,)."""
    images, labels, _ = load_bundled_pixels()
    return images[:TRAIN_ROWS + TEST_ROWS], labels[:TRAIN_ROWS + TEST_ROWS]


def assert_kaggle_accepts(path: Path, n_images: int) -> np.ndarray:
    """What Kaggle's digit-recognizer accepts, checked byte by byte; returns the labels."""
    raw = path.read_bytes()
    assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\n")
    lines = raw.decode("ascii").split("\n")[:-1]
    assert lines[0] == "ImageId,Label" and len(lines) == n_images + 1
    assert all(re.fullmatch(r"[0-9]+,[0-9]", line) for line in lines[1:])  # no index column
    ids, labels = np.array([[int(v) for v in line.split(",")] for line in lines[1:]]).T
    np.testing.assert_array_equal(ids, np.arange(1, n_images + 1))
    assert check_submission(path, n_images) == []
    return labels


def test_train_on_kaggle_files_and_write_a_submission_kaggle_accepts(tmp_path, digits):
    """load_kaggle reads both files; the reference network learns from them; the submission
    for test.csv is in Kaggle's format and far better than chance on the held labels."""
    pixels, labels = digits
    train_csv = write_csv(tmp_path / "train.csv",
                          csv_lines(pixels[:TRAIN_ROWS], labels[:TRAIN_ROWS]))
    test_csv = write_csv(tmp_path / "test.csv", csv_lines(pixels[TRAIN_ROWS:]))
    assert train_csv.read_text().startswith("label,pixel0,pixel1,")
    assert test_csv.read_text().startswith("pixel0,pixel1,")

    data = load_kaggle(train_csv, test_csv, seed=0)
    assert len(data.train) + len(data.validation) == TRAIN_ROWS
    assert data.test_images.shape == (TEST_ROWS, 784)
    np.testing.assert_array_equal(read_kaggle_test(test_csv), pixels[TRAIN_ROWS:])
    network, history = train(SETTINGS, data, linear=ReferenceLinear)

    submission = write_submission(network.predict(data.test_images), tmp_path / "submission.csv")
    predicted = assert_kaggle_accepts(submission, TEST_ROWS)
    accuracy = np.mean(predicted == labels[TRAIN_ROWS:])
    assert accuracy >= 0.6, (accuracy, history)  # chance is 0.1
    key = write_submission(labels[TRAIN_ROWS:], tmp_path / "key.csv")
    assert submission_accuracy(submission, key) == accuracy


def test_kaggle_split_makes_a_competition_that_scores_end_to_end(tmp_path, digits, capsys):
    """`digitlab kaggle-split train.csv --test-size 100` writes train.csv and test.csv in
    Kaggle's layout and an answer key holding exactly the held-out rows' labels; a class
    trained on them is scored by the leaderboard against that key."""
    pixels, labels = digits
    source = write_csv(tmp_path / "kaggle-train.csv", csv_lines(pixels, labels))
    out = tmp_path / "course-data"
    assert main(["kaggle-split", str(source), "--test-size", str(TEST_ROWS),
                 "--out", str(out), "--seed", "3"]) == 0
    assert "keep answer-key.csv" in capsys.readouterr().out

    kept_pixels, kept_labels = read_kaggle_train(out / "train.csv")
    held_pixels = read_kaggle_test(out / "test.csv")
    assert len(kept_labels) == TRAIN_ROWS and len(held_pixels) == TEST_ROWS
    truth = assert_kaggle_accepts(out / "answer-key.csv", TEST_ROWS)
    # Every source row lands in exactly one part, with its own label.
    source_rows = {(row.tobytes(), label) for row, label in zip(pixels, labels, strict=True)}
    split_rows = {(row.tobytes(), label) for row, label in zip(kept_pixels, kept_labels,
                                                                strict=True)}
    split_rows |= {(row.tobytes(), label) for row, label in zip(held_pixels, truth,
                                                                 strict=True)}
    assert split_rows == source_rows and len(source_rows) == TRAIN_ROWS + TEST_ROWS

    data = load_kaggle(out / "train.csv", out / "test.csv")
    network, _ = train(SETTINGS, data, linear=ReferenceLinear)
    student = out.parent / "submitted" / "ada" / "digit-lab"
    student.mkdir(parents=True)
    submission = write_submission(network.predict(data.test_images),
                                  student / "submission.csv")
    assert main(["leaderboard", "digit-lab", "--course", str(out.parent),
                 "--key", str(out / "answer-key.csv")]) == 0
    with (out.parent / "leaderboard" / "digit-lab-final.csv").open(encoding="utf-8") as file:
        [row] = csv.DictReader(file)
    accuracy = submission_accuracy(submission, out / "answer-key.csv")
    assert accuracy >= 0.6
    assert row["student"] == "ada" and row["rank"] == "1"
    assert row["accuracy"] == f"{accuracy:.6f}"


def test_kaggle_split_refuses_to_overwrite_and_a_bad_size(tmp_path, digits, capsys):
    """An existing output file (here the source itself) and a test size of zero or the
    whole file are refused with exit status 1 and a message; the source is untouched."""
    pixels, labels = digits
    source = write_csv(tmp_path / "train.csv", csv_lines(pixels[:50], labels[:50]))
    before = source.read_bytes()
    assert main(["kaggle-split", str(source), "--test-size", "10", "--out", str(tmp_path)]) == 1
    assert "Not overwriting" in capsys.readouterr().out and source.read_bytes() == before
    for size in ("0", "50"):
        assert main(["kaggle-split", str(source), "--test-size", size,
                     "--out", str(tmp_path / "out")]) == 1
        assert "between 1 and 49" in capsys.readouterr().out
