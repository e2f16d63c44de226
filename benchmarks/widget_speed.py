"""How long the learning-rate panel takes from a click on Train to the final figure, for the
default run (784 -> 16 -> 10, 30 epochs), next to how long the training alone takes, with
numpy's default BLAS threads and with the one BLAS thread the panel trains with.

    .venv/bin/python benchmarks/widget_speed.py [repeats]

The click is panel.train_button.click(), as ipywidgets runs it when the browser's click
arrives; the time ends when the panel's background job has finished: the final learning
curves drawn to PNG, the run added to the history and the status line written. The first
click is timed on its own, because it also pays matplotlib's first drawing. Then the same
with three earlier runs selected, so the click also draws the overlay of four runs. The
target is 2 s on 2 cores. No kernel runs here, so the run is not recorded in a cell's
output, and no browser: tests/test_browser_lab.py times the whole way in JupyterLab. This
prints figures; it is not a test.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

import digitlab
from digitlab import TrainingSettings
from digitlab.widgets import LearningRatePanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import ReferenceLinear  # noqa: E402 - the correct backward lives in tests/


def click_seconds(panel: LearningRatePanel) -> float:
    start = time.perf_counter()
    panel.train_button.click()
    assert panel.wait(60), "the run did not finish within 60 s"
    seconds = time.perf_counter() - start
    assert panel.figures["curves"] is not None and "Finished" in panel.status.value
    return seconds


def report(name: str, seconds: list[float]) -> None:
    print(f"  {name:<48} best {min(seconds):5.2f} s   median {statistics.median(seconds):5.2f} s"
          f"   ({len(seconds)} runs)")


def main(repeats: int) -> None:
    data = digitlab.load_digits()
    settings = TrainingSettings()
    print(f"default run: {settings!r}")
    # The cores may be shared: the load says how far to trust the figures.
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    def training_seconds() -> float:
        start = time.perf_counter()
        digitlab.train(settings, data, linear=ReferenceLinear)
        return time.perf_counter() - start

    training = [training_seconds() for _ in range(repeats)]
    with threadpool_limits(limits=1, user_api="blas"):
        training_one_thread = [training_seconds() for _ in range(repeats)]

    # A fresh panel for each click: a panel's new run joins the overlay of the runs before it.
    first = click_seconds(LearningRatePanel(data, linear=ReferenceLinear, settings=settings))
    clicks = [click_seconds(LearningRatePanel(data, linear=ReferenceLinear, settings=settings))
              for _ in range(repeats)]

    earlier = [digitlab.train(settings.replace(step_size=step), data, linear=ReferenceLinear)[1]
               for step in (0.0001, 5, 10)]
    overlaid = []
    for _ in range(repeats):
        panel = LearningRatePanel(data, linear=ReferenceLinear, settings=settings, runs=earlier)
        panel.run_list.value = (0, 1, 2)
        overlaid.append(click_seconds(panel))

    report("training alone (digitlab.train)", training)
    report("training alone, one BLAS thread (as in panels)", training_one_thread)
    print(f"  {'first click to final figure (cold)':<48} {first:5.2f} s")
    report("click to final figure", clicks)
    report("click to final figure, 3 runs overlaid", overlaid)
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
