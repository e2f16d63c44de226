"""How long the test suite takes, and how busy it keeps the machine.

    .venv/bin/python benchmarks/suite_time.py [PYTEST ARGUMENTS, e.g. -n 3 or tests/test_hub.py]

Runs pytest once with the arguments (the suite as pyproject.toml configures it when none are
given) and prints its outcome line, the wall time, and the CPU seconds the whole machine spent
meanwhile, read from /proc/stat: the suite's processes are run by several users (grading
kernels, the hub's servers) and outlive the ones that started them, so no process tree holds
them all. CPU / (wall x cores) is how busy the run kept the cores; CPU / cores is the least
wall time any packing of the same work could reach. Other work on the machine counts too:
run it on a quiet one. This prints figures; it is not a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(field) for field in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def main(arguments: list[str]) -> int:
    cores = os.cpu_count() or 1
    cpu_before, begun = machine_cpu_seconds(), time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", *arguments], cwd=ROOT,
                         capture_output=True, text=True)
    wall, cpu = time.monotonic() - begun, machine_cpu_seconds() - cpu_before
    outcome = (run.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"pytest {' '.join(arguments) or '(the configured suite)'}: {outcome}")
    print(f"wall {wall:.1f} s; machine CPU {cpu:.0f} s on {cores} cores: busy "
          f"{cpu / (wall * cores):.0%}, and no packing of this work runs under "
          f"{cpu / cores:.0f} s")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
