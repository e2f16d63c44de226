"""Submission files: written whole or not at all, every malformed file refused with a sentence
that names its problem, and accuracy counted exactly against a key."""

from pathlib import Path

import numpy as np
import pytest

from digitlab.competition import (
    HEADER,
    SubmissionError,
    check_submission,
    read_submission,
    submission_accuracy,
    write_submission,
)

KEY = Path(__file__).resolve().parents[1] / "keys" / "digit-lab.csv"
GOOD = "ImageId,Label\n1,5\n2,0\n3,9\n"  # a valid submission for three images


def write_bytes(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_round_trip_writes_ids_from_one_and_reads_back_the_digits(tmp_path):
    """write_submission then read_submission gives back the predictions, in id order."""
    predictions = np.random.default_rng(0).integers(0, 10, size=50)
    path = write_submission(predictions.astype(np.uint8), tmp_path / "submission.csv")
    assert path == tmp_path / "submission.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == HEADER and lines[1] == f"1,{predictions[0]}" and lines[-1] == ""
    assert [int(line.split(",")[0]) for line in lines[1:-1]] == list(range(1, 51))
    assert check_submission(path, 50) == []
    np.testing.assert_array_equal(read_submission(path, 50), predictions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]


@pytest.mark.parametrize(
    "predictions, says",
    [
        ([3, 10], "digits 0-9"),
        ([-1, 3], "digits 0-9"),
        ([1.0, 2.0], "whole numbers"),
        ([[1, 2], [3, 4]], "1-D"),
        (["3", "4"], "whole numbers"),
        ([], "whole numbers"),
    ],
)
def test_predictions_that_are_not_digits_leave_no_file_behind(tmp_path, predictions, says):
    """Non-digits raise a ValueError that names the predictions, before any file exists."""
    with pytest.raises(ValueError, match="predictions") as error:
        write_submission(predictions, tmp_path / "submission.csv")
    assert says in str(error.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one


def test_a_failed_write_keeps_the_previous_submission(tmp_path):
    """Refused predictions leave the old file byte for byte; good ones then replace it."""
    path = write_submission([1, 2, 3], tmp_path / "submission.csv")
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_submission([1, 2, 30], path)
    assert path.read_bytes() == before
    write_submission([7, 8, 9, 0], path)
    np.testing.assert_array_equal(read_submission(path, 4), [7, 8, 9, 0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]


def test_a_rename_that_fails_removes_the_temporary_file(tmp_path):
    """If the final rename fails (the destination is a folder), the error propagates and the
    half-step temporary file is deleted, so only what was there before remains."""
    (tmp_path / "submission.csv").mkdir()
    with pytest.raises(OSError):
        write_submission([1, 2, 3], tmp_path / "submission.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]
    assert (tmp_path / "submission.csv").is_dir()


MALFORMED = {
    "wrong header": ("Id,Label\n1,5\n2,0\n3,9\n",
                     ["The first line is 'Id,Label'; it must be the header 'ImageId,Label'."]),
    "no header": ("1,5\n2,0\n3,9\n",
                  ["The first line is '1,5'", "ImageId 1 has no row.",
                   "The file has 2 rows after the header; expected 3."]),
    "missing id": ("ImageId,Label\n1,5\n3,9\n",
                   ["ImageId 2 has no row.", "The file has 2 rows after the header; expected 3."]),
    "duplicate id": ("ImageId,Label\n1,5\n2,0\n2,1\n3,9\n",
                     ["ImageId 2 appears more than once.", "4 rows after the header; expected 3."]),
    "id past the end": ("ImageId,Label\n1,5\n2,0\n3,9\n4,1\n",
                        ["ImageId 4 is outside 1..3.", "4 rows after the header; expected 3."]),
    "id zero": ("ImageId,Label\n0,5\n1,5\n2,0\n3,9\n", ["ImageId 0 is outside 1..3."]),
    "label 10": ("ImageId,Label\n1,10\n2,0\n3,9\n", ["ImageId 1 has a Label outside 0-9."]),
    "negative labels": ("ImageId,Label\n1,5\n2,-1\n3,-3\n",
                        ["ImageIds 2, 3 have a Label outside 0-9."]),
    "decimal label": ("ImageId,Label\n1,5\n2,3.0\n3,9\n",
                      ["Line 3 does not hold two whole numbers (ImageId,Label).",
                       "ImageId 2 has no row."]),
    "letters": ("ImageId,Label\nx,5\n2,x\n3,9\n",
                ["Lines 2, 3 do not hold two whole numbers", "ImageIds 1, 2 have no row."]),
    "not ASCII digits": ("ImageId,Label\n1,\u00b2\n2,\u0663\n3,--3\n",
                         ["Lines 2, 3, 4 do not hold two whole numbers"]),
    "three fields": ("ImageId,Label\n1,5,0\n2,0\n3,9\n", ["Line 2 does not hold two whole"]),
    "empty": ("", ["The file is empty; it needs the header ImageId,Label and 3 rows."]),
    "blank lines only": ("\n \r\n", ["The file is empty"]),
    "not UTF-8": (b"ImageId,Label\n1,5\n2,\xff\n3,9\n", ["The file is not UTF-8 text"]),
    "many missing": ("ImageId,Label\n",
                     ["ImageIds 1, 2, 3 have no row.", "0 rows after the header; expected 3."]),
}


@pytest.mark.parametrize("content, expected", MALFORMED.values(), ids=MALFORMED.keys())
def test_each_malformed_file_gets_a_sentence_naming_its_problem(tmp_path, content, expected):
    """check_submission returns one sentence per problem, each naming what is wrong, and
    read_submission raises a SubmissionError (a ValueError) that lists them all."""
    path = write_bytes(tmp_path / "submission.csv", content)
    problems = check_submission(path, 3)
    for fragment in expected:
        assert any(fragment in problem for problem in problems), (fragment, problems)
    assert all(problem.endswith(".") and "\n" not in problem for problem in problems)
    with pytest.raises(SubmissionError) as error:
        read_submission(path, 3)
    assert isinstance(error.value, ValueError)
    assert all(problem in str(error.value) for problem in problems)


def test_a_missing_file_says_how_to_write_one(tmp_path):
    """No file at the path gives a sentence naming the path and write_submission."""
    path = tmp_path / "submission.csv"
    [problem] = check_submission(path, 3)
    assert str(path) in problem and "write_submission(predictions, path)" in problem
    with pytest.raises(SubmissionError, match="There is no file"):
        read_submission(path, 3)


def test_a_long_list_of_offenders_is_cut_short():
    """Only the first five offenders are named, then how many more there are (the course
    key, 1000 rows, checked as if there were 1003 or 990 images)."""
    assert "ImageIds 1001, 1002, 1003 have no row." in check_submission(KEY, 1003)
    many = check_submission(KEY, 990)
    assert "ImageIds 991, 992, 993, 994, 995 and 5 more are outside 1..990." in many


@pytest.mark.parametrize(
    "content",
    [
        "\ufeff" + GOOD,
        GOOD.replace("\n", "\r\n"),
        "\ufeff" + GOOD.replace("\n", "\r\n"),
        "ImageId, Label\n1, 5\n2 ,0\n3,9\n\n",
    ],
    ids=["byte-order mark", "CRLF", "both", "spaces and a trailing blank line"],
)
def test_windows_and_spreadsheet_variants_are_accepted(tmp_path, content):
    """A UTF-8 byte-order mark, Windows line endings and stray spaces raise no problem."""
    path = write_bytes(tmp_path / "submission.csv", content)
    assert check_submission(path, 3) == []
    np.testing.assert_array_equal(read_submission(path, 3), [5, 0, 9])


@pytest.mark.parametrize("right", range(11))
def test_accuracy_is_the_exact_fraction_right(tmp_path, right):
    """k of 10 digits matching the key gives exactly k / 10."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, size=10)
    predictions = truth.copy()
    wrong = rng.permutation(10)[: 10 - right]
    predictions[wrong] = (truth[wrong] + rng.integers(1, 10, size=len(wrong))) % 10
    key = write_submission(truth, tmp_path / "key.csv")
    submission = write_submission(predictions, tmp_path / "submission.csv")
    assert submission_accuracy(submission, key) == right / 10


def test_accuracy_refuses_a_submission_of_the_wrong_length(tmp_path):
    """A submission for fewer images than the key cannot be scored, and says so."""
    key = write_submission(np.arange(10), tmp_path / "key.csv")
    submission = write_submission(np.arange(9), tmp_path / "submission.csv")
    with pytest.raises(SubmissionError, match="ImageId 10 has no row"):
        submission_accuracy(submission, key)


def test_the_course_key_is_a_valid_balanced_submission():
    """keys/digit-lab.csv is itself a valid submission: 1000 rows, 100 of each digit."""
    labels = read_submission(KEY, 1000)
    assert labels.shape == (1000,)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 100))
    assert submission_accuracy(KEY, KEY) == 1.0
