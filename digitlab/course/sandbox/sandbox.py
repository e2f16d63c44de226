"""Run a grading kernel, or any child of the grader, inside the course's GradingLimits.

A sandbox is one process tree with:
* a private 0700 folder owned by the slot user (HOME, temporary files, the kernel's
  connection file and ipc sockets, and a copy of matplotlib's font list, font_cache.py);
* its own cgroup(s), when the machine has a writable v1 (pids + memory hierarchies) or v2
  cgroup tree: memory and process count of the whole tree. Only v1 was tried (this project's
  machines); the v2 branch follows the kernel's documentation, untested;
* the launcher (launch_kernel.py) in front of its command: cgroup, empty network namespace,
  rlimits, unprivileged slot user, then exec;
* an environment built from an allow-list, never the grader's own (tokens, DIGITLAB_DB_URL);
* a clean-up that kills every process of the cgroup and of the slot user, and waits until
  none is left: unreaped processes would still count against the next kernel's limit.

Three ways in:

    with sandbox(limits) as box:   # a child that is not a kernel
        subprocess.run(box.command([sys.executable, "-I", "-m", "..."]),
                       env=box.environment, cwd=box.directory)

box.run_module, the children of the hidden checks, many to one sandbox: each forked by a
fork server (fork_server.py) that runs in the sandbox and has imported the check's child
once; and LimitedKernelManager, the kernel manager of bounded_execute.LimitedExecute.
check_ready tells what this machine still needs, describe what a sandbox enforces here.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Instance, Type, default

from digitlab.course.sandbox import fork_client, fork_server
from digitlab.course.sandbox.font_cache import font_lists
from digitlab.course.sandbox.limits import GradingLimits, size_words
from digitlab.course.sandbox.process_tree import (
    CGROUPS,
    Cgroup,
    adopt_orphans,
    kill_processes_of,
    processes_of,
)

log = logging.getLogger(__name__)
LAUNCHER = Path(__file__).with_name("launch_kernel.py")
GRADING_KERNEL = Path(__file__).with_name("grading_kernel.py")  # ipykernel, no debugger
# The socket of the grading slot's kernel server (kernel_server.py), when it has one: set in
# an autograde's environment by grading/autograde_servers.py, never passed to a kernel.
KERNEL_SERVER_VARIABLE = "DIGITLAB_KERNEL_SERVER"
# The grader's variables a sandboxed process may see; everything else (tokens, passwords,
# DIGITLAB_DB_URL, DIGITLAB_GRADING_EVENTS, and DIGITLAB_ANSWER_KEY: the grader scores the
# competition outside the kernel) stays out. NBGRADER_EXECUTION makes the notebooks skip
# training.
PASSED_VARIABLES = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ",
                    "NBGRADER_EXECUTION")
# glibc gives each thread a 64 MiB malloc arena, which eats RLIMIT_AS (the grading kernel
# cannot start under 1 GiB without this); one BLAS thread keeps the 2 cores for the class.
QUIET_THREADS = {"MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                 "MKL_NUM_THREADS": "1"}
# Messages libzmq may queue for the grader on one channel; with message_bytes per message this
# bounds the grader's memory whatever the kernel prints.
QUEUED_MESSAGES = 50
# With a cgroup, RLIMIT_NPROC is a backstop a little above pids.max, so that the cgroup,
# which counts refused forks, is the limit a fork bomb meets first.
NPROC_MARGIN = 16
USERADD = "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin"
PREFIX = "digitlab-sandbox-"  # of each sandbox's folder in the temporary folder, and cgroup
SUBFOLDERS = {"IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib", "TMPDIR": "tmp",
              "XDG_CACHE_HOME": "cache"}


class SandboxError(RuntimeError):
    """The sandbox cannot be made; the message says what to do."""


@dataclass(frozen=True)
class Machine:
    """What this machine lets the grader enforce."""

    root: bool
    cgroup: str | None  # "v1", "v2", or None: no writable cgroup tree
    network: bool  # unshare(CLONE_NEWNET) allowed


@functools.cache
def machine() -> Machine:
    """Probed once per process (the network probe starts one short-lived Python)."""
    root = os.geteuid() == 0
    cgroup = None
    if root and (CGROUPS / "cgroup.controllers").exists() and os.access(CGROUPS, os.W_OK):
        cgroup = "v2"
    elif root and all(os.access(CGROUPS / name, os.W_OK) for name in ("pids", "memory")):
        cgroup = "v1"
    probe = subprocess.run([sys.executable, "-I", str(LAUNCHER), '{"isolate_network": true}',
                            "--", sys.executable, "-I", "-c", ""], capture_output=True)
    return Machine(root=root, cgroup=cgroup, network=probe.returncode == 0)


def describe(limits: GradingLimits) -> str:
    """One line: the protections a sandbox gets on this machine, and those it cannot get."""
    if not limits.enabled:
        return "Grading limits: off (GradingLimits.enabled is False): kernels run unbounded"
    here = machine()
    active = [f"CPU {limits.cpu_seconds} s", f"wall {limits.notebook_wall_seconds} s/notebook",
              f"{limits.student_wall_seconds} s/student",
              f"address space {size_words(limits.address_space_bytes)}",
              f"files up to {size_words(limits.file_size_bytes)}",
              f"output {size_words(limits.output_bytes)}/notebook"]
    missing = []
    if here.cgroup:
        active.append(f"memory {size_words(limits.memory_bytes)} (cgroup {here.cgroup})")
    else:
        missing.append("memory (no writable cgroup)")
    if here.root:
        active += [f"{limits.processes} processes", f"user {limits.slot_user()}"]
    else:
        missing += ["process count and user switch (not root)"]
    if not limits.isolate_network:
        missing.append("network isolation (GradingLimits.isolate_network is False)")
    elif here.network:
        active.append("network isolated")
    else:
        missing.append("network isolation (unshare refused)")
    line = "Grading limits: " + ", ".join(active)
    return line + ("; NOT enforced here: " + ", ".join(missing) if missing else "")


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _account(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise SandboxError(f"The grading user {name} does not exist: create it as root with "
                           f"`{USERADD} {name}`.") from None


def _untraversable(path: Path, uid: int | None) -> list[Path]:
    """The folders on the way to path, and path if a folder (links followed or not), that
    uid (None: any user but root) cannot traverse, as a user in none of their groups."""
    blocked = []
    for target in {path.absolute(), path.resolve()}:
        for folder in [*reversed(target.parents), *([target] if target.is_dir() else [])]:
            info = folder.stat()
            if info.st_uid != uid and not info.st_mode & 0o001 and folder not in blocked:
                blocked.append(folder)
    return blocked


def check_ready(limits: GradingLimits, slots: int) -> tuple[list[str], list[str]]:
    """(what stops grading, what weakens the limits) for `slots` parallel graders on this
    machine, each a sentence that says what to do; both empty when all is well.

    Stoppers would fail every student's kernel (a grading user missing, or unable to run the
    interpreter), so the driver refuses to start; weaknesses only leave a protection out.
    (The course folder need not be reachable: a kernel starts in its notebook's folder; the
    answer key never reaches it.)
    """
    if not limits.enabled:
        return [], []
    here = machine()
    stoppers, weaknesses = [], []
    if not here.root:
        weaknesses.append("The grader is not root, so kernels run as your own user: CPU, "
                          "address-space and file-size limits apply, but the process limit, "
                          "the memory cgroup, the user switch and network isolation do not. "
                          "Grade as root for all of them.")
    elif not here.cgroup:
        weaknesses.append(f"No writable cgroup tree under {CGROUPS}, so memory_bytes is not "
                          f"enforced (only address_space_bytes per process): mount cgroup v1 "
                          "pids and memory, or cgroup v2, writable by root.")
    if limits.isolate_network and not here.network:
        weaknesses.append("This machine refuses unshare(CLONE_NEWNET), so kernels keep the "
                          "network: run the grader as root outside an unprivileged container, "
                          "or set c.GradingLimits.isolate_network = False to accept it.")
    if not here.root:
        return stoppers, weaknesses
    names = [limits.slot_user(slot) for slot in range(1, slots + 1)]
    missing = [name for name in names if not _exists(name)]
    if missing:
        stoppers.append("Grading users missing; create them as root with: " + "; ".join(
            f"`{USERADD} {name}`" for name in missing))
    uid = None if missing else pwd.getpwnam(names[0]).pw_uid
    for what, path in [("run the interpreter", Path(sys.executable)),
                       ("read digitlab", Path(__file__))]:
        blocked = _untraversable(path, uid)
        if blocked:
            stoppers.append(f"The grading users cannot {what} {path}: run "
                            f"`chmod o+x {' '.join(map(str, blocked))}`.")
    return stoppers, weaknesses


def _grader_folder() -> Path:
    """A folder only this (root) user may write: the slot users' locks, so a sandboxed
    process cannot take one first, and the font list every sandbox starts from."""
    folder = Path(tempfile.gettempdir()) / f"digitlab-grading-users-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxError(f"{folder} is not a private folder of the grader: remove it")
    return folder


def _lock_file(user: str) -> IO[str]:
    """The lock file of a slot user, in the grader's private folder."""
    return open(_grader_folder() / user, "a+")  # noqa: SIM115 - open for the sandbox's whole life


def _claim_user(limits: GradingLimits) -> tuple[pwd.struct_passwd, IO[str]]:
    """The slot user a new sandbox runs as, and the file whose lock holds the user until the
    sandbox is closed (the clean-up kills every process of the user, so two sandboxes must
    never share one): the user of $DIGITLAB_GRADER_SLOT when free, else the first free one of
    the other slot users, else, saying so, the first after waiting for it."""
    first = _account(limits.slot_user())
    others, slot = [], 1
    while _exists(limits.slot_user(slot)):
        others.append(pwd.getpwnam(limits.slot_user(slot)))
        slot += 1
    for account in [first, *(other for other in others if other != first)]:
        lock = _lock_file(account.pw_name)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return account, lock
        except BlockingIOError:
            lock.close()
    log.warning("Every grading user is busy; waiting for %s. Create more users (see "
                "check_ready) or run fewer graders at once.", first.pw_name)
    lock = _lock_file(first.pw_name)
    fcntl.flock(lock, fcntl.LOCK_EX)
    return first, lock


# What a grading user, who is neither the owner nor in the group of the grader's files, needs:
# to list and enter a folder, and to read a file.
OTHERS_FOLDER, OTHERS_FILE = stat.S_IROTH | stat.S_IXOTH, stat.S_IROTH


def open_to_kernel(folder: Path) -> None:
    """Let any grading user read `folder`, a kernel's working folder, and everything in it.

    nbgrader makes autograded/<student>/<assignment>/ and writes the notebooks there with the
    grader's umask; under umask 007 the grading user could not read its own notebook, every
    hidden check failed and a correct submission scored 0. The folders above are left as they
    are: the kernel is given its working folder by its parent (root), so other students'
    folders stay out of its reach. Raises SandboxError when the access cannot be given: the
    student must then be "not graded", never 0 points.
    """
    for path in [folder, *sorted(folder.rglob("*"))]:
        info = path.lstat()
        wanted = (OTHERS_FOLDER if stat.S_ISDIR(info.st_mode)
                  else OTHERS_FILE if stat.S_ISREG(info.st_mode) else 0)
        try:
            if info.st_mode & wanted != wanted:
                path.chmod(stat.S_IMODE(info.st_mode) | wanted)
        except OSError as error:
            raise SandboxError(f"The grading users cannot be allowed to read {path} "
                               f"({error.strerror}), so its kernel could not read the "
                               "submission: make the course folder's files changeable by "
                               "the grader (no immutable attribute, no root-squashed NFS) "
                               "and grade this student again.") from error


class Sandbox:
    """One sandboxed process tree: its private folder, cgroup and launcher settings.

    Use sandbox() for a child process; LimitedKernelManager makes one per kernel.
    As root, a sandbox holds its slot user until closed (see _claim_user).
    Raises SandboxError when the slot user is missing (as root) or no cgroup can be made.
    """

    def __init__(self, limits: GradingLimits):
        self.limits = limits
        self.machine = machine()
        self.account = self._lock = self._cgroup = None
        self.refused_forks = 0  # forks the cgroup refused, known once closed
        # What the student's grading so far tells the process (budget.py), and when it must
        # have ended (time.monotonic(); None: only its own timeout).
        self.student_environment: dict[str, str] = {}
        self.deadline: float | None = None
        self.closed = False
        self._server: fork_server.Server | None = None  # run_module's, once started
        self._private: Path | None = None  # the grader's own files for run_module
        self._runs = 0
        self._adopting = limits.enabled and self.machine.root
        if self._adopting:
            adopt_orphans(True)  # so the clean-up reaps what it kills, not PID 1 seconds later
            try:
                self.account, self._lock = _claim_user(limits)
                self._clear_leftovers()
            except BaseException:
                adopt_orphans(False)
                self._adopting = False
                raise
        self.directory = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._record(self.directory.name)
        try:
            for folder in ["", *SUBFOLDERS.values()]:
                (self.directory / folder).mkdir(exist_ok=True)
                self.own(self.directory / folder)
            for fonts in font_lists(_grader_folder()):  # a copy: this sandbox's own
                shutil.copyfile(fonts, self.directory / SUBFOLDERS["MPLCONFIGDIR"] / fonts.name)
                self.own(self.directory / SUBFOLDERS["MPLCONFIGDIR"] / fonts.name)
            if limits.enabled and self.machine.cgroup:
                self._cgroup = Cgroup(self.machine.cgroup, self.directory.name, limits)
        except (OSError, SandboxError):
            self.close()
            raise

    def _record(self, name: str) -> None:
        """Write in the user's lock file which sandbox holds the user ("" once closed)."""
        if self._lock is not None:
            self._lock.seek(0)
            self._lock.truncate()
            self._lock.write(name)
            self._lock.flush()

    def _clear_leftovers(self) -> None:
        """Remove what a grader killed before its clean-up left behind (its cgroup, folder
        and processes: `digitlab grade --timeout` kills the grader, not its kernel); any
        process of the user is such a leftover, since we hold the user now."""
        self._lock.seek(0)
        name = self._lock.read()
        if name.startswith(PREFIX) and "/" not in name:
            log.warning("Cleaning up after a killed grader of %s: %s", self.account.pw_name,
                        name)
            if self.machine.cgroup:
                stale = Cgroup(self.machine.cgroup, name, None)
                stale.kill_all()
                stale.remove()
            shutil.rmtree(Path(tempfile.gettempdir()) / name, ignore_errors=True)
        left = kill_processes_of(self.account.pw_uid)
        if left:
            raise SandboxError(f"processes of {self.account.pw_name} cannot be killed: {left}")

    def own(self, path: Path) -> None:
        """Give path to the slot user (a file the sandboxed process must read or write)."""
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def settings(self) -> dict:
        """The launcher's settings (see launch_kernel.py)."""
        limits = self.limits
        rlimits = {"cpu": [limits.cpu_seconds, limits.cpu_seconds + 5],
                   "as": limits.address_space_bytes, "fsize": limits.file_size_bytes,
                   "nofile": limits.open_files, "core": 0}
        if self.account is not None:  # NPROC counts the user's processes: the grader's too
            rlimits["nproc"] = limits.processes + (NPROC_MARGIN if self._cgroup else 0)
        return {"cgroup_procs": self._cgroup.procs if self._cgroup else [],
                "isolate_network": limits.isolate_network and self.machine.network,
                "rlimits": {name: value for name, value in rlimits.items()
                            if value or name == "core"},
                "uid": self.account.pw_uid if self.account else None,
                "gid": self.account.pw_gid if self.account else None}

    def command(self, argv: list[str]) -> list[str]:
        """argv behind the launcher (argv itself when the limits are off): run it with the
        sandbox's environment."""
        if not self.limits.enabled:
            return list(argv)
        return [sys.executable, "-I", str(LAUNCHER), json.dumps(self.settings()), "--", *argv]

    def scrub(self, environment: Mapping[str, str], keep: Iterable[str] = ()) -> dict[str, str]:
        """environment reduced to PASSED_VARIABLES and keep, plus the sandbox's own."""
        names = set(PASSED_VARIABLES) | set(keep)
        scrubbed = {name: value for name, value in environment.items() if name in names}
        scrubbed.update(QUIET_THREADS, HOME=str(self.directory),
                        **{name: str(self.directory / folder)
                           for name, folder in SUBFOLDERS.items()})
        if self.account is not None:
            scrubbed.update(USER=self.account.pw_name, LOGNAME=self.account.pw_name)
        scrubbed.update(self.student_environment)
        return scrubbed

    @property
    def environment(self) -> dict[str, str]:
        """The environment for a sandboxed child: os.environ scrubbed."""
        return self.scrub(os.environ)

    def run_module(self, module: str, argv: list[str], files: dict[str, bytes],
                   results: str, timeout: float) -> tuple[fork_server.Finished, Path]:
        """`python -I -m module argv...` in this sandbox, in a new folder with `files`
        ({name: content}); how it ended, and where the grader may read its `results` file
        (a path that does not exist when the run left no such plain file).

        Each run is a child of the sandbox's fork server (started at the first run, through
        the launcher, with `module` imported), in the server's own new folder. The grader
        hands files in and out as descriptors of its own private files: it never writes
        into, or reads from, a folder the student's processes could change while they run.
        After each run, every process of the sandbox but the server is killed, so each run
        starts with nothing left of the one before. subprocess.TimeoutExpired after
        `timeout` s; fork_server.ServerGone when the server stopped answering (the student's
        code may kill it: it runs as the same user); then the next run starts a new one.
        """
        if self._private is None:
            self._private = Path(tempfile.mkdtemp(prefix="digitlab-grader-"))
        if self._server is None or not self._server.alive():
            self._server = fork_server.start([module], self._private,
                                             prefix=self.command([]), env=self.environment,
                                             cwd=self.directory)
        self._runs += 1
        results_path = self._private / f"{self._runs}-{results}"
        with contextlib.ExitStack() as files_open:
            def private_file(data: bytes = b"") -> BinaryIO:
                file = files_open.enter_context(tempfile.TemporaryFile(dir=self._private))
                file.write(data)
                file.seek(0)
                return file
            given = {name: private_file(data).fileno() for name, data in files.items()}
            out, err = private_file(), private_file()
            nothing = files_open.enter_context(open(os.devnull, "rb"))
            collected = files_open.enter_context(open(results_path, "w+b"))
            try:
                status, left = fork_client.request(
                    self._server.socket, module, argv, env=self.environment,
                    stdio=(nothing.fileno(), out.fileno(), err.fileno()), files=given,
                    collect={results: collected.fileno()}, timeout=timeout)
            except (subprocess.TimeoutExpired, fork_server.ServerGone):
                self._server.stop()
                raise
            finally:
                self._kill_leftovers()
            if results not in left:
                results_path.unlink()
            out.seek(0)
            err.seek(0)
            return fork_server.Finished(status, out.read().decode(errors="replace"),
                                        err.read().decode(errors="replace")), results_path

    def _kill_leftovers(self) -> None:
        """Kill every process of the sandbox (its cgroup, its user) but the fork server."""
        pids = set(processes_of(self.account.pw_uid)) if self.account is not None else set()
        if self._cgroup is not None:
            pids |= self._cgroup.members()
        if self._server is not None and self._server.alive():
            pids.discard(self._server.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def cpu_seconds(self, kernel_pid: int) -> float:
        """CPU seconds (user + system) this sandbox's processes have used so far: compare
        two readings. From its v2 cgroup's cpu.stat (every process it ever held), else from
        /proc for the live processes of its slot user (each with the children it reaped);
        without either (not root, no cgroup) from kernel_pid's alone."""
        for folder in self._cgroup.folders if self._cgroup is not None else []:
            if (folder / "cpu.stat").exists():
                fields = dict(line.split() for line in
                              (folder / "cpu.stat").read_text().splitlines())
                return int(fields["usage_usec"]) / 1e6
        ticks = 0
        for pid in processes_of(self.account.pw_uid) if self.account else [kernel_pid]:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                # Fields 14-17 (utime stime cutime cstime), after the name in parentheses.
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                ticks += sum(int(value) for value in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_killed(self) -> bool:
        """Whether the cgroup's OOM killer has killed a process of this sandbox."""
        return self._cgroup is not None and self._cgroup.oom_kills() > 0

    def close(self) -> None:
        """Kill every process of the sandbox and of the slot user, remove cgroup and folder,
        let go of the user. Does nothing the second time (a kernel's resources are cleaned
        up by two callers, and by then the user may belong to another sandbox)."""
        if self.closed:
            return
        self.closed = True
        if self._server is not None:  # reaped here: a zombie would hold up the clean-up
            self._server.stop()
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
        if self._cgroup is not None:
            self.refused_forks = self._cgroup.refused_forks()
            self._cgroup.kill_all()
        left = kill_processes_of(self.account.pw_uid) if self.account is not None else []
        if self._cgroup is not None:
            self._cgroup.remove()
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock is not None:
            self._record("")
            self._lock.close()  # releases the flock
        if self._adopting:
            adopt_orphans(False)
        if left:  # they would count against the next kernel's process limit
            raise SandboxError(f"processes of {self.account.pw_name} survived the clean-up: "
                               f"{left}")


@contextmanager
def sandbox(limits: GradingLimits) -> Iterator[Sandbox]:
    """A Sandbox for a child process; on exit every process in it is killed. Wait for the
    children you start (subprocess.run does) before the block ends: a child that is killed
    but not reaped still shows in /proc, and the clean-up waits 5 s for it, then fails.
    The child runs as the slot user: files it reads must be readable by that user (put them
    in box.directory) and paths to them must be reachable (a course under a 0700 folder is
    not: pass paths relative to cwd, or copies in box.directory, chowned with box.own)."""
    box = Sandbox(limits)
    try:
        yield box
    finally:
        box.close()


class LimitedKernelClient(AsyncKernelClient):
    """A kernel client that refuses messages over message_bytes and queues few of them.

    ZMQ_MAXMSGSIZE: libzmq drops a bigger message and the connection, so an output flood
    never reaches the grader's memory (LimitedExecute reopens IOPub afterwards).
    """

    limits = Instance(GradingLimits)

    @default("limits")
    def _limits_default(self) -> GradingLimits:
        # Those of the kernel manager that made this client, if it has any.
        return getattr(self.parent, "limits", None) or GradingLimits(parent=self)

    @default("context")
    def _context_default(self) -> zmq.Context:
        context = super()._context_default()
        # Default options of every socket made from this context, set before it connects.
        if self.limits.enabled and self.limits.message_bytes:
            context.setsockopt(zmq.MAXMSGSIZE, self.limits.message_bytes)
            context.setsockopt(zmq.RCVHWM, QUEUED_MESSAGES)
        return context


class LimitedKernelManager(AsyncKernelManager):
    """Starts each kernel inside a Sandbox of the configured GradingLimits; its clean-up
    kills everything the kernel left. Talks to the kernel over ipc sockets in the sandbox's
    folder, since an isolated kernel has no network, not even loopback.

    With $DIGITLAB_KERNEL_SERVER (a socket), the kernel is forked by that kernel server,
    through fork_server's `stand-in` client, which is the kernel to jupyter_client and
    starts it through the launcher when the server fails.
    """

    client_class = DottedObjectName("digitlab.course.sandbox.sandbox.LimitedKernelClient")
    client_factory = Type(klass=AsyncKernelClient, default_value=LimitedKernelClient)
    limits = Instance(GradingLimits)
    sandbox: Sandbox | None = None
    student_environment: Mapping[str, str] = {}  # for the sandbox (LimitedExecute sets it)

    @default("limits")
    def _limits_default(self) -> GradingLimits:
        return GradingLimits(parent=self)

    async def _async_pre_start_kernel(self, **kw):
        if self.limits.enabled:
            self.sandbox = Sandbox(self.limits)
            self.sandbox.student_environment = dict(self.student_environment)
            self.connection_file = str(self.sandbox.directory / "kernel.json")
            self.transport, self.ip = "ipc", str(self.sandbox.directory / "ipc")
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        if not self.sandbox:
            return command
        if command[1:3] != ["-m", "ipykernel_launcher"]:  # not the python3 kernel spec's
            return self.sandbox.command(command)
        plain = self.sandbox.command([command[0], str(GRADING_KERNEL), *command[3:]])
        server = os.environ.get(KERNEL_SERVER_VARIABLE)
        if not server or command[0] != sys.executable:  # a fork runs the server's Python
            return plain
        return fork_client.stand_in_command(server, "digitlab.course.sandbox.grading_kernel",
                                            command[3:], self.sandbox.settings(), plain)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if self.sandbox:
            self.sandbox.own(Path(self.connection_file))
            kw["env"] = self.sandbox.scrub(kw.get("env") or os.environ,
                                           keep=self.kernel_spec.env)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self.sandbox:
            self.sandbox.close()

    # AsyncKernelManager binds the public name to its own coroutine: rebind it to ours.
    cleanup_resources = _async_cleanup_resources
