"""The class leaderboard of the competition: every collected submission scored against the
answer key, Kaggle-style, on a public and a private part of the competition images.

Kaggle's digit recognizer shows a public leaderboard during the competition, scored on about
25% of the test images, and ranks finally by the other 75% (private), so tuning against the
public board does not pay. Here the public images are chosen by a fixed seed, so every run
ranks on the same images. The seed below is public (this file ships in the package): for a
competition where students could tune against the posted public board, pass your own seed and
keep it with the key.

Pure functions over paths and arrays; `digitlab leaderboard` (digitlab.cli) calls them, and
leaderboard_plot draws the figure. A submission is read by the same function as notebook
05's hidden tests (digitlab.competition.read_submission), and the accuracy on all
images is computed as digitlab.competition.submission_accuracy computes it, so the two agree.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlab.competition import SubmissionError, read_submission
from digitlab.course.layout import CourseLayout

SUBMISSION = "submission.csv"
PUBLIC_FRACTION = 0.25  # Kaggle's digit recognizer: "approximately 25% of the test data"
DEFAULT_SEED = 2026
# A valid submission of Kaggle's 28,000 images is about 230 kB; refusing anything far larger
# keeps one runaway file from filling memory while the class is scored.
MAX_BYTES = 5_000_000
BOARDS = ("final", "public")
# The accuracy each board ranks by.
RANKED_BY = {"final": "private", "public": "public"}
# The public board must not reveal the private part, nor the accuracy on all images, from
# which the private one follows.
COLUMNS = {
    "final": ("rank", "student", "private_accuracy", "public_accuracy", "accuracy", "problems"),
    "public": ("rank", "student", "public_accuracy", "problems"),
}
SECRET_FILE = "leaderboard-secret.txt"


@dataclass(frozen=True)
class Score:
    """One student's result: accuracies on all, public and private images, or problems.

    The accuracies are None exactly when problems is not empty.
    """

    student: str
    problems: tuple[str, ...] = ()
    accuracy: float | None = None
    public: float | None = None
    private: float | None = None


@dataclass(frozen=True)
class Row:
    """One line of a board: a rank (None for a student with problems) and the score."""

    rank: int | None
    score: Score


def find_submissions(course: str | Path, assignment: str) -> dict[str, Path]:
    """{student: path of their submission.csv} for every folder under course/submitted/.

    The path is where nbgrader's collect puts the file; it may not exist (nothing or an
    incomplete folder was collected). Raises FileNotFoundError if submitted/ is missing or
    holds no student's folder.
    """
    layout = CourseLayout(course)
    return {student: layout.submitted(student, assignment) / SUBMISSION
            for student in layout.students(assignment)}


def public_mask(n_images: int, fraction: float = PUBLIC_FRACTION,
                seed: int = DEFAULT_SEED) -> np.ndarray:
    """Which images (n_images,) bool belong to the public part: round(fraction * n) of them,
    chosen by `seed` alone (not by the labels), so the same seed gives the same part."""
    if not 0 < fraction < 1:
        raise ValueError(f"The public fraction must lie strictly between 0 and 1, got {fraction}.")
    public = np.zeros(n_images, dtype=bool)
    public[np.random.default_rng(seed).permutation(n_images)[:round(fraction * n_images)]] = True
    if public.all() or not public.any():
        raise ValueError(f"A public fraction of {fraction} of {n_images} images leaves the "
                         "public or the private part empty.")
    return public


def score_file(student: str, path: Path, truth: np.ndarray, public: np.ndarray) -> Score:
    """Score one submission against the key's digits truth (N,) with the public mask (N,).

    Never raises for a bad file: every reason it cannot be scored becomes a problem, worded
    without the file's full path (which holds the student's id).
    """
    if not path.parent.is_dir():
        return Score(student, (f"Nothing was collected for {path.parent.name}.",))
    if path.is_symlink():
        # A link could point at any file the instructor can read, the key included.
        return Score(student, (f"{SUBMISSION} is a symbolic link; a submission must be a "
                               "plain file.",))
    if path.is_file() and path.stat().st_size > MAX_BYTES:
        return Score(student, (f"{SUBMISSION} has {path.stat().st_size:,} bytes, more than "
                               f"the {MAX_BYTES:,} a submission can need; it was not read.",))
    try:
        predicted = read_submission(path, len(truth))
    except SubmissionError as error:
        return Score(student, tuple(problem.replace(str(path), path.name)
                                    for problem in error.problems))
    correct = predicted == truth
    # np.mean of the same booleans, as submission_accuracy takes it: the same float.
    return Score(student, accuracy=float(np.mean(correct)),
                 public=float(np.mean(correct[public])), private=float(np.mean(correct[~public])))


def score_class(submissions: dict[str, Path], truth: np.ndarray,
                public: np.ndarray) -> list[Score]:
    """score_file for every student of find_submissions, in the same order."""
    return [score_file(student, path, truth, public) for student, path in submissions.items()]


def competition_ranks(values: list[float]) -> list[int]:
    """Ranks (1 = best) of values, higher is better; ties share a rank and the next rank
    skips (1, 2, 2, 4), as on Kaggle's leaderboards."""
    ordered = sorted(values, reverse=True)
    first = {}
    for position, value in enumerate(ordered, 1):
        first.setdefault(value, position)
    return [first[value] for value in values]


def board(scores: list[Score], which: str = "final") -> list[Row]:
    """The rows of a board: ranked students best first (ties by name), then every student
    with problems, by name and without a rank.

    which: "final" ranks by private accuracy, "public" by public accuracy.
    """
    if which not in BOARDS:
        raise ValueError(f"The board must be one of {', '.join(BOARDS)}, got {which!r}.")
    scored = [score for score in scores if not score.problems]
    ranks = competition_ranks([getattr(score, RANKED_BY[which]) for score in scored])
    ranked = sorted(zip(ranks, scored, strict=True),
                    key=lambda pair: (pair[0], pair[1].student))
    broken = sorted((score for score in scores if score.problems),
                    key=lambda score: score.student)
    return [Row(rank, score) for rank, score in ranked] + [Row(None, score) for score in broken]


def table(rows: list[Row], which: str, names: dict[str, str] | None = None) -> list[dict]:
    """The board as records of COLUMNS[which] -> text, for the CSV file and the printout.

    names: {student: name to show}, e.g. pseudonyms; by default the student ids. Accuracies
    have six decimals, as the hidden tests' scorer prints them.
    """
    records = []
    for row in rows:
        score = row.score
        record = {
            "rank": "" if row.rank is None else str(row.rank),
            "student": (names or {}).get(score.student, score.student),
            "private_accuracy": _decimals(score.private),
            "public_accuracy": _decimals(score.public),
            "accuracy": _decimals(score.accuracy),
            "problems": " ".join(score.problems),
        }
        records.append({column: record[column] for column in COLUMNS[which]})
    return records


def load_secret(path: str | Path) -> bytes:
    """The instructor's secret for pseudonyms, created at path (mode 600) if absent.

    Keep it with the answer key and never publish it: whoever has it can recompute every
    pseudonym from the (guessable) student ids.
    """
    path = Path(path)
    if not path.exists():
        # O_EXCL: never overwrite a secret another run created meanwhile.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_hex(32) + "\n")
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"The secret in {path} is too short to hide names; delete the file "
                         "to have a new one made (the pseudonyms then change).")
    return secret


def pseudonyms(students: list[str], secret: bytes) -> dict[str, str]:
    """{student: "anon-" + 8 hex digits}, the same for the same secret on every run.

    A keyed hash (HMAC-SHA256): without the secret, nobody can tell which id gives which
    pseudonym, even by trying every student id, which a plain hash would allow.
    """
    names = {student: "anon-" + hmac.new(secret, student.encode("utf-8"),
                                         hashlib.sha256).hexdigest()[:8]
             for student in students}
    if len(set(names.values())) < len(names):
        # 8 hex digits make this about 1 in 100,000 for 300 students; never post it silently.
        raise ValueError("Two students got the same pseudonym; delete the secret file to draw "
                         "a new one.")
    return names


def _decimals(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"
