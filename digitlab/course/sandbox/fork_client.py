"""The callers' half of the fork servers (fork_server.py): the protocol, and the two small
programs that stand between a caller and a server's run.

    python -I -S fork_client.py run SOCKET MODULE [ARGUMENT...]
    python -I -S fork_client.py stand-in SOCKET MODULE ARGV_JSON SETTINGS_JSON -- PLAIN...

`run` asks the server at SOCKET for one run of `python -I -m MODULE ARGUMENTS...`, with its
own standard streams, environment and working folder, and exits with the run's status, or
SERVER_GONE when the server failed it. Interrupted, it returns once the server has killed
the run. The hidden checks in a kernel start it through subprocess.run, and the grader its
autogrades (grading/autograde_servers.py). `stand-in` is what jupyter_client starts in
place of a kernel that a kernel server forks (stand_in: signals, exit status), and becomes
PLAIN (the launcher's command) when the server cannot start the kernel.

Each message is its length, then that many bytes of JSON, with the run's descriptors
passed alongside (SCM_RIGHTS). A grader starts one of these programs for every check
and every kernel, a dozen and more per student, so this file imports only what they need,
from the standard library, and they start without site (-S): 0.02-0.03 s of CPU each, where
the whole fork_server.py with site took 0.04-0.07 s. Run by file, like fork_server.py: it
may be started in a student's folder, where a json.py of theirs must never be imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys

MAX_FDS = 32  # descriptors passed with one request: stdin, stdout, stderr, files, results
MAX_MESSAGE = 4 * 2**20  # bytes of one request or reply (an environment is a few KiB)
LENGTH_BYTES = 8  # each message is its length, then that many bytes of JSON
KILLED_GRACE = 10  # seconds a server has to confirm a run killed before it is given up
# The `run` client's exit status when the server failed it (not the run's): its caller may
# then run the module without a server (EX_TEMPFAIL, sysexits.h).
SERVER_GONE = 75


class ServerGone(RuntimeError):
    """The server is not running, or stopped answering mid-run."""


def send_message(connection: socket.socket, message: dict, fds: list[int] = ()) -> None:
    """Send one message (its length, then its JSON), with `fds` passed alongside."""
    data = json.dumps(message).encode()
    header = len(data).to_bytes(LENGTH_BYTES, "big")
    if fds:
        socket.send_fds(connection, [header + data], list(fds))
    else:
        connection.sendall(header + data)


def receive_message(connection: socket.socket, with_fds: bool = False) -> tuple[dict, list[int]]:
    """One message and the descriptors sent with it; ServerGone on a closed connection."""
    fds = []
    if with_fds:
        data, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, MAX_FDS)
    else:
        data = connection.recv(MAX_MESSAGE)
    while data and len(data) < LENGTH_BYTES + _length(data) <= LENGTH_BYTES + MAX_MESSAGE:
        more = connection.recv(MAX_MESSAGE)
        if not more:
            break
        data += more
    if not data or len(data) != LENGTH_BYTES + _length(data):
        for fd in fds:
            os.close(fd)
        raise ServerGone("the connection closed mid-message")
    return json.loads(data[LENGTH_BYTES:]), fds


def _length(data: bytes) -> int:
    """The length a message's first bytes announce (0 until they have all arrived)."""
    return int.from_bytes(data[:LENGTH_BYTES], "big") if len(data) >= LENGTH_BYTES else 0


# -- the callers -----------------------------------------------------------

def request(socket_path: str | os.PathLike, module: str, argv: list[str], *, env: dict[str, str],
            stdio: tuple[int, int, int], cwd: str | None = None,
            files: dict[str, int] | None = None, collect: dict[str, int] | None = None,
            timeout: float | None = None) -> tuple[int, tuple[str, ...]]:
    """Run `module` with `argv` through the server at socket_path; (exit status, collected).

    stdio: the descriptors of the run's stdin, stdout and stderr. cwd: its working folder;
    None: a new folder of the server's, with `files` ({name: readable descriptor}) copied
    in and, after the run, `collect` ({name: writable descriptor}) copied out.
    subprocess.TimeoutExpired after `timeout` seconds, once the run is killed.
    ServerGone when the server does not answer.
    """
    files, collect = files or {}, collect or {}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection, \
            contextlib.ExitStack() as opened:
        try:
            folder = []
            if cwd is not None:  # as a descriptor: the server may not reach it by its path
                folder = [os.open(cwd, os.O_RDONLY | os.O_DIRECTORY)]
                opened.callback(os.close, folder[0])
            connection.connect(str(socket_path))
            send_message(connection, {"module": module, "argv": argv, "env": env,
                                      "cwd": cwd is not None, "files": list(files),
                                      "collect": list(collect)},
                         [*stdio, *folder, *files.values(), *collect.values()])
            try:
                ready, _, _ = select.select([connection], [], [], timeout)
            except KeyboardInterrupt:  # the caller gives up: its run ends before it does
                _give_up(connection)
                raise
            if not ready:
                _give_up(connection)
                raise subprocess.TimeoutExpired(module, timeout)
            reply, _ = receive_message(connection)
            return int(reply["returncode"]), tuple(map(str, reply["collected"]))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise ServerGone(f"the fork server at {socket_path} failed: {error}") from error


# The signals a stand-in passes on to its run: interrupts to the run's process group, as
# jupyter_client sends them to a kernel's (killpg), the stack dump request to the run.
TO_GROUP, TO_RUN = (signal.SIGINT,), (signal.SIGUSR1,)


class _Ended(Exception):
    """The stand-in was told to end (SIGTERM): its run ends with it."""


def stand_in(socket_path: str, module: str, argv: list[str], settings: dict,
             plain: list[str]) -> int:
    """Be the run of `module argv` (forked by the server at socket_path, which enters the
    sandbox of `settings` first) to whoever started this process: its interrupts go to
    the run's group, SIGUSR1 to the run; SIGTERM, SIGKILL or this process's end kill the
    run's group; and this process ends when the run does, with its status (the same
    signal when a signal ended it). When the server cannot start the run, this process
    becomes `plain` instead (exec), the same run started afresh.
    """
    forwarded = {*TO_GROUP, *TO_RUN, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)  # held until there is a run
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        here = os.open(".", os.O_RDONLY | os.O_DIRECTORY)  # not its path: see main's `run`
        try:
            connection.connect(socket_path)
            send_message(connection, {"module": module, "argv": argv, "env": dict(os.environ),
                                      "cwd": True, "enter": settings, "pid": True},
                         [0, 1, 2, here])
        finally:
            os.close(here)
        started, _ = receive_message(connection)
        pid = int(started["pid"])
    except (OSError, ServerGone, ValueError, KeyError, TypeError) as error:
        print(f"The kernel server at {socket_path} failed ({error}): starting the kernel "
              "afresh.", file=sys.stderr, flush=True)
        connection.close()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
        os.execv(plain[0], plain)

    def forward(number: int, _frame) -> None:
        with contextlib.suppress(ProcessLookupError):  # its group may have left it
            (os.killpg if number in TO_GROUP else os.kill)(pid, number)

    def end(_number: int, _frame) -> None:
        raise _Ended

    for number in forwarded:
        signal.signal(number, end if number == signal.SIGTERM else forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, forwarded)
    try:
        reply, _ = receive_message(connection)
        status = int(reply["returncode"])
    except _Ended:
        _give_up(connection)
        status = -signal.SIGTERM
    except (OSError, ServerGone, ValueError, KeyError, TypeError):
        return SERVER_GONE  # the server died, and its run with it
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)  # nothing forwarded from here
        connection.close()
    if status >= 0:
        return status
    # Ended by a signal: end by the same one, so the caller sees what it would of the run
    # (jupyter_client's -SIGXCPU is the CPU limit), without a core file in the run's folder.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(-status, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {-status})
    os.kill(os.getpid(), -status)
    return 128 - status  # a signal whose default is not to end a process


def run_command(socket_path: str | os.PathLike, module: str, argv: list[str]) -> list[str]:
    """The command of a `run` client: `module argv` run by the server at socket_path."""
    return [sys.executable, "-I", "-S", __file__, "run", str(socket_path), module, *argv]


def stand_in_command(socket_path: str | os.PathLike, module: str, argv: list[str],
                     settings: dict, plain: list[str]) -> list[str]:
    """The command of a stand-in (see stand_in) for `module argv` in a sandbox with the
    launcher's `settings`, or `plain` when the server at socket_path fails."""
    return [sys.executable, "-I", "-S", __file__, "stand-in", str(socket_path), module,
            json.dumps(argv), json.dumps(settings), "--", *plain]


def _give_up(connection: socket.socket) -> None:
    """Tell the server to kill the run, and wait (KILLED_GRACE s at most) until it has."""
    connection.shutdown(socket.SHUT_WR)
    select.select([connection], [], [], KILLED_GRACE)


def main(argv: list[str]) -> int:
    if len(argv) >= 7 and argv[0] == "stand-in" and argv[5] == "--":
        return stand_in(argv[1], argv[2], json.loads(argv[3]), json.loads(argv[4]), argv[6:])
    if len(argv) >= 3 and argv[0] == "run":
        # A grader started in the background of a script (`digitlab grade ... &`) starts its
        # clients with SIGINT ignored; an interrupt is how the grader stops one.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            # ".", not its path: a kernel is given its folder by root, and its user may
            # not traverse the folders above it.
            status, _ = request(argv[1], argv[2], argv[3:], env=dict(os.environ),
                                stdio=(0, 1, 2), cwd=".")
        except ServerGone as error:
            print(error, file=sys.stderr)
            return SERVER_GONE
        except KeyboardInterrupt:  # the run is killed: as a shell tells an interrupted one
            return 128 + signal.SIGINT
        return status if status >= 0 else 128 - status
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":  # -I: neither this file's folder nor the working one is on sys.path
    sys.exit(main(sys.argv[1:]))
