"""Submission files: written whole or not at all, every malformed file refused with a sentence
that names its problem, and accuracy counted exactly against a key."""

import os
from pathlib import Path

import numpy as np
import pytest

import digitlab.atomic
from digitlab.competition import (
    HEADER,
    SubmissionError,
    check_submission,
    read_answer_key,
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


def test_a_write_that_fails_half_way_keeps_the_previous_submission(tmp_path, monkeypatch):
    """The disk filling up after half the rows are written (OSError), or Ctrl-C at that
    moment (KeyboardInterrupt), leaves the old file byte for byte and no *.partial file."""
    path = write_submission([1, 2, 3], tmp_path / "submission.csv")
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfThenFail:
        """The temporary file, except that a write stores half its text and then fails."""

        def __init__(self, file, error):
            self.file, self.error = file, error

        def __enter__(self):
            return self

        def __exit__(self, *exception):
            self.file.close()

        def write(self, text):
            self.file.write(text[: len(text) // 2])
            self.file.flush()
            raise self.error

    for error in (OSError(28, "No space left on device"), KeyboardInterrupt()):
        monkeypatch.setattr(os, "fdopen", lambda *a, error=error, **k: HalfThenFail(
            real_fdopen(*a, **k), error))
        with pytest.raises(type(error)):
            write_submission(np.arange(1000) % 10, path)
        monkeypatch.setattr(os, "fdopen", real_fdopen)
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


def test_an_interrupted_rename_keeps_the_previous_submission(tmp_path, monkeypatch):
    """Ctrl-C just before the rename that would replace the file: the old file stays whole
    and the fully written temporary file is removed."""
    path = write_submission([1, 2, 3], tmp_path / "submission.csv")

    def interrupted(source, destination):
        assert Path(source).read_text(encoding="utf-8").count("\n") == 1001  # written whole
        raise KeyboardInterrupt

    monkeypatch.setattr(digitlab.atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_submission(np.arange(1000) % 10, path)
    assert path.read_text(encoding="utf-8") == "ImageId,Label\n1,1\n2,2\n3,3\n"
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


def test_predictions_that_fail_half_way_keep_the_previous_submission(tmp_path):
    """Predictions are taken whole before a byte is written: a sequence that raises at its
    501st digit, or holds a bad digit there, leaves the old file and no temporary file."""

    class Crashing:
        """1,000 predictions whose model crashes half way through."""

        def __len__(self):
            return 1000

        def __getitem__(self, index):
            if index >= 500:
                raise RuntimeError("the model crashed")
            return 7

    path = write_submission([1, 2, 3], tmp_path / "submission.csv")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="crashed"):
        write_submission(Crashing(), path)
    with pytest.raises(ValueError, match="digits 0-9"):
        write_submission(np.r_[np.zeros(500, int), 10, np.zeros(499, int)], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


MALFORMED = {
    "wrong header": ("Id,Label\n1,5\n2,0\n3,9\n",
                     ["The first line is 'Id,Label'; it must be the header 'ImageId,Label'."]),
    "no header": ("1,5\n2,0\n3,9\n",
                  ["The first line is '1,5'", "ImageId 1 has no row.",
                   "The file has 2 rows after the header; expected 3, one per image."]),
    "missing id": ("ImageId,Label\n1,5\n3,9\n",
                   ["ImageId 2 has no row.", "The file has 2 rows after the header; expected 3"]),
    "duplicate id": ("ImageId,Label\n1,5\n2,0\n2,1\n3,9\n",
                     ["ImageId 2 appears more than once; keep one row per image.",
                      "4 rows after the header; expected 3"]),
    "id past the end": ("ImageId,Label\n1,5\n2,0\n3,9\n4,1\n",
                        ["ImageId 4 is outside 1..3.", "4 rows after the header; expected 3"]),
    "id zero": ("ImageId,Label\n0,5\n1,5\n2,0\n3,9\n",
                ["ImageId 0 is outside 1..3; ids start at 1, not 0."]),
    "ids from zero": ("ImageId,Label\n0,5\n1,0\n2,9\n",
                      ["ImageId 0 is outside 1..3; ids start at 1, not 0.",
                       "ImageId 3 has no row."]),
    "one row": ("ImageId,Label\n1,5\n",
                ["ImageIds 2, 3 have no row.", "The file has 1 row after the header; expected 3"]),
    "too many rows": ("ImageId,Label\n1,5\n2,0\n3,9\n4,1\n5,2\n6,3\n7,4\n8,5\n",
                      ["ImageIds 4, 5, 6, 7, 8 are outside 1..3.",
                       "The file has 8 rows after the header; expected 3, one per image."]),
    "pandas index column": (",ImageId,Label\n0,1,5\n1,2,0\n2,3,9\n",
                            ["the file has an extra first column (a pandas index?)",
                             "DataFrame.to_csv(path, index=False)",
                             "Lines 2, 3, 4 do not hold two whole numbers (ImageId,Label) such "
                             "as 1,7."]),
    "semicolons": ("ImageId;Label\n1;5\n2;0\n3;9\n",
                   ["it must be the header 'ImageId,Label'", "Lines 2, 3, 4 do not hold",
                    "ImageIds 1, 2, 3 have no row."]),
    "labels and ids swapped": ("Label,ImageId\n5,1\n0,2\n9,3\n",
                               ["The first line is 'Label,ImageId'"]),
    "label 10": ("ImageId,Label\n1,10\n2,0\n3,9\n", ["ImageId 1 has a Label outside 0-9."]),
    "negative labels": ("ImageId,Label\n1,5\n2,-1\n3,-3\n",
                        ["ImageIds 2, 3 have a Label outside 0-9."]),
    "decimal label": ("ImageId,Label\n1,5\n2,3.0\n3,9\n",
                      ["Line 3 does not hold two whole numbers (ImageId,Label) such as 1,7.",
                       "ImageId 2 has no row."]),
    "letters": ("ImageId,Label\nx,5\n2,x\n3,9\n",
                ["Lines 2, 3 do not hold two whole numbers", "ImageIds 1, 2 have no row."]),
    "not ASCII digits": ("ImageId,Label\n1,\u00b2\n2,\u0663\n3,--3\n",
                         ["Lines 2, 3, 4 do not hold two whole numbers"]),
    "three fields": ("ImageId,Label\n1,5,0\n2,0\n3,9\n", ["Line 2 does not hold two whole"]),
    "empty": ("", ["The file is empty; it needs the header ImageId,Label and 3 rows."]),
    "blank lines only": ("\n \r\n", ["The file is empty"]),
    "byte-order mark only": ("\ufeff", ["The file is empty"]),
    "float labels": ("ImageId,Label\n1,5.0\n2,0.0\n3,9.0\n",
                     ["Lines 2, 3, 4 do not hold two whole numbers", "ImageIds 1, 2, 3 have no"]),
    "a missing label": ("ImageId,Label\n1,5\n2,\n3,9\n", ["Line 3 does not hold"]),
    "not UTF-8": (b"ImageId,Label\n1,5\n2,\xff\n3,9\n", ["The file is not UTF-8 text"]),
    "many missing": ("ImageId,Label\n",
                     ["ImageIds 1, 2, 3 have no row.",
                      "0 rows after the header; expected 3, one per image."]),
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


def test_a_folder_instead_of_a_file_says_so(tmp_path):
    """A folder named submission.csv is named as a folder, not as a missing file."""
    (tmp_path / "submission.csv").mkdir()
    [problem] = check_submission(tmp_path / "submission.csv", 3)
    assert "is a folder, not a file" in problem and "write_submission" in problem


def test_an_unreadable_file_says_why(tmp_path, monkeypatch):
    """A file the reader may not open (permissions) gives a sentence, not a traceback."""
    path = write_bytes(tmp_path / "submission.csv", GOOD)

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    assert check_submission(path, 3) == [
        "The file cannot be read (Permission denied); check its permissions."]


def test_the_error_carries_the_same_sentences_as_the_check(tmp_path):
    """SubmissionError.problems is exactly check_submission's list, so callers (the class
    leaderboard) need not parse the message."""
    path = write_bytes(tmp_path / "submission.csv", MALFORMED["ids from zero"][0])
    with pytest.raises(SubmissionError) as error:
        read_submission(path, 3)
    assert error.value.problems == check_submission(path, 3) and len(error.value.problems) == 2


@pytest.mark.parametrize(
    "content, says",
    [(None, "There is no file"), ("", "The file is empty"), ("ImageId,Label\n", "ImageId 1 has"),
     ("ImageId,Label\n1,5\n2,x\n", "Line 3 does not hold")],
    ids=["missing", "empty", "header only", "malformed"],
)
def test_an_unusable_answer_key_is_refused(tmp_path, content, says):
    """read_answer_key refuses a missing, empty, row-less or malformed key with its reason."""
    key = tmp_path / "key.csv"
    if content is not None:
        write_bytes(key, content)
    with pytest.raises(SubmissionError) as error:
        read_answer_key(key)
    assert any(says in problem for problem in error.value.problems), error.value.problems


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
