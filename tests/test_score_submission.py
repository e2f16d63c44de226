"""The competition scorer run for real, as notebook 05's hidden tests run it in the kernel:
a fresh `python -I -m digitlab.course.checks.score_submission submission.csv` in the submission's
folder, with the key's path in DIGITLAB_ANSWER_KEY (which -I does not drop: it ignores only
PYTHON*); and as the grader runs it outside the kernel, through `outside`."""

import os
import subprocess
import sys

import numpy as np
import pytest

from digitlab.competition import submission_accuracy, write_submission
from digitlab.course.checks.hidden_check import NOT_CHECKED_HERE, ONLY_OUTSIDE, check
from digitlab.course.checks.score_submission import KEY_VARIABLE, KeyUnavailable, outside

WITHOUT_KEY = {name: value for name, value in os.environ.items() if name != KEY_VARIABLE}


def score(folder, key=None, *arguments: str) -> subprocess.CompletedProcess:
    """Run the scorer in folder on submission.csv (or on arguments), key as its answer key."""
    env = WITHOUT_KEY if key is None else {**WITHOUT_KEY, KEY_VARIABLE: str(key)}
    return subprocess.run(
        [sys.executable, "-I", "-m", "digitlab.course.checks.score_submission",
         *(arguments or ("submission.csv",))],
        cwd=folder, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def key(tmp_path):
    """An answer key of 20 seeded digits, kept outside the submission's folder."""
    (tmp_path / "instructor").mkdir()
    truth = np.random.default_rng(0).integers(0, 10, size=20)
    return write_submission(truth, tmp_path / "instructor" / "key.csv")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "student").mkdir()
    return tmp_path / "student"


def test_prints_the_accuracy_and_agrees_with_submission_accuracy(folder, key):
    """17 of 20 right prints `accuracy 0.850000`, exits 0, and matches the library's score."""
    truth = np.random.default_rng(0).integers(0, 10, size=20)
    predictions = truth.copy()
    predictions[[2, 11, 19]] = (truth[[2, 11, 19]] + 1) % 10
    submission = write_submission(predictions, folder / "submission.csv")
    run = score(folder, key)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "accuracy 0.850000\n" and run.stderr == ""
    assert float(run.stdout.split()[1]) == submission_accuracy(submission, key) == 17 / 20


def test_a_windows_submission_scores_the_same_as_the_library_says(folder, key):
    """A BOM and CRLF file of seeded guesses gets the same accuracy in both ways of scoring."""
    guesses = np.random.default_rng(1).integers(0, 10, size=20)
    rows = "".join(f"{i},{label}\r\n" for i, label in enumerate(guesses, 1))
    submission = folder / "submission.csv"
    submission.write_bytes(("\ufeffImageId,Label\r\n" + rows).encode("utf-8"))
    run = score(folder, key)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == f"accuracy {submission_accuracy(submission, key):.6f}\n"


@pytest.mark.parametrize("where", ["unset", "empty", "missing file"])
def test_without_a_key_it_leaves_the_scoring_to_the_grader(folder, key, where):
    """No key (variable unset, empty, or naming no file) exits with ONLY_OUTSIDE, saying
    the grader scores the file; it names the variable, never the key's path, and prints no
    accuracy."""
    write_submission(np.zeros(20, dtype=int), folder / "submission.csv")
    given = {"unset": None, "empty": "", "missing file": key.with_name("gone.csv")}[where]
    run = score(folder, given)
    assert run.returncode == ONLY_OUTSIDE
    assert KEY_VARIABLE in run.stdout and "scored by the grader" in run.stdout
    assert "accuracy" not in run.stdout and str(key.parent) not in run.stdout


def test_a_malformed_submission_fails_listing_its_problems(folder, key):
    """A submission with a bad label and a missing row exits 1 and prints both problems."""
    rows = "".join(f"{i},3\n" for i in range(1, 19)) + "19,12\n"
    (folder / "submission.csv").write_text("ImageId,Label\n" + rows, encoding="utf-8")
    run = score(folder, key)
    assert run.returncode == 1
    assert "submission.csv cannot be scored" in run.stdout
    assert "ImageId 19 has a Label outside 0-9." in run.stdout
    assert "ImageId 20 has no row." in run.stdout
    assert "accuracy" not in run.stdout and "Traceback" not in run.stderr


def test_a_missing_submission_fails_saying_how_to_write_it(folder, key):
    """No submission.csv in the folder exits 1 and points to write_submission."""
    run = score(folder, key)
    assert run.returncode == 1
    assert "There is no file at submission.csv" in run.stdout


def test_the_wrong_number_of_arguments_prints_usage(folder, key):
    """Two file names instead of one exits 2 with the usage line."""
    run = score(folder, key, "a.csv", "b.csv")
    assert run.returncode == 2 and run.stderr.startswith("usage:")


def seventeen_of_twenty(folder):
    """A submission with 17 of the key fixture's 20 digits right."""
    predictions = np.random.default_rng(0).integers(0, 10, size=20)
    predictions[[2, 11, 19]] = (predictions[[2, 11, 19]] + 1) % 10
    return write_submission(predictions, folder / "submission.csv")


@pytest.mark.parametrize(("at_least", "status", "printed"), [
    ("0.85", 0, "Competition accuracy: 85.0%\n"),
    ("0.9", 1, "Competition accuracy: 85.0%. Below 90%.\n")])
def test_a_threshold_passes_at_it_and_fails_below(folder, key, at_least, status, printed):
    """--at-least passes an accuracy equal to it and fails above, printing the accuracy."""
    seventeen_of_twenty(folder)
    run = score(folder, key, "submission.csv", "--at-least", at_least)
    assert (run.returncode, run.stdout) == (status, printed), run.stderr


def test_the_kernels_check_passes_or_fails_with_the_scorers_report(folder, key, monkeypatch):
    """hidden_check.check, as a hidden test cell calls it: a pass prints the report, a
    failure raises AssertionError with it, and without a key it passes saying the grader
    scores the file."""
    seventeen_of_twenty(folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    check("score_submission", "submission.csv", "--at-least", "0.85")
    with pytest.raises(AssertionError, match=r"Competition accuracy: 85\.0%\. Below 90%\."):
        check("score_submission", "submission.csv", "--at-least", "0.9")
    monkeypatch.delenv(KEY_VARIABLE)
    check("score_submission", "submission.csv", "--at-least", "0.9")


def test_the_kernels_check_says_when_the_grader_judges(folder, capfd, monkeypatch):
    """Without a key in the kernel, the cell's output says that it was not checked there."""
    monkeypatch.chdir(folder)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    check("score_submission", "submission.csv", "--at-least", "0.85")
    assert capfd.readouterr().out.startswith(NOT_CHECKED_HERE)


def test_the_grader_scores_the_file_in_the_folder_it_is_given(folder, key, monkeypatch,
                                                              tmp_path):
    """outside() scores folder/submission.csv, whatever the working folder holds, and its
    reports name the file without the folder."""
    seventeen_of_twenty(folder)
    monkeypatch.chdir(tmp_path)  # no submission.csv here
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    assert outside(["submission.csv", "--at-least", "0.85"], folder) == (
        True, "Competition accuracy: 85.0%")
    passed, report = outside(["missing.csv"], folder)
    assert not passed and "There is no file at missing.csv:" in report
    assert str(folder) not in report


def test_the_grader_without_a_key_stops_instead_of_failing_the_cell(folder, monkeypatch):
    """A key the grader cannot read is the course's problem: KeyUnavailable, not a 0."""
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(KeyUnavailable, match=KEY_VARIABLE):
        outside(["submission.csv"], folder)


def test_the_grader_refuses_a_link_in_place_of_the_file(folder, key, monkeypatch):
    """A submitted submission.csv that links to the answer key is not scored as a file."""
    (folder / "submission.csv").symlink_to(key)
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    assert outside(["submission.csv"], folder) == (
        False, "submission.csv is a symbolic link; submit the file itself.")
