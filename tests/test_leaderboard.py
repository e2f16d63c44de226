"""The class leaderboard, run for real (`digitlab leaderboard`) on a generated class of 30
students scored against the course's answer key: good files of known accuracy, exact ties,
malformed files of many kinds and missing ones. The expected accuracies and ranks are
computed here from the predictions the test wrote, never read back from the command."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from course_builder import tree_digest

from digitlab.cli import main
from digitlab.competition import read_answer_key, write_submission
from digitlab.course.checks.score_submission import KEY_VARIABLE
from digitlab.course.competition import leaderboard
from digitlab.course.competition.leaderboard import public_mask

REPO = Path(__file__).resolve().parents[1]
KEY = REPO / "keys" / "digit-lab.csv"
ASSIGNMENT = "digit-lab"
TRUTH = read_answer_key(KEY)
PUBLIC = public_mask(len(TRUTH))  # the default split: fraction 0.25, DEFAULT_SEED
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def wrong_at(ids: np.ndarray) -> np.ndarray:
    """The key's digits with those positions (0-based) changed to another digit."""
    predictions = TRUTH.copy()
    predictions[ids] = (TRUTH[ids] + 1 + ids % 9) % 10
    return predictions


def wrong_count(count: int, seed: int) -> np.ndarray:
    return wrong_at(np.random.default_rng(seed).choice(len(TRUTH), count, replace=False))


PRIVATE_IDS, PUBLIC_IDS = np.flatnonzero(~PUBLIC), np.flatnonzero(PUBLIC)
# Predictions of the students whose files are valid, by student id.
GOOD = {
    "s01": TRUTH.copy(),
    **{f"s{index:02d}": wrong_count(count, seed=index)
       for index, count in enumerate([15, 40, 75, 110, 160, 230, 320, 450, 600, 900], start=2)},
    # Exact ties: the same file twice.
    "tie-a": wrong_count(100, seed=99), "tie-b": wrong_count(100, seed=99),
    # Equal on the private part, not on the public one: tied on the final board only.
    "priv-a": wrong_at(PRIVATE_IDS[:50]),
    "priv-b": wrong_at(np.r_[PRIVATE_IDS[100:150], PUBLIC_IDS[:20]]),
}
# Students whose files cannot be scored: the file's bytes and a phrase of the reason.
MALFORMED = {
    "m-header": (b"Id,Label\n" + b"".join(b"%d,1\n" % i for i in range(1, 1001)),
                 "it must be the header 'ImageId,Label'"),
    "m-duplicate": (b"ImageId,Label\n1,1\n1,2\n" + b"".join(b"%d,1\n" % i
                                                          for i in range(3, 1001)),
                    "ImageId 1 appears more than once"),
    "m-label": (b"ImageId,Label\n" + b"".join(b"%d,10\n" % i for i in range(1, 1001)),
                "have a Label outside 0-9"),
    "m-float": (b"ImageId,Label\n" + b"".join(b"%d,3.0\n" % i for i in range(1, 1001)),
                "do not hold two whole numbers"),
    "m-empty": (b"", "The file is empty"),
    "m-short": (b"ImageId,Label\n" + b"".join(b"%d,1\n" % i for i in range(1, 501)),
                "The file has 500 rows after the header; expected 1000"),
    "m-index": (b",ImageId,Label\n" + b"".join(b"%d,%d,1\n" % (i - 1, i)
                                              for i in range(1, 1001)),
                "(a pandas index?)"),
    "m-binary": (b"ImageId,Label\n1,\xff\xfe\n", "The file is not UTF-8 text"),
    "m-zero-based": (b"ImageId,Label\n" + b"".join(b"%d,1\n" % i for i in range(1000)),
                     "ids start at 1, not 0"),
}
REASONS = {
    **{student: reason for student, (_, reason) in MALFORMED.items()},
    "x-folder": "submission.csv is a folder, not a file",
    "x-huge": "was not read",
    "x-link": "is a symbolic link",
    "x-no-file": "There is no file at submission.csv",
    "x-nothing": "Nothing was collected for digit-lab.",
}
STUDENTS = sorted([*GOOD, "w-windows", *REASONS])


def build_class(course: Path) -> None:
    """submitted/<student>/digit-lab/submission.csv for every student, plus the key."""
    (course / "keys").mkdir(parents=True)
    (course / "keys" / "digit-lab.csv").write_bytes(KEY.read_bytes())
    submitted = course / "submitted"
    for student in STUDENTS:
        (submitted / student / ASSIGNMENT).mkdir(parents=True)
    for student, predictions in GOOD.items():
        write_submission(predictions, submitted / student / ASSIGNMENT / "submission.csv")
    # What Excel on Windows saves: a byte-order mark and CRLF line ends. It must be accepted.
    rows = "".join(f"{i},{digit}\r\n" for i, digit in enumerate(wrong_count(55, 7), 1))
    (submitted / "w-windows" / ASSIGNMENT / "submission.csv").write_bytes(
        ("\ufeffImageId,Label\r\n" + rows).encode("utf-8"))
    for student, (content, _) in MALFORMED.items():
        (submitted / student / ASSIGNMENT / "submission.csv").write_bytes(content)
    (submitted / "x-folder" / ASSIGNMENT / "submission.csv").mkdir()
    with (submitted / "x-huge" / ASSIGNMENT / "submission.csv").open("wb") as file:
        file.truncate(leaderboard.MAX_BYTES + 1)  # sparse: large, but quick to make
    (submitted / "x-link" / ASSIGNMENT / "submission.csv").symlink_to(KEY)
    (submitted / "x-nothing" / ASSIGNMENT).rmdir()
    (submitted / ".ipynb_checkpoints").mkdir()  # not a student


def read_csv(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """(columns, {student: row})."""
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    return list(reader.fieldnames), {row["student"]: row for row in rows}


def expected_ranks(accuracies: dict[str, float]) -> dict[str, int]:
    """Competition ranks the slow, obvious way: 1 + how many did strictly better."""
    return {student: 1 + sum(other > value for other in accuracies.values())
            for student, value in accuracies.items()}


def accuracies(part: np.ndarray | None = None) -> dict[str, float]:
    """Each valid student's accuracy on the images in part (all if None)."""
    chosen = np.ones(len(TRUTH), bool) if part is None else part
    valid = {**GOOD, "w-windows": wrong_count(55, 7)}
    return {student: float(np.mean(predictions[chosen] == TRUTH[chosen]))
            for student, predictions in valid.items()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    build_class(course)
    return course


@pytest.fixture(scope="module")
def final(course) -> dict:
    """The final board, run in this process: exit status, output, files, submitted/ hashes."""
    before = tree_digest(course / "submitted")
    out = course / "out-final"
    status, printed = run_main(["leaderboard", ASSIGNMENT, "--course", str(course),
                                "--out", str(out)])
    return {"status": status, "printed": printed, "out": out, "before": before,
            "after": tree_digest(course / "submitted")}


def run_main(argv: list[str]) -> tuple[int, str]:
    """main(argv) with its printout captured."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(argv)
    return status, printed.getvalue()


def test_the_class_has_about_thirty_students_of_every_kind():
    assert 28 <= len(STUDENTS) <= 32
    assert PUBLIC.sum() == 250 and len(TRUTH) == 1000


def test_the_final_board_ranks_by_private_accuracy_with_shared_ranks(final):
    """Every valid student (the Windows file too) is ranked by private accuracy, ties
    sharing a rank and the next rank skipping; all accuracies match the test's own count."""
    assert final["status"] == 0, final["printed"]
    columns, rows = read_csv(final["out"] / "digit-lab-final.csv")
    assert columns == ["rank", "student", "private_accuracy", "public_accuracy", "accuracy",
                       "problems"]
    private, public, overall = accuracies(~PUBLIC), accuracies(PUBLIC), accuracies()
    ranks = expected_ranks(private)
    for student in private:
        row = rows[student]
        assert int(row["rank"]) == ranks[student], student
        assert row["private_accuracy"] == f"{private[student]:.6f}"
        assert row["public_accuracy"] == f"{public[student]:.6f}"
        assert row["accuracy"] == f"{overall[student]:.6f}"
        assert row["problems"] == ""
    # The ties, checked directly as well.
    assert rows["tie-a"]["rank"] == rows["tie-b"]["rank"]
    assert rows["priv-a"]["rank"] == rows["priv-b"]["rank"]
    assert rows["priv-a"]["public_accuracy"] != rows["priv-b"]["public_accuracy"]
    tie = int(rows["tie-a"]["rank"])
    assert min(int(r["rank"]) for r in rows.values() if r["rank"] and int(r["rank"]) > tie) \
        == tie + 2
    assert rows["s01"]["rank"] == "1" and rows["s01"]["accuracy"] == "1.000000"
    # Best first in the file, students with problems last.
    ordered = [row["rank"] for row in rows.values()]
    ranked = [int(rank) for rank in ordered if rank]
    assert ranked == sorted(ranked) and ordered[len(ranked):] == [""] * len(REASONS)


def test_every_student_with_a_problem_is_listed_with_the_reason(final):
    """Missing and malformed submissions have no rank and their reason, worded without the
    course's paths; none of them stopped the others being scored."""
    _, rows = read_csv(final["out"] / "digit-lab-final.csv")
    assert sorted(rows) == STUDENTS
    for student, reason in REASONS.items():
        assert rows[student]["rank"] == "" and rows[student]["accuracy"] == ""
        assert reason in rows[student]["problems"], (student, rows[student]["problems"])
    text = (final["out"] / "digit-lab-final.csv").read_text(encoding="utf-8")
    assert "submitted" not in text and str(final["out"].parent) not in text
    for student in REASONS:
        assert student in final["printed"]
    assert f"{len(STUDENTS)} students: {len(GOOD) + 1} scored, {len(REASONS)} with problems" \
        in final["printed"]


def test_the_figure_is_a_png_and_submitted_is_untouched(final):
    """The PNG is a real PNG (matplotlib reads it back), and scoring changed nothing under
    submitted/ (same paths, modes and bytes)."""
    from matplotlib.image import imread

    png = final["out"] / "digit-lab-final.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = imread(png).shape
    assert width > 400 and height > 200
    assert final["after"] == final["before"]
    assert sorted(p.name for p in final["out"].iterdir()) == ["digit-lab-final.csv",
                                                             "digit-lab-final.png"]


def test_the_public_board_ranks_by_public_accuracy_and_hides_the_rest(course):
    """--board public ranks by the public part and has no column (nor number) from which
    the private part follows."""
    out = course / "out-public"
    status, printed = run_main(["leaderboard", ASSIGNMENT, "--course", str(course),
                                "--board", "public", "--out", str(out)])
    assert status == 0
    columns, rows = read_csv(out / "digit-lab-public.csv")
    assert columns == ["rank", "student", "public_accuracy", "problems"]
    public, ranks = accuracies(PUBLIC), expected_ranks(accuracies(PUBLIC))
    for student in public:
        assert int(rows[student]["rank"]) == ranks[student]
        assert rows[student]["public_accuracy"] == f"{public[student]:.6f}"
    assert rows["priv-a"]["rank"] != rows["priv-b"]["rank"]  # tied only on the private part
    secret_numbers = {f"{value:.6f}" for value in [*accuracies(~PUBLIC).values(),
                                                    *accuracies().values()]}
    secret_numbers -= {f"{value:.6f}" for value in public.values()}
    assert secret_numbers and not any(number in printed for number in secret_numbers)
    assert not any(number in (out / "digit-lab-public.csv").read_text(encoding="utf-8")
                   for number in secret_numbers)
    assert (out / "digit-lab-public.png").read_bytes()[:8] == PNG_SIGNATURE


def test_anonymised_names_are_stable_secret_and_hide_the_ids(course):
    """--anonymise writes a posting copy with pseudonyms: the same on every run, different
    under another secret, containing no student id; the secret is created once, mode 600;
    the instructor's CSV maps each id to its pseudonym."""
    secret = course / "keys" / leaderboard.SECRET_FILE
    assert not secret.exists()
    runs = []
    for number in range(2):
        out = course / f"out-anonymised-{number}"
        status, _ = run_main(["leaderboard", ASSIGNMENT, "--course", str(course),
                              "--anonymise", "--out", str(out)])
        assert status == 0
        runs.append(out)
    assert secret.stat().st_mode & 0o777 == 0o600
    posted = [(out / "digit-lab-final-anonymised.csv").read_text(encoding="utf-8")
              for out in runs]
    assert posted[0] == posted[1]
    _, anonymous = read_csv(runs[0] / "digit-lab-final-anonymised.csv")
    assert all(re.fullmatch(r"anon-[0-9a-f]{8}", name) for name in anonymous)
    assert len(anonymous) == len(STUDENTS)
    assert not any(student in posted[0] for student in STUDENTS)
    _, named = read_csv(runs[0] / "digit-lab-final.csv")
    for row in named.values():
        assert anonymous[row["pseudonym"]]["rank"] == row["rank"]
        assert anonymous[row["pseudonym"]]["private_accuracy"] == row["private_accuracy"]
    other = leaderboard.pseudonyms(STUDENTS, b"another secret of enough length")
    assert not set(other.values()) & set(anonymous)


def test_the_console_script_agrees_with_the_hidden_tests_scorer(course, final):
    """The installed `digitlab` command, as a subprocess, writes the same board as main();
    and for a few files its accuracy is exactly what notebook 05's hidden test prints."""
    out = course / "out-script"
    script = Path(sys.executable).parent / "digitlab"
    run = subprocess.run([str(script), "leaderboard", ASSIGNMENT, "--out", str(out)],
                         cwd=course, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != KEY_VARIABLE})
    assert run.returncode == 0, run.stdout + run.stderr
    assert (out / "digit-lab-final.csv").read_bytes() \
        == (final["out"] / "digit-lab-final.csv").read_bytes()
    _, rows = read_csv(out / "digit-lab-final.csv")
    for student in ["s01", "s05", "tie-a", "w-windows"]:
        folder = course / "submitted" / student / ASSIGNMENT
        scored = subprocess.run(
            [sys.executable, "-I", "-m", "digitlab.course.checks.score_submission",
             "submission.csv"],
            cwd=folder, capture_output=True, text=True, timeout=60,
            env={**os.environ, KEY_VARIABLE: str(course / "keys" / "digit-lab.csv")})
        assert scored.stdout == f"accuracy {rows[student]['accuracy']}\n", student


@pytest.mark.parametrize("key", ["missing", "malformed"])
def test_a_missing_or_malformed_key_stops_with_a_message(course, tmp_path, key):
    """No usable key: exit status 1, a message naming the key and its problem, no board."""
    path = tmp_path / "key.csv"
    if key == "malformed":
        path.write_text("ImageId,Label\n1,5\n2,11\n", encoding="utf-8")
    status, printed = run_main(["leaderboard", ASSIGNMENT, "--course", str(course),
                                "--key", str(path), "--out", str(tmp_path / "out")])
    assert status == 1
    assert printed.startswith(f"The answer key {path} cannot be used:")
    assert {"missing": "There is no file", "malformed": "ImageId 2 has a Label"}[key] in printed
    assert not (tmp_path / "out").exists()


def test_the_key_comes_from_the_environment_before_the_course_folder(course, tmp_path,
                                                                     monkeypatch):
    """Without --key, DIGITLAB_ANSWER_KEY names the key: here a key of the wrong length, so
    every student fails in the same, telling way."""
    short = write_submission(TRUTH[:10], tmp_path / "short-key.csv")
    monkeypatch.setenv(KEY_VARIABLE, str(short))
    status, _ = run_main(["leaderboard", ASSIGNMENT, "--course", str(course),
                          "--out", str(tmp_path / "out")])
    assert status == 0
    _, rows = read_csv(tmp_path / "out" / "digit-lab-final.csv")
    assert "ImageIds 11, 12, 13, 14, 15 and 985 more are outside 1..10." \
        in rows["s01"]["problems"]


def test_without_students_it_says_to_collect(tmp_path):
    """No submitted/ folder, or one with no student's folder in it: exit status 1 and the
    command that collects the submissions."""
    argv = ["leaderboard", ASSIGNMENT, "--course", str(tmp_path), "--key", str(KEY)]
    status, printed = run_main(argv)
    assert status == 1 and "There is no folder" in printed
    assert "nbgrader collect digit-lab" in printed
    (tmp_path / "submitted" / ".ipynb_checkpoints").mkdir(parents=True)
    status, printed = run_main(argv)
    assert status == 1 and "There are no students' folders" in printed
    assert not (tmp_path / "leaderboard").exists()


def test_competition_ranks_share_and_skip():
    assert leaderboard.competition_ranks([0.9, 0.8, 0.8, 0.7, 1.0]) == [2, 3, 3, 5, 1]
    assert leaderboard.competition_ranks([0.5, 0.5, 0.5]) == [1, 1, 1]
    assert leaderboard.competition_ranks([]) == []


def test_the_public_part_is_fixed_by_the_seed():
    """The same seed gives the same 250 images; another seed or fraction other ones."""
    np.testing.assert_array_equal(public_mask(1000), public_mask(1000, 0.25,
                                                                 leaderboard.DEFAULT_SEED))
    assert (public_mask(1000) != public_mask(1000, seed=1)).any()
    assert public_mask(1000, 0.3).sum() == 300
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        public_mask(1000, 1.0)
    with pytest.raises(ValueError, match="empty"):
        public_mask(3, 0.1)
