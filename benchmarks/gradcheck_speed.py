"""How long the gradient checker takes on the lab's first layer (784 -> 16, batch 16).

    .venv/bin/python benchmarks/gradcheck_speed.py

Prints the time of the default, sampled check and of a check that probes every entry,
each the best of a few runs. This prints figures; it is not a test.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import digitlab

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import ReferenceLinear  # noqa: E402 - the correct backward lives in tests/

IN_DIM, OUT_DIM, BATCH = 784, 16, 16


def best_seconds(max_entries: int, repeats: int) -> float:
    layer = ReferenceLinear(IN_DIM, OUT_DIM, np.random.default_rng(0), dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = digitlab.check_layer(layer, batch_size=BATCH, max_entries=max_entries)
        times.append(time.perf_counter() - start)
        assert report.passed, report
    return min(times)


def main() -> None:
    every_entry = IN_DIM * OUT_DIM  # the largest array: the weights (and the batch input)
    print(f"gradient check of Linear({IN_DIM} -> {OUT_DIM}) on a batch of {BATCH}")
    print(f"  sampled (60 entries per array, the default): "
          f"{best_seconds(60, 5) * 1e3:7.1f} ms")
    print(f"  every entry ({2 * every_entry + OUT_DIM:,} entries):        "
          f"{best_seconds(every_entry, 2) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
