"""Submission files in the Kaggle digit-recognizer format, and their accuracy.

A submission is a CSV with the header `ImageId,Label` and one row per test image: its
1-based id and the predicted digit. Kaggle accepts a UTF-8 byte-order mark and Windows line
endings, and so do we.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from digitlab.atomic import atomic_write
from digitlab.data.splits import CLASSES
from digitlab.metrics import as_digits

HEADER = "ImageId,Label"
# ASCII digits only: str.isdigit also passes "²", "٣" and (after lstrip) "--3", which int()
# either refuses, crashing the check, or reads as a digit Kaggle would not.
WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class SubmissionError(ValueError):
    """A submission file cannot be scored; the message lists every problem found.

    problems: the same problems, one sentence each, as check_submission returns them.
    """

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


def write_submission(predictions, path: str | Path = "submission.csv") -> Path:
    """Write predictions (N,) digits as `ImageId,Label` rows, ids 1..N.

    Written whole (digitlab.atomic), so an interrupted write never leaves half a file
    behind. Returns the path written.
    """
    digits = as_digits("predictions", predictions)
    path = Path(path)
    rows = "".join(f"{image_id},{label}\n" for image_id, label in enumerate(digits, 1))
    with atomic_write(path, newline="\n") as file:
        file.write(HEADER + "\n" + rows)
    return path


def check_submission(path: str | Path, n_images: int) -> list[str]:
    """Every problem that stops the file being scored, one sentence each; [] if valid."""
    return _parse(Path(path), n_images)[1]


def read_submission(path: str | Path, n_images: int) -> np.ndarray:
    """The predicted digits (n_images,), in ImageId order; SubmissionError if invalid."""
    labels, problems = _parse(Path(path), n_images)
    if problems:
        raise SubmissionError(f"{path} cannot be scored:\n- " + "\n- ".join(problems),
                              problems)
    return labels


def read_answer_key(path: str | Path) -> np.ndarray:
    """The true digits (N,) of an answer key: a file in the submission format, N >= 1 rows.

    Raises SubmissionError if the key is missing, unreadable, empty or malformed.
    """
    path = Path(path)
    try:
        rows = len(_lines(path)) - 1
    except (OSError, UnicodeDecodeError):
        rows = 0  # _parse below names the reason
    return read_submission(path, max(rows, 1))


def submission_accuracy(path: str | Path, key_path: str | Path) -> float:
    """The fraction of images whose digit in the submission matches the answer key.

    The key is a file in the same format holding the true digits. The class leaderboard
    (digitlab.course.competition.leaderboard) scores with the same two readers, so it agrees
    with this.
    """
    truth = read_answer_key(key_path)
    return float(np.mean(read_submission(path, len(truth)) == truth))


def _lines(path: Path) -> list[str]:
    # utf-8-sig drops a byte-order mark; splitlines drops \r\n and \n alike.
    return [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def _parse(path: Path, n_images: int) -> tuple[np.ndarray, list[str]]:
    """(labels by ImageId, problems). Labels are -1 where a row is missing or unreadable."""
    if path.is_dir():
        return np.empty(0, np.intp), [f"{path} is a folder, not a file: write the file with "
                                      "write_submission(predictions, path)."]
    if not path.is_file():
        return np.empty(0, np.intp), [f"There is no file at {path}: write it with "
                                      "write_submission(predictions, path)."]
    try:
        lines = _lines(path)
    except UnicodeDecodeError:
        return np.empty(0, np.intp), ["The file is not UTF-8 text; save it as a CSV file."]
    except OSError as error:
        return np.empty(0, np.intp), [f"The file cannot be read ({error.strerror}); "
                                      "check its permissions."]
    if not lines:
        return np.empty(0, np.intp), [f"The file is empty; it needs the header {HEADER} "
                                      f"and {n_images} rows."]
    problems = []
    header = lines[0].replace(" ", "")
    if header.endswith("," + HEADER):
        # pandas' to_csv writes its row index as an unnamed first column unless told not to.
        problems.append(f"The first line is {lines[0]!r}: the file has an extra first column "
                        "(a pandas index?); write it with write_submission(predictions, path) "
                        "or DataFrame.to_csv(path, index=False).")
    elif header != HEADER:
        problems.append(f"The first line is {lines[0]!r}; it must be the header {HEADER!r}.")
    labels = np.full(n_images, -1, dtype=np.intp)
    seen, duplicates, extra, unreadable, out_of_range = set(), [], [], [], []
    for line_number, line in enumerate(lines[1:], 2):
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2 or not all(WHOLE_NUMBER.fullmatch(field) for field in fields):
            unreadable.append(line_number)
            continue
        image_id, label = (int(field) for field in fields)
        if not 1 <= image_id <= n_images:
            extra.append(image_id)
        elif image_id in seen:
            duplicates.append(image_id)
        elif not 0 <= label < CLASSES:
            out_of_range.append(image_id)
        else:
            seen.add(image_id)
            labels[image_id - 1] = label
    # A set: a file of 1,000 out-of-range labels would make list lookups quadratic.
    found = seen.union(out_of_range)
    missing = [i for i in range(1, n_images + 1) if i not in found]
    problems += _listed(unreadable, "Line", "does not hold", "do not hold",
                        " two whole numbers (ImageId,Label) such as 1,7")
    problems += _listed(out_of_range, "ImageId", "has", "have", f" a Label outside 0-{CLASSES - 1}")
    problems += _listed(duplicates, "ImageId", "appears", "appear",
                        " more than once; keep one row per image")
    problems += _listed(extra, "ImageId", "is", "are", f" outside 1..{n_images}"
                        + ("; ids start at 1, not 0" if 0 in extra else ""))
    problems += _listed(missing, "ImageId", "has", "have", " no row")
    rows = len(lines) - 1
    if rows != n_images:
        plural = "" if rows == 1 else "s"
        problems.append(f"The file has {rows} row{plural} after the header; expected "
                        f"{n_images}, one per image.")
    return labels, problems


def _listed(items: list[int], noun: str, verb: str, verb_plural: str, rest: str,
            shown: int = 5) -> list[str]:
    """One sentence for a list of offenders, naming the first few, its verb agreeing."""
    if not items:
        return []
    names = ", ".join(str(item) for item in items[:shown])
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    if len(items) > 1:
        noun, verb = noun + "s", verb_plural
    return [f"{noun} {names}{more} {verb}{rest}."]
