"""The child half of notebook 04's hidden check: runs the student's summarize_accuracies.

    python -I -m digitlab.course.checks.run_summary NOTEBOOK INPUTS.npz RESULTS.npz

This is the only process that runs the student's code. For each list of accuracies k in
INPUTS ("k/accuracies"), it writes the four numbers the function returns ("k/summary") or
why it could not ("k/error"), as arrays; the parent, summary_check, judges them. Whatever
the student's code does here, to numpy or digitlab.stats, it can change only those numbers.
"""

from __future__ import annotations

import sys

import numpy as np

from digitlab.stats import t_critical_95
from digitlab.student import StudentCodeError, run_answer

NOTEBOOK_04 = "04-randomness.ipynb"
ANSWER_CELL_ID = "summarize-accuracies"


def summarize(function, accuracies: np.ndarray) -> dict[str, np.ndarray]:
    """{"summary": the four numbers} or {"error": why}, for one list of accuracies."""
    try:
        summary = np.asarray(function([float(value) for value in accuracies]), dtype=np.float64)
    except Exception as error:  # the student's bug, or not numbers: reported by the parent
        return {"error": np.array(f"summarize_accuracies raised or returned something that "
                                  f"is not numbers: {type(error).__name__}: {error}")}
    return {"summary": summary}


def main(argv: list[str]) -> int:
    notebook, inputs_path, results_path = argv
    with np.load(inputs_path) as stored:
        lists = [stored[f"{k}/accuracies"] for k in range(len(stored.files))]
    try:
        # The names the notebook's first cell gives the answer cell, as its docstring says.
        function = run_answer(notebook, ANSWER_CELL_ID,
                              names={"np": np, "t_critical_95": t_critical_95}
                              ).get("summarize_accuracies")
    except StudentCodeError as error:
        print(error)
        return 1
    if not callable(function):
        print(f"The answer cell of {notebook} no longer defines summarize_accuracies.")
        return 1
    np.savez(results_path, **{f"{k}/{name}": value for k, accuracies in enumerate(lists)
                              for name, value in summarize(function, accuracies).items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
