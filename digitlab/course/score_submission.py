"""Score submission.csv against the answer key, for notebook 05's hidden tests.

    python -I -m digitlab.course.score_submission submission.csv

prints `accuracy 0.912`, or a reason and exit status 1. The key's path comes from the
environment variable DIGITLAB_ANSWER_KEY, which the course's nbgrader_config.py sets, so no
path to the key appears in a hidden test (hidden tests are shown in the feedback). It runs
in a fresh process, so nothing the student's code did in the kernel changes the score.
"""

from __future__ import annotations

import os
import sys

from digitlab.competition import SubmissionError, submission_accuracy

KEY_VARIABLE = "DIGITLAB_ANSWER_KEY"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m digitlab.course.score_submission SUBMISSION.csv")
        return 2
    key = os.environ.get(KEY_VARIABLE)
    if not key or not os.path.isfile(key):
        print(f"The answer key is not available: set {KEY_VARIABLE} to the key's path "
              "(nbgrader_config.py does this for the course).")
        return 1
    try:
        accuracy = submission_accuracy(argv[0], key)
    except SubmissionError as error:
        print(error)
        return 1
    print(f"accuracy {accuracy:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
