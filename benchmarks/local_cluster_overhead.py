"""What a Dask LocalCluster would cost `digitlab grade` on one host, beside its thread pool.

    .venv/bin/python benchmarks/local_cluster_overhead.py [--tasks 40] [--workers 2]

Times, for the same number of tasks and slots: starting and closing a LocalCluster (worker
processes, one thread each, as `digitlab worker --slots 1` would run), and the dispatch cost
per task (a task that returns at once) on that cluster and on the ThreadPoolExecutor that
grade.grade_class uses. A student's autograde takes about 10 s, so the figures say whether
the local path should move to a LocalCluster. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor


def nothing(index: int) -> int:
    return index


def thread_pool(tasks: int, workers: int) -> tuple[float, float]:
    """(start and close in s, seconds per task) of the grading driver's thread pool."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ready = time.perf_counter()
        list(pool.map(nothing, range(tasks)))
        done = time.perf_counter()
    return (ready - start) + (time.perf_counter() - done), (done - ready) / tasks


def local_cluster(tasks: int, workers: int) -> tuple[float, float]:
    """(start and close in s, seconds per task) of a LocalCluster of worker processes."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, resources={"grading-slots": 1})
    client = Client(cluster)
    ready = time.perf_counter()
    futures = [client.submit(nothing, index, pure=False, resources={"grading-slots": 1})
               for index in range(tasks)]
    client.gather(futures)
    done = time.perf_counter()
    client.close()
    cluster.close()
    return (ready - start) + (time.perf_counter() - done), (done - ready) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name, measure in [("thread pool", thread_pool), ("LocalCluster", local_cluster)]:
        fixed, per_task = measure(args.tasks, args.workers)
        print(f"{name:>13}: start+close {fixed:6.2f} s, {per_task * 1000:7.2f} ms per task "
              f"({args.tasks} tasks, {args.workers} slots)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
