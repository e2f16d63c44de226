"""The resource limits of a grading kernel: their defaults here, a course's changes in its
nbgrader_config.py, which states only the limits that differ, e.g.

    c.GradingLimits.cpu_seconds = 60

Every grading kernel (and every child the hidden checks start, see sandbox.py) gets these
limits. Sizes are in bytes, times in seconds; 0 turns a size or count limit off. A correct
submission is graded in 10-15 s for all five notebooks, and its kernels start and pass with
512 MiB of address space: the defaults leave it ample room and stop only a submission that
loops, floods or forks without end.
"""

from __future__ import annotations

import os

from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

SLOT_VARIABLE = "DIGITLAB_GRADER_SLOT"
MiB = 2**20
GiB = 2**30


def size_words(count: int) -> str:
    """A size in bytes as people write it: 3 GiB, 512 MiB, 2 KiB."""
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (2**10, "KiB")):
        if count >= unit:
            return f"{count / unit:g} {name}"
    return f"{count} bytes"


class GradingLimits(Configurable):
    """The limits one grading kernel runs under (traitlets, so nbgrader_config.py sets them)."""

    enabled = Bool(True, help=(
        "Run grading kernels inside the limits below. False runs them as plain kernels of "
        "the grader's own user, with no limit at all: for debugging a course, never for a "
        "class.")).tag(config=True)
    cpu_seconds = Int(120, help=(
        "CPU time of each kernel process (RLIMIT_CPU). At this limit the kernel gets "
        "SIGXCPU, which names the reason; 5 s later SIGKILL, in case it catches SIGXCPU. "
        "Stops loops that ignore the interrupt a cell timeout sends and keep computing; "
        "one that waits is stopped soon after its timeout (bounded_execute)."
    )).tag(config=True)
    notebook_wall_seconds = Int(180, help=(
        "Wall time of one whole notebook, kernel start included. Cells still to run when "
        "it is spent fail unrun, and no cell's timeout goes past it.")).tag(config=True)
    student_wall_seconds = Int(150, help=(
        "Wall time of one student's whole grading: every notebook, kernel starts, cells, and "
        "the grader's outside checks (digitlab.course.sandbox.budget). It bounds only the "
        "waiting for code that does not end: each cell and check may run for what is left "
        "less the measured cost of the notebooks still to run, and code that ran out of "
        "time once is not run again. A correct submission needs 10-15 s.")).tag(config=True)
    memory_bytes = Int(3 * GiB, help=(
        "Memory of the kernel and all its children together (a cgroup's memory limit). "
        "Past it the kernel is killed (the cgroup's OOM killer sends SIGKILL). "
        "`digitlab grade --jobs N` may use N times this at worst.")
    ).tag(config=True)
    address_space_bytes = Int(4 * GiB, help=(
        "Address space of each process (RLIMIT_AS): a single huge allocation fails with "
        "MemoryError in its cell, and it bounds memory where no cgroup can be made. "
        "1 GiB is the least the lab's grading needs.")).tag(config=True)
    processes = Int(64, help=(
        "Processes and threads of a kernel together (the cgroup's pids.max, and "
        "RLIMIT_NPROC of the slot user): bounds fork bombs. An idle kernel has about 11 "
        "threads.")).tag(config=True)
    file_size_bytes = Int(256 * MiB, help=(
        "Largest file a kernel may write (RLIMIT_FSIZE), so it cannot fill the disk. No "
        "notebook writes more than submission.csv (about 6 KiB)."
    )).tag(config=True)
    open_files = Int(256, help="Open files per kernel process (RLIMIT_NOFILE)."
                     ).tag(config=True)
    output_bytes = Int(2 * MiB, help=(
        "Output kept per notebook; beyond it output is dropped, with one note in the cell "
        "(error outputs are always kept: they decide the score).")).tag(config=True)
    message_bytes = Int(1 * MiB, help=(
        "Largest single message the grader accepts from a kernel (ZMQ_MAXMSGSIZE), so an "
        "output flood never reaches the grader's memory.")).tag(config=True)
    isolate_network = Bool(True, help=(
        "Give each kernel an empty network namespace: no network at all, so a submission "
        "cannot send or fetch anything.")).tag(config=True)
    user = Unicode("digitlab-grader", help=(
        "Kernels run as the unprivileged user <user>-<slot>, where slot is "
        f"${SLOT_VARIABLE} (1-based, 1 when unset): `digitlab grade --jobs N` gives each "
        "parallel worker its own slot, because process limits and the final clean-up act on "
        "every process of a user. A kernel whose slot user is busy takes a free one of "
        "<user>-1, <user>-2, ... Only when the grader runs as root.")).tag(config=True)

    def slot_user(self, slot: int | None = None) -> str:
        """The user of a job slot: slot, or the one $DIGITLAB_GRADER_SLOT names."""
        if slot is None:
            slot = int(os.environ.get(SLOT_VARIABLE) or 1)
        return f"{self.user}-{slot}"
