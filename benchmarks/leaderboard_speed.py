"""How long the class leaderboard takes for 300 submissions of 1,000 rows each.

    .venv/bin/python benchmarks/leaderboard_speed.py [repeats]

Writes a class of 300 students in a temporary course folder (every tenth file malformed, so
the error paths are timed too), then times, each the best and the median of a few repeats:
checking and scoring every file against the answer key (find_submissions, score_class,
board), writing the leaderboard CSV, drawing and saving the PNG, and the whole
`digitlab leaderboard` command in this process. This prints figures; it is not a test.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from digitlab.cli import main as digitlab_command
from digitlab.competition import read_answer_key, write_submission
from digitlab.course.competition import leaderboard
from digitlab.course.competition.leaderboard_plot import leaderboard_figure
from digitlab.course.tables import write_table

KEY = Path(__file__).resolve().parents[1] / "keys" / "digit-lab.csv"
STUDENTS = 300


def make_class(course: Path, truth: np.ndarray) -> None:
    """submitted/<student>/digit-lab/submission.csv: accuracies from 50% to 100%, and every
    tenth file with a label out of range (a full check of 1,000 rows, then refused)."""
    rng = np.random.default_rng(0)
    for number in range(STUDENTS):
        predictions = truth.copy()
        wrong = rng.choice(len(truth), rng.integers(0, len(truth) // 2), replace=False)
        predictions[wrong] = (truth[wrong] + 1) % 10
        folder = course / "submitted" / f"student{number:03d}" / "digit-lab"
        folder.mkdir(parents=True)
        path = write_submission(predictions, folder / "submission.csv")
        if number % 10 == 9:
            path.write_text(path.read_text().replace("\n7,", "\n7,12", 1))


def timed(step, repeats: int) -> tuple[float, float, object]:
    """(best, median) seconds of step() over repeats, and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    # The cores may be shared: the load says how far to trust the figures.
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    truth = read_answer_key(KEY)
    public = leaderboard.public_mask(len(truth))
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        make_class(course, truth)

        def score():
            submissions = leaderboard.find_submissions(course, "digit-lab")
            return leaderboard.board(leaderboard.score_class(submissions, truth, public))

        def command():
            with contextlib.redirect_stdout(io.StringIO()):
                return digitlab_command(["leaderboard", "digit-lab", "--course", str(course),
                                         "--key", str(KEY)])

        figures = [("check and score 300 files", score)]
        rows = score()
        assert sum(row.rank is None for row in rows) == STUDENTS // 10
        records = leaderboard.table(rows, "final")
        figures.append(("write the leaderboard CSV",
                        lambda: write_table(records, course / "board.csv")))
        figures.append(("draw and save the PNG", lambda: leaderboard_figure(
            rows, "final", "benchmark").savefig(course / "board.png")))
        figures.append(("the whole command (main)", command))
        print(f"{STUDENTS} submissions of {len(truth)} rows, best and median of {repeats}:")
        for name, step in figures:
            best, median, _ = timed(step, repeats)
            print(f"  {name:<28} {best:7.3f} s   (median {median:.3f} s)")
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
