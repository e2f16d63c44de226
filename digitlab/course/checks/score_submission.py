"""Score submission.csv against the answer key, for notebook 05's hidden tests.

    python -I -m digitlab.course.checks.score_submission submission.csv [--at-least 0.85]

prints `accuracy 0.912000` and exits 0; with --at-least, prints `Competition accuracy:
91.2%` and exits 1 below the threshold (saying `Below 85%.`). A file that cannot be scored
exits 1 listing its problems. The key's path comes from the environment variable
DIGITLAB_ANSWER_KEY, which the course's nbgrader_config.py sets, so no path to the key
appears in a hidden test.

When the key cannot be read here, as in a grading kernel that runs as a user without access
to it, it exits with hidden_check.ONLY_OUTSIDE and says that the grader scores the file:
the grader (digitlab.course.checks.verify_outside, calling `outside`) scores the file the student
submitted, in its own process, whatever happened in the notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from digitlab.competition import SubmissionError, read_answer_key, submission_accuracy
from digitlab.course.checks.hidden_check import ONLY_OUTSIDE
from digitlab.course.checks.registry import Outcome

KEY_VARIABLE = "DIGITLAB_ANSWER_KEY"


class KeyUnavailable(Exception):
    """The answer key cannot be read or used; the message names no path."""


def answer_key() -> Path:
    """The path of a usable answer key, from DIGITLAB_ANSWER_KEY; KeyUnavailable if none."""
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        raise KeyUnavailable(f"{KEY_VARIABLE} is not set")
    try:
        read_answer_key(key)
    except SubmissionError:
        # Its problems may name the key's path, which must not reach a notebook's output.
        raise KeyUnavailable(f"{KEY_VARIABLE} names no readable answer key") from None
    return Path(key)


def instructor_key(course_default: Path, given: str | Path | None = None) -> Path:
    """The key an instructor's command uses: the one given, else $DIGITLAB_ANSWER_KEY, else
    the course's default (CourseLayout.answer_key)."""
    return Path(given or os.environ.get(KEY_VARIABLE) or course_default)


def score(submission: Path, key: Path, at_least: float | None,
          shown_as: str = "submission.csv") -> tuple[bool, str]:
    """(passed, report) for one submission; the report calls the file `shown_as`."""
    try:
        accuracy = submission_accuracy(submission, key)
    except SubmissionError as error:
        return False, str(error).replace(str(submission), shown_as)
    if at_least is None:
        return True, f"accuracy {accuracy:.6f}"
    shown = f"Competition accuracy: {accuracy:.1%}"
    if accuracy < at_least:
        return False, f"{shown}. Below {at_least:.0%}."
    return True, shown


def parser() -> argparse.ArgumentParser:
    """The command line, which is also the arguments of check("score_submission", ...)."""
    parser = argparse.ArgumentParser(prog="python -m digitlab.course.checks.score_submission",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("submission", help="the CSV file, e.g. submission.csv")
    parser.add_argument("--at-least", type=float, metavar="FRACTION",
                        help="fail below this accuracy, e.g. 0.85")
    return parser


def outside(arguments: list[str], folder: Path, open_box: object = None) -> tuple[bool, str]:
    """The grader's run of check("score_submission", *arguments) on the file in folder.

    No student code runs here, so open_box is not used. A key that cannot be read is the
    course's problem, not the student's: it raises KeyUnavailable rather than fail the cell.
    """
    args = parser().parse_args(arguments)
    name = Path(args.submission).name
    if (folder / name).is_symlink():  # it could point at the answer key itself
        return False, f"{name} is a symbolic link; submit the file itself."
    return score(folder / name, answer_key(), args.at_least, shown_as=name)


def outcome(arguments: list[str], folder: Path, open_box: object = None,
            rng: object = None) -> Outcome:
    """outside() as an Outcome. One case, the file itself, the same for every student (rng
    is not used); the student may read its report: the accuracy, or why it cannot be scored."""
    passed, report = outside(arguments, folder, open_box)
    return Outcome(passed, report, (Path(parser().parse_args(arguments).submission).name,),
                   report)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        key = answer_key()
    except KeyUnavailable as reason:
        print(f"The answer key cannot be read here ({reason}), so {args.submission} is "
              "scored by the grader, outside the notebook.")
        return ONLY_OUTSIDE
    passed, report = score(Path(args.submission), key, args.at_least, args.submission)
    print(report)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
