"""One fork server per grading slot, so that nbgrader starts once per slot, not per student.

Each student's autograde was a new `python -m digitlab.course.grading.nbgrader_app autograde`
process, and its start (the interpreter, then nbgrader, nbconvert, SQLAlchemy, traitlets and
the course's preprocessors imported) cost 1.3-1.5 CPU s of about 10. A slot's server
(digitlab.course.sandbox.fork_server) imports them once; each autograde of the slot is then
the server's small `run` client, whose run is a fork of the server with the client's argv,
environment, working folder and standard streams. The client is what grade.Autogrades
starts and waits for, as it did nbgrader: its exit status is the run's; killed or gone, the
server kills the run's process group; interrupted (SIGINT), it returns only once the server
has killed the run. A run dies with its server, and a server ends when the grader does (its
standard input closes).

A server that cannot start, or fails mid-run (killed, out of memory), costs no student: the
slot falls back to the plain start for the rest of the grading, with a logged warning, and
the student whose run it failed is graded again that way.

Each slot also has a kernel server (sandbox/kernel_server.py), whose socket the slot's
autogrades find in $DIGITLAB_KERNEL_SERVER: their grading kernels are its forks. The same
holds for it: one that cannot start leaves the slot's kernels started afresh, and one that
died during a student's autograde (its kernels died with it) has the student graded again.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from digitlab.course.grading.gradebook import NBGRADER_MODULE
from digitlab.course.sandbox import fork_client, fork_server, kernel_server
from digitlab.course.sandbox.sandbox import KERNEL_SERVER_VARIABLE

log = logging.getLogger(__name__)

# What an autograde imports at some cost (python -X importtime on a real one): nbgrader's
# apps (0.8 s), the digit lab's preprocessors, and what nbgrader imports once it runs.
PRELOADED = (NBGRADER_MODULE, "digitlab.course.sandbox.bounded_execute",
             "digitlab.course.checks.verify_outside", "digitlab.course.grading.panel_runs",
             "digitlab.course.grading.rubrics", "digitlab.course.grading.deduplicate",
             "sqlalchemy.dialects.sqlite", "IPython.paths", "ipykernel.kernelspec")
# Seconds a server may take to import them before the slot gives it up (about 1.5 s idle).
START_SECONDS = 60


def client_command(server: fork_server.Server, arguments: list[str]) -> list[str]:
    """The command that runs `nbgrader ARGUMENTS` as a fork of server."""
    return fork_client.run_command(server.socket, NBGRADER_MODULE, arguments)


class AutogradeServers:
    """The fork servers of the grading slots, each started on its slot's first autograde.

    A slot is held by one grader at a time (grade.SlotPool), so a server serves one run at
    a time; the lock only guards the table of servers.
    """

    def __init__(self, modules: tuple[str, ...] = PRELOADED):
        self._modules = list(modules)
        self._lock = threading.Lock()
        self._servers: dict[int, fork_server.Server] = {}
        self._plain: set[int] = set()  # slots whose server failed: plain starts from then
        self._kernel_servers: dict[int, fork_server.Server] = {}
        self._plain_kernels: set[int] = set()  # slots whose kernel server failed
        self._stopped = False

    def command(self, slot: int, arguments: list[str], *, env: dict[str, str],
                cwd: str | Path) -> list[str] | None:
        """The command that runs `nbgrader ARGUMENTS` through the slot's server (the `run`
        client), starting the server on the slot's first use with env and cwd; None when the
        slot has no server: then start nbgrader plainly."""
        server = self._server(slot, env, cwd)
        return None if server is None else client_command(server, arguments)

    def _server(self, slot: int, env: dict[str, str], cwd: str | Path
                ) -> fork_server.Server | None:
        with self._lock:
            if self._stopped or slot in self._plain:
                return None
            server = self._servers.get(slot)
        if server is not None and server.alive():
            return server
        if server is not None:
            self.give_up(slot, f"its server ended (status {server.process.returncode})")
            return None
        try:  # outside the lock: the other slots' autogrades go on meanwhile
            server = fork_server.start(self._modules, env=env, cwd=cwd, seconds=START_SECONDS)
        except (fork_server.ServerGone, OSError) as error:
            self.give_up(slot, f"its server could not start ({error})")
            return None
        with self._lock:
            if not self._stopped:
                self._servers[slot] = server
                return server
        server.stop()  # the grading ended while it started
        return None

    def environment(self, slot: int, env: dict[str, str], cwd: str | Path) -> dict[str, str]:
        """env for an autograde in slot: with the socket of the slot's kernel server (started
        in cwd on the slot's first use) when the slot has one."""
        with self._lock:
            if self._stopped or slot in self._plain_kernels:
                return env
            server = self._kernel_servers.get(slot)
        if server is None:
            try:  # outside the lock, as _server
                server = kernel_server.start(cwd)
            except (fork_server.ServerGone, OSError) as error:
                self._give_up_kernels(slot, f"its kernel server could not start ({error})")
                return env
            with self._lock:
                if self._stopped:
                    server.stop()
                    return env
                self._kernel_servers[slot] = server
        return {**env, KERNEL_SERVER_VARIABLE: str(server.socket)}

    def kernel_server_failed(self, slot: int) -> bool:
        """Whether the slot's kernel server has died (its kernels with it): then the slot
        starts its kernels afresh from now on, and the student must be graded again."""
        with self._lock:
            server = self._kernel_servers.get(slot)
        if server is None or server.alive():
            return False
        self._give_up_kernels(slot, f"its kernel server ended (status "
                                    f"{server.process.returncode})")
        return True

    def _give_up_kernels(self, slot: int, why: str) -> None:
        with self._lock:
            self._plain_kernels.add(slot)
            server = self._kernel_servers.pop(slot, None)
        log.warning("Grading slot %d starts each kernel afresh from now on: %s.", slot, why)
        if server is not None:
            server.stop()

    def give_up(self, slot: int, why: str) -> None:
        """Stop the slot's server (waiting for it: then its run is killed too) and start
        nbgrader plainly in this slot from now on."""
        with self._lock:
            self._plain.add(slot)
            server = self._servers.pop(slot, None)
        log.warning("Grading slot %d starts nbgrader for each student from now on: %s.",
                    slot, why)
        if server is not None:
            server.stop()

    def stop(self) -> None:
        """Stop every server (the grading ended); a later command() starts none."""
        with self._lock:
            self._stopped = True
            servers = [*self._servers.values(), *self._kernel_servers.values()]
            self._servers, self._kernel_servers = {}, {}
        for server in servers:
            server.stop()
