"""A Python that imports the checks once and forks a fresh child for every run of one.

Each hidden check used to start Python from nothing: the check in the kernel, its child that
runs the student's code, the grader's child in a sandbox. Some twenty such processes per
student, 0.15-0.2 s each, almost all of it the interpreter's start and numpy's import. A
fork server pays that once: it imports the modules it is given, then runs each request as

    python -I -m MODULE ARGUMENTS...

would, in a child forked from it. The child starts from the server's clean state (the modules
imported, nothing run), never from another run's: its own argv, environment, working folder
and standard streams, and a process group of its own, killed with the group when it ends,
when the one who asked gives up (a timeout, an interrupt) or goes away.

    python -I fork_server.py serve LISTENING_FD [MODULE...]       # import MODULEs, then serve
    python -I -S fork_client.py run SOCKET MODULE [ARGUMENT...]  # one run, as the line above

`serve` accepts on the listening Unix socket it inherits as LISTENING_FD, one connection per
run, one run at a time, and ends when its standard input closes (whoever started it is gone).
It prints "ready" once it listens; a run dies with it. The callers' half, the protocol and
the small `run` and `stand-in` programs (run_command, stand_in_command), is fork_client.py.
Who starts a server binds its socket, in a folder only it and the server's user may enter,
so nobody can put another socket in its place (start()).

A request may instead give files: the server copies them from the descriptors it is passed
into a new folder of its own, runs the child there, and copies the files it is asked to
collect back into descriptors. The grader runs its sandboxed checks this way (sandbox.py):
it never writes into, or reads from, a folder that the student's processes could change
while they run, so a link put in a file's place cannot turn the grader's root against it.
The server is not dumpable, so the children (the student's code) cannot ptrace it.

A kernel server (kernel_server.py) serves grading kernels through the same protocol, runs
overlapping (each in a forked handler): its request carries the sandbox's launcher settings,
which the child enters before anything else, and asks for the child's pid, which stays the
run's until the caller has heard its end and closed the connection. Its caller is
fork_client's `stand-in`, which jupyter_client starts in place of the kernel.

Run by file with `python -I`, as launch_kernel.py: it may be started in a student's folder,
where a json.py of theirs must never be imported before the modules the server serves (it
imports only the standard library and digitlab's fork_client before them). Its children
import nothing of the student's before their module runs.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import os
import runpy
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitlab.course.sandbox.fork_client import (
    KILLED_GRACE,
    ServerGone,
    receive_message,
    send_message,
)

PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1  # prctl's: a signal for the child when its parent dies
PR_SET_CHILD_SUBREAPER = 36  # prctl's: orphans below this process become its children
STARTED = "ready"


@dataclass(frozen=True)
class Finished:
    """A run that ended: its exit status (or minus the signal that killed it, as subprocess
    says it), and what it printed."""

    returncode: int
    stdout: str
    stderr: str


# -- the server --------------------------------------------------------------------------

def run_as_main(module: str, argv: list[str]) -> int:
    """Run `module` as `python -m module argv...` would, in this process; its exit status."""
    sys.argv = [module, *argv]
    # Imported by the server, it would run again as __main__ anyway; runpy warns of that.
    sys.modules.pop(module, None)
    return exit_status(lambda: runpy.run_module(module, run_name="__main__", alter_sys=True))


def exit_status(main: Callable[[], object]) -> int:
    """Call main as a program's main; its exit status, as the interpreter would give it."""
    try:
        main()
    except SystemExit as end:
        if end.code is None or isinstance(end.code, int):
            return end.code or 0
        print(end.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - as the interpreter would: print it, status 1
        traceback.print_exc()
        return 1
    return 0


def become_child(stdio: list[int], folder: str | int, environment: dict[str, str],
                 new_group: bool = True) -> None:
    """In a freshly forked child: its working folder (a path, or a descriptor of it: the
    caller's may lie below folders this user cannot traverse), its own standard streams and
    environment, no other descriptor, the default handling of interrupts, and with
    new_group a process group of its own (else its parent's, whose interrupts then reach
    it)."""
    if isinstance(folder, int):
        os.fchdir(folder)
    else:
        os.chdir(folder)
    if new_group:
        os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    # New streams on the new descriptors, as a fresh interpreter has (the forking process
    # may have replaced its own, as pytest does).
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's for its whole life
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, errors="backslashreplace")  # noqa: SIM115
    os.environ.clear()
    os.environ.update(environment)
    tempfile.tempdir = None  # found again from the new environment's TMPDIR, as afresh
    _prctl(PR_SET_DUMPABLE, 1)  # as a process started afresh


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _exit_child(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code & 0xFF)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _copy_in(fd: int, path: Path) -> None:
    with open(fd, "rb", closefd=False) as source, open(path, "xb") as target:
        shutil.copyfileobj(source, target)


def _copy_out(path: Path, fd: int) -> bool:
    """Copy path into fd if it is a plain file (never a link, nor a pipe that would block)."""
    try:
        source = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with open(source, "rb") as file, open(fd, "wb", closefd=False) as target:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            return False
        shutil.copyfileobj(file, target)
    return True


def _run_module(request: dict) -> int:
    return run_as_main(request["module"], request["argv"])


def _serve_one(connection: socket.socket, listener: socket.socket,
               enter: Callable[[dict], None] | None = None,
               run: Callable[[dict], int] = _run_module) -> None:
    """Receive one request, run it in a forked child, reply with its status.

    A request with "enter" settings has the child call enter(settings) before anything
    else (a kernel server's: its sandbox); with "pid", the caller is told the child's pid
    at once, and the child stays unreaped (its pid and group theirs) until the caller,
    told its end, closes the connection: a caller may signal it until then.
    """
    request, fds = receive_message(connection, with_fds=True)
    open_fds = set(fds)  # each closed once, here or in finally
    own_folder = not request.get("cwd")
    folder = Path(tempfile.mkdtemp(prefix="run-")) if own_folder else None
    pid, late = None, bool(request.get("pid"))  # late: reaped once the caller is done
    try:
        try:
            files, collect = list(request.get("files", [])), list(request.get("collect", []))
            fixed = 3 if own_folder else 4  # stdin, stdout, stderr, and the caller's folder
            if len(fds) != fixed + len(files) + len(collect):
                raise ServerGone(f"{len(fds)} descriptors for {len(files)} files")
            if "enter" in request and enter is None:
                raise ValueError("this server runs nothing in a sandbox")
            stdio, given = fds[:3], fds[fixed:fixed + len(files)]
            wanted = fds[fixed + len(files):]
            for name, fd in zip(files, given, strict=True):
                _copy_in(fd, folder / name)
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    connection.close()
                    listener.close()
                    if "enter" in request:  # first: nothing of the caller's is touched as root
                        enter(request["enter"])
                    become_child(stdio, str(folder) if own_folder else fds[3], request["env"])
                    # A run never outlives its server: nobody would be told its end.
                    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                    if os.getppid() != server:
                        return  # the server died before the line above
                    code = run(request)
                    # As the interpreter does at its end (logging's flush, finalizers). What
                    # the server imported registers none that would undo its state; a
                    # fork_run's parent (a kernel) has its own, which its forks must never run.
                    atexit._run_exitfuncs()
                except BaseException:  # noqa: BLE001 - the run could not start: say why
                    traceback.print_exc()
                finally:
                    _exit_child(code)
            for fd in stdio:  # the child's now: its end of file is the caller's
                os.close(fd)
                open_fds.discard(fd)
            if late:
                send_message(connection, {"pid": pid})
            status = _wait(pid, connection)
            _kill_group(pid)  # whatever the run left behind in its group
            collected = [name for name, fd in zip(collect, wanted, strict=True)
                         if own_folder and status is not None and _copy_out(folder / name, fd)]
        finally:
            for fd in open_fds:
                os.close(fd)
            if own_folder:
                shutil.rmtree(folder, ignore_errors=True)
            if pid and not late:
                os.waitpid(pid, 0)
        with contextlib.suppress(OSError):  # the run's folder is gone once the caller hears
            send_message(connection, {"returncode": status, "collected": collected})
            if late:  # the pid stays the run's while the caller may still signal it
                select.select([connection], [], [], KILLED_GRACE)
    finally:
        if pid and late:
            os.waitpid(pid, 0)


def _wait(pid: int, connection: socket.socket) -> int | None:
    """The run's exit status, as subprocess gives it, leaving it unreaped; None once its
    caller gave up on it (closed or shut its side of the connection), after killing its
    group."""
    child = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([child, connection], [], [])
            if child in ready:
                end = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
                return end.si_status if end.si_code == os.CLD_EXITED else -end.si_status
            with contextlib.suppress(OSError):
                if connection.recv(1):
                    continue  # nothing else is sent during a run
            _kill_group(pid)
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead before the caller hears
            return None
    finally:
        os.close(child)


def serve(listening_fd: int, modules: list[str], *,
          enter: Callable[[dict], None] | None = None,
          run: Callable[[dict], int] = _run_module, at_once: bool = False) -> int:
    """Import modules, then serve runs until standard input closes. enter and run: see
    _serve_one. at_once: serve each connection in a forked handler, so runs may overlap
    (a kernel server's: a slot's kernels may); else one run at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel's interrupts are the runs'
    _prctl(PR_SET_DUMPABLE, 0)  # its children, the student's code, cannot ptrace it
    for module in modules:
        __import__(module)
    # What the imports left lives as long as the server: out of the collector's sight, no
    # run's collection walks it (nor copies the pages it would touch in a fork).
    gc.collect()
    gc.freeze()
    if at_once:  # the handlers are reaped as they end (waited for: their CPU counts), and
        # so are the runs' orphans, which come here rather than to PID 1: a sandbox's
        # clean-up waits until its user has no process left, zombies included.
        signal.signal(signal.SIGCHLD, _reap_children)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    listener = socket.socket(fileno=listening_fd)
    print(STARTED, flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1):
            return 0  # whoever started the server is gone
        if listener in ready:
            connection, _ = listener.accept()
            if at_once and os.fork():
                connection.close()
                continue
            try:
                # A malformed request ends its connection, never the server.
                with connection, contextlib.suppress(ServerGone, OSError, ValueError,
                                                     KeyError, TypeError):
                    if at_once:  # the handler: waits for its run, dies with the server
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                    _serve_one(connection, listener, enter, run)
            finally:
                if at_once:  # never a second server
                    _exit_child(0)


def _reap_children(_number: int, _frame) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def fork_run(module: str, argv: list[str], folder: str | Path, env: dict[str, str],
             timeout: float | None = None) -> Finished:
    """Run `module` as `python -I -m module argv...` would, in `folder` with environment
    `env`, in a child forked from this process, without a server: this process must be one
    a server could be (one thread, nothing run that the child must not inherit).

    As subprocess.run: the child stays in this process group, and after `timeout` seconds it
    is killed and subprocess.TimeoutExpired raised.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            open(os.devnull, "rb") as nothing:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child would print this process's buffered output again
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                become_child([nothing.fileno(), out.fileno(), err.fileno()], str(folder), env,
                             new_group=False)
                code = run_as_main(module, argv)
            finally:
                _exit_child(code)
        child = os.pidfd_open(pid)
        try:
            ended, _, _ = select.select([child], [], [], timeout)
        finally:
            os.close(child)
        if not ended:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if not ended:
            raise subprocess.TimeoutExpired(module, timeout)
        out.seek(0)
        err.seek(0)
        return Finished(status, out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"))


# -- the servers' starter ---------------------------------------------------------------

@dataclass
class Server:
    """A started fork server: its process, the socket it serves, and the folder of the
    socket when the server made it (removed when it stops)."""

    process: subprocess.Popen
    socket: Path
    own_folder: Path | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()
        if self.own_folder is not None:
            shutil.rmtree(self.own_folder, ignore_errors=True)


class ForkedServer:
    """A fork server forked from this process (fork_serve): its pid, the socket it serves,
    its folder, and the pipe whose closing ends it (its standard input's other end)."""

    def __init__(self, pid: int, socket_path: Path, folder: Path, lifeline: int):
        self.pid, self.socket, self.own_folder, self._lifeline = pid, socket_path, folder, lifeline

    def alive(self) -> bool:
        try:
            return os.waitpid(self.pid, os.WNOHANG)[0] == 0
        except ChildProcessError:  # reaped: by us, or by whoever waited for any child
            return False

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lifeline)
        if self.alive():
            _kill_group(self.pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
        shutil.rmtree(self.own_folder, ignore_errors=True)


def fork_serve(modules: list[str]) -> ForkedServer:
    """A server of `modules`, forked from this process rather than started: a fork instead of
    an interpreter's start and the imports (0.15-0.2 s of CPU), its socket in a new folder
    of this user's. This process must be one a server could be (one thread, nothing run that
    the runs must not inherit), and the server dies with it."""
    folder = Path(tempfile.mkdtemp(prefix="digitlab-"))
    path = folder / "fork-server.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(8)
        end_of_life, lifeline = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the server would print this process's buffered output again
        parent, pid = os.getpid(), os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(lifeline)
                os.setpgid(0, 0)  # its runs have groups of their own; stop() kills this one
                _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                if os.getppid() != parent:
                    return  # its parent died before the line above
                os.dup2(end_of_life, 0)  # serve() ends when this process's end closes it
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # its "ready": nobody waits
                sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the server's, for its life
                code = serve(listener.fileno(), modules)
            finally:
                _exit_child(code)
        os.close(end_of_life)
    return ForkedServer(pid, path, folder, lifeline)


def start(modules: list[str], folder: str | Path | None = None, *, prefix: list[str] = (),
          env: dict[str, str] | None = None, cwd: str | Path | None = None,
          seconds: float = 60, program: list[str] | None = None) -> Server:
    """Start a server that imports `modules`, with its socket in `folder`, a folder that
    only this user may enter (the server needs no access to it: it inherits the socket);
    None: a new one, removed when the server stops. prefix: the command that starts it (a
    sandbox's launcher); env and cwd: its environment and working folder; program: the
    server's command before LISTENING_FD (None: this file's `serve`). ServerGone if it does
    not start within `seconds`.
    """
    program = program or [sys.executable, "-I", __file__, "serve"]
    own_folder = None if folder is not None else Path(tempfile.mkdtemp(prefix="digitlab-"))
    path = Path(folder or own_folder) / "fork-server.sock"
    path.unlink(missing_ok=True)  # a stopped server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        listener.listen(8)
        process = subprocess.Popen(
            [*prefix, *program, str(listener.fileno()), *modules], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, pass_fds=[listener.fileno()], cwd=cwd)
    finally:
        listener.close()
    ready, _, _ = select.select([process.stdout], [], [], seconds)
    if not ready or process.stdout.readline().decode().strip() != STARTED:
        process.kill()
        process.wait()
        if own_folder is not None:
            shutil.rmtree(own_folder, ignore_errors=True)
        raise ServerGone(f"the fork server did not start (status {process.returncode})")
    return Server(process, path, own_folder)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "serve":
        return serve(int(argv[1]), argv[2:])
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":  # -I: neither this file's folder nor the working one is on sys.path
    sys.exit(main(sys.argv[1:]))
