"""What a kernel's start costs, started afresh and forked from a process that imported it.

    .venv/bin/python benchmarks/kernel_start.py [--repeats 3]

The figure behind the next step of the grading throughput work (a kernel fork server): for
each way it prints the kernel's own CPU seconds from its start until it has run the
imports of the lab's first cells (numpy, digitlab, digitlab.plots and so matplotlib,
digitlab.testing, digitlab.student):

- afresh: `python -m ipykernel_launcher`, as jupyter_client starts every kernel;
- forked: a child of this process, which imported ipykernel, numpy and digitlab once
  (that one-time cost is printed apart), running the same kernel application.

Neither is sandboxed (the grading sandbox is `sandbox_overhead.py`'s subject): this measures
what forking saves, not how it would enter the sandbox. It prints the load average, since
the cores may be shared. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.manager import KernelManager

FIRST_CELLS = "import numpy, digitlab, digitlab.plots, digitlab.testing, digitlab.student"
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "digitlab",
             "digitlab.plots", "digitlab.testing", "digitlab.student")


def cpu_of(pid: int) -> float:
    """CPU seconds (user and system) that the running process pid has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ready_and_imported(client) -> None:
    client.start_channels()
    client.wait_for_ready(timeout=60)
    client.execute_interactive(FIRST_CELLS, timeout=60, output_hook=lambda message: None)


def afresh() -> float:
    manager = KernelManager(kernel_name="python3")
    with open(os.devnull, "w") as quiet:
        manager.start_kernel(stdout=quiet, stderr=quiet)
        client = manager.client()
        ready_and_imported(client)
        used = cpu_of(manager.provisioner.process.pid)
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return used


def forked(folder: str) -> float:
    connection_file, _ = write_connection_file(
        os.path.join(folder, f"kernel-{time.monotonic_ns()}.json"), transport="ipc",
        ip=os.path.join(folder, f"ipc-{time.monotonic_ns()}"))
    pid = os.fork()
    if pid == 0:  # the kernel, as ipykernel_launcher runs it
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        sys.argv = ["ipykernel_launcher", "-f", connection_file]
        from ipykernel.kernelapp import IPKernelApp
        IPKernelApp.launch_instance()
        os._exit(0)
    client = BlockingKernelClient()
    client.load_connection_file(connection_file)
    ready_and_imported(client)
    used = cpu_of(pid)
    client.stop_channels()
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # as in the grading sandbox
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    fresh = [afresh() for _ in range(repeats)]
    print(f"afresh: {', '.join(f'{seconds:.2f}' for seconds in fresh)} CPU s per kernel")
    begun = time.process_time()
    for module in PRELOADED:
        __import__(module)
    print(f"imports of the forking process, once: {time.process_time() - begun:.2f} CPU s")
    with tempfile.TemporaryDirectory() as folder:
        fork = [forked(folder) for _ in range(repeats)]
    print(f"forked: {', '.join(f'{seconds:.2f}' for seconds in fork)} CPU s per kernel")
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
