"""What a kernel's start costs, started afresh and forked from a process that imported it.

    .venv/bin/python benchmarks/kernel_start.py [--repeats 3]

The figure behind the next step of the grading throughput work (a kernel fork server): for
each way it prints the kernel's own CPU seconds from its start until it has run the
imports of the lab's first cells (numpy, digitlab, digitlab.plots and so matplotlib,
digitlab.testing, digitlab.student):

- afresh: `python -m ipykernel_launcher`, as jupyter_client starts every kernel;
- forked: a child of this process, which imported ipykernel, numpy and digitlab once
  (that one-time cost is printed apart), running the same kernel application.

Neither is sandboxed: this measures what forking saves. With --sandboxed (as root), a
grading kernel is then started the two ways LimitedKernelManager starts one, alternating:

- launcher: through launch_kernel.py, which enters the sandbox and execs grading_kernel.py;
- kernel server: forked by a slot's kernel server (kernel_server.py), through its stand-in;

and it prints, per kernel, the wall time from the start to the first cells' end, and the CPU
seconds of the kernel and of the process that stood for it (the stand-in; the launcher is
the kernel itself), read just before the kernel is shut down. It prints the load average,
since the cores may be shared. This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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


async def sandboxed(folder: str) -> tuple[float, float]:
    """One grading kernel in its sandbox: (wall s to its first cells' end, CPU s of it and
    of its stand-in)."""
    from digitlab.course.sandbox.sandbox import LimitedKernelManager

    begun = time.perf_counter()
    manager = LimitedKernelManager(kernel_name="python3")
    await manager.start_kernel(cwd=folder)
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    pid = []
    await client.execute_interactive(f"{FIRST_CELLS}\nimport os\nprint(os.getpid())",
                                     timeout=60, output_hook=lambda message: pid.append(
                                         message["content"].get("text", "")))
    wall = time.perf_counter() - begun
    kernel, stand_in = int("".join(pid)), manager.provisioner.process.pid
    used = cpu_of(kernel) + (cpu_of(stand_in) if stand_in != kernel else 0.0)
    client.stop_channels()
    await manager.shutdown_kernel(now=True)
    return wall, used


def compare_sandboxed(repeats: int) -> None:
    # Here, not at the top: the figure of the forking process's imports is theirs.
    from digitlab.course.sandbox import kernel_server
    from digitlab.course.sandbox.sandbox import KERNEL_SERVER_VARIABLE

    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # the kernel's user reads it, as open_to_kernel lets it
        started = time.perf_counter()
        server = kernel_server.start(folder)
        print(f"kernel server started in {time.perf_counter() - started:.2f} s (once per slot)")
        figures = {"launcher": [], "kernel server": []}
        try:
            for _ in range(repeats):
                for way in figures:
                    if way == "kernel server":
                        os.environ[KERNEL_SERVER_VARIABLE] = str(server.socket)
                    try:
                        figures[way].append(asyncio.run(sandboxed(folder)))
                    finally:
                        os.environ.pop(KERNEL_SERVER_VARIABLE, None)
                    wall, cpu = figures[way][-1]
                    print(f"sandboxed, {way:13}: {wall:5.2f} s, {cpu:5.2f} CPU s", flush=True)
        finally:
            server.stop()
        for way, runs in figures.items():
            wall, cpu = (statistics.mean(column) for column in zip(*runs, strict=True))
            print(f"mean sandboxed, {way:13}: {wall:5.2f} s, {cpu:5.2f} CPU s per kernel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sandboxed", action="store_true",
                        help="then compare the two starts of a sandboxed grading kernel")
    options = parser.parse_args()
    repeats = options.repeats
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
    if options.sandboxed:
        compare_sandboxed(repeats)
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
