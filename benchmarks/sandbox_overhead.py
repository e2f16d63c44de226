"""What the grading sandbox costs per kernel: start, one cell, shut down, clean up.

    sudo .venv/bin/python benchmarks/sandbox_overhead.py [repeats]

Runs a one-cell notebook through nbgrader's Execute (a plain kernel) and LimitedExecute (the
course's default GradingLimits), interleaved so that both see the same load, and prints each
time and the medians. Run as root for the whole sandbox; otherwise it measures what applies.
This prints figures; it is not a test.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.preprocessors import Execute

from digitlab.course.sandbox.bounded_execute import LimitedExecute
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import describe


def run_once(executor_class: type[Execute], folder: str) -> float:
    notebook = new_notebook(cells=[new_code_cell("import numpy\nprint(numpy.ones(3).sum())")],
                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                     "display_name": "Python 3"}})
    start = time.perf_counter()
    executor_class().preprocess(notebook, {"metadata": {"path": folder}, "unique_key": "x"})
    assert notebook.cells[0].outputs[0]["text"] == "3.0\n", notebook.cells[0].outputs
    return time.perf_counter() - start


def main(repeats: int) -> None:
    print(describe(GradingLimits()))
    executors = {"plain kernel": Execute, "sandboxed kernel": LimitedExecute}
    times: dict[str, list[float]] = {name: [] for name in executors}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeats):
            for name, executor_class in executors.items():
                times[name].append(run_once(executor_class, folder))
    for name, seconds in times.items():
        print(f"{name}: median {statistics.median(seconds):.2f} s "
              f"({', '.join(f'{value:.2f}' for value in seconds)})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
