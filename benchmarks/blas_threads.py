"""What one BLAS thread in digitlab.train saves, on idle cores and on busy ones.

    .venv/bin/python benchmarks/blas_threads.py [--repeats 2]

Trains notebook 05's two runs (the default settings, then num_layers=3, width=128,
step_size=0.1) with the correct backward from tests/reference.py, each time in a fresh
subprocess, in two ways:

- "one BLAS thread": digitlab.train as it is (threadpoolctl limits BLAS to one thread);
- "all BLAS threads": the same with that limit lifted, as numpy runs by default (OpenBLAS
  starts a thread per core).

Each way runs on idle cores, then with every other core kept busy by a spinning process (as
on a hub serving a class, or a grader grading one), and prints the wall time and the CPU
seconds of the training. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WAYS = ("one BLAS thread", "all BLAS threads")


def train_once(way: str) -> dict[str, float]:
    """Notebook 05's two trainings in this process: {"wall": s, "cpu": s}."""
    sys.path.insert(0, str(REPO / "tests"))
    from reference import ReferenceLinear

    import digitlab

    if way == WAYS[1]:  # the module, not the function that digitlab exports by its name
        sys.modules["digitlab.train"].threadpool_limits = lambda **_: contextlib.nullcontext()
    data = digitlab.load_digits()
    default = digitlab.TrainingSettings()
    start, cpu = time.perf_counter(), time.process_time()
    digitlab.train(default, data, linear=ReferenceLinear)
    digitlab.train(default.replace(num_layers=3, width=128, step_size=0.1), data,
                   linear=ReferenceLinear)
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def measure(way: str) -> dict[str, float]:
    """train_once(way) in a fresh interpreter, so that OpenBLAS starts as numpy starts it."""
    result = subprocess.run([sys.executable, __file__, "--way", way], check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout)


@contextlib.contextmanager
def busy_cores(count: int):
    """`count` processes spinning on the CPU until the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(count)]
    try:
        time.sleep(0.5)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per way; the best counts")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        print(json.dumps(train_once(args.way)))
        return
    cores = os.cpu_count() or 1
    print(f"{cores} cores; notebook 05's two trainings, best of {args.repeats}", flush=True)
    for load, others in (("idle cores", 0), (f"{cores - 1} other cores busy", cores - 1)):
        with busy_cores(others):
            for way in WAYS:
                best = min((measure(way) for _ in range(args.repeats)),
                           key=lambda figures: figures["wall"])
                print(f"  {load}, {way}: {best['wall']:.1f} s wall, {best['cpu']:.1f} CPU s",
                      flush=True)


if __name__ == "__main__":
    main()
