"""The processes of a grading sandbox: its cgroup, and every process of its user.

Both are how a sandbox bounds and then ends what the student's code started: the cgroup
counts memory and processes of the whole tree (v1 pids + memory hierarchies, or one v2
group), and the kill sweep reaches whatever left the cgroup's view, as the slot user.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from digitlab.course.sandbox.limits import GradingLimits

CGROUPS = Path("/sys/fs/cgroup")
PR_SET_CHILD_SUBREAPER = 36


_adopting = 0  # the sandboxes open in this process that adopt orphans


def adopt_orphans(adopt: bool) -> None:
    """While any sandbox of this process is open, make it the reaper of its descendants'
    orphans (adopt: one more sandbox open; else one fewer).

    A sandboxed process whose parent dies (a check server when its kernel is killed, a
    student's daemon) is otherwise adopted by PID 1, which on some machines reaps it seconds
    later (about 1.9 s on this project's micro-VMs), and the clean-up waits until /proc shows
    it gone. Adopted here, the clean-up reaps what it kills at once (reap). Only while a
    sandbox is open: a long-lived process (a test session) that stayed a reaper would adopt
    the orphans of graders it merely started, never reap them, and a zombie of a slot user
    would stop every later sandbox of that user.
    """
    global _adopting
    _adopting += 1 if adopt else -1
    if _adopting == (1 if adopt else 0):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(adopt), 0, 0, 0)


def reap(pids) -> None:
    """Collect the exit of each of pids that is a child of this process and has ended (an
    adopted orphan); the others are left to their parents."""
    for pid in pids:
        with suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


class Cgroup:
    """The cgroup(s) of one sandbox: pids and memory, v1 hierarchies or one v2 group."""

    def __init__(self, version: str, name: str, limits: GradingLimits | None):
        """Make the cgroup(s) with the limits; OSError (and nothing left) on failure.
        limits None: the cgroup(s) of that name left by a killed grader, to clean up."""
        self.folders: list[Path] = []
        if limits is None:
            self.folders = [folder for folder in (CGROUPS / name, CGROUPS / "pids" / name,
                                                  CGROUPS / "memory" / name) if folder.is_dir()]
            return
        try:
            self._make(version, name, limits)
        except OSError as error:
            self.remove()
            raise OSError(f"cannot make the kernel's cgroup: {error}") from error

    def _make(self, version: str, name: str, limits: GradingLimits) -> None:
        if version == "v2":
            (CGROUPS / "cgroup.subtree_control").write_text("+pids +memory")
            self.folders = [CGROUPS / name]
            settings = {"pids.max": limits.processes, "memory.max": limits.memory_bytes,
                        "memory.swap.max": 0}
        else:
            self.folders = [CGROUPS / "pids" / name, CGROUPS / "memory" / name]
            settings = {"pids.max": limits.processes,
                        "memory.limit_in_bytes": limits.memory_bytes}
        for folder in self.folders:
            folder.mkdir()
        for file, value in settings.items():
            if value:  # 0: no limit
                next(folder for folder in self.folders if (folder / file).exists()
                     ).joinpath(file).write_text(str(value))

    @property
    def procs(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def _counter(self, file: str, key: str) -> int:
        """A counter of a flat-keyed cgroup file such as memory.events, 0 if absent."""
        for folder in self.folders:
            if (folder / file).exists():
                for line in (folder / file).read_text().splitlines():
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        return 0

    def oom_kills(self) -> int:
        """Processes the OOM killer killed in this cgroup (memory.events in v2,
        memory.oom_control in v1)."""
        return self._counter("memory.events", "oom_kill") + self._counter(
            "memory.oom_control", "oom_kill")

    def refused_forks(self) -> int:
        """Forks refused because pids.max was reached."""
        return self._counter("pids.events", "max")

    def members(self) -> set[int]:
        """The pids in the cgroup(s)."""
        return {int(pid) for procs in self.procs for pid in Path(procs).read_text().split()}

    def kill_all(self) -> None:
        """SIGKILL every member until none is left (they may fork while we kill)."""
        for _ in range(200):
            members = self.members()
            if not members:
                return
            for pid in members:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
            reap(members)

    def remove(self) -> None:
        for folder in self.folders:
            for _ in range(100):  # rmdir fails until the last killed member is reaped
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def processes_of(uid: int) -> list[int]:
    """Pids of every process (zombies included) that uid owns."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    pids.append(int(name))
            except FileNotFoundError:
                pass
    return pids


def kill_processes_of(uid: int, wait: float = 5.0) -> list[int]:
    """Kill every process of uid and wait until /proc shows none; the pids left after wait.

    kill(-1) as that user signals all its processes and only those. Linux returns 0 from
    kill(-1) even when every target was out of reach, so its result cannot say "all gone":
    stop them all first (a stopped process cannot fork), kill, then watch /proc, because
    killed processes not yet reaped still count against the next kernel's RLIMIT_NPROC.
    """
    deadline = time.monotonic() + wait
    while True:
        child = os.fork()
        if child == 0:  # becomes the user, so that kill(-1) reaches that user only
            try:
                os.setresuid(uid, uid, uid)
                for sig in (signal.SIGSTOP, signal.SIGKILL):
                    os.kill(-1, sig)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        reap(processes_of(uid))
        left = processes_of(uid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)
