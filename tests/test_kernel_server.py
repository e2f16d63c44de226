"""The kernel server (digitlab.course.sandbox.kernel_server): each grading kernel is a fork
of it that entered its own sandbox first, and fork_server's stand-in client is that kernel
to jupyter_client: interrupts, SIGUSR1, the CPU limit's signal, its death and exit status.
A server that is gone costs nothing: the stand-in starts the kernel afresh.

Real kernels through LimitedKernelManager, as LimitedExecute drives them; the sandbox's user
and cgroup need root.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from digitlab.course.grading.autograde_servers import AutogradeServers
from digitlab.course.sandbox import fork_client, fork_server, kernel_server
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import KERNEL_SERVER_VARIABLE, LimitedKernelManager, machine

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not machine().cgroup,
                                reason="the sandbox's user and cgroup need root")
SECONDS = 60  # any wait on a kernel: far above what it takes


SECRET = "DIGITLAB_DB_URL"  # one of the grader's variables that no kernel may see


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    os.environ[SECRET] = "postgresql://grader:secret@gradebook/course"
    try:
        started = kernel_server.start(tmp_path_factory.mktemp("kernel-server"))
    finally:
        del os.environ[SECRET]
    yield started
    started.stop()


@pytest.fixture
def folder(tmp_path) -> Path:
    """A notebook's folder: the kernel's user may enter and read it (open_to_kernel's)."""
    tmp_path.chmod(0o755)
    return tmp_path


def gone_soon(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not Path(f"/proc/{pid}").exists()


async def _with_kernel(server_socket, folder: Path, test, limits: GradingLimits):
    os.environ[KERNEL_SERVER_VARIABLE] = str(server_socket)
    manager = LimitedKernelManager(kernel_name="python3", limits=limits)
    try:
        await manager.start_kernel(cwd=str(folder))
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=SECONDS)
            return await test(manager, client)
        finally:
            client.stop_channels()
    finally:
        del os.environ[KERNEL_SERVER_VARIABLE]
        await manager.shutdown_kernel(now=True)


def with_kernel(server_socket, folder: Path, test, limits: GradingLimits | None = None):
    """Run `await test(manager, client)` with a ready kernel started through the server."""
    return asyncio.run(_with_kernel(server_socket, folder, test,
                                    limits or GradingLimits(cpu_seconds=SECONDS)))


async def run(client, code: str) -> tuple[dict, str]:
    """Execute code; (its reply's content, what it printed)."""
    printed = []

    def output(message):
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = await client.execute_interactive(code, timeout=SECONDS, output_hook=output)
    return reply["content"], "".join(printed)


def test_a_kernel_is_a_fork_that_entered_its_sandbox_before_anything_else(server, folder):
    async def test(manager, client):
        _, printed = await run(client, (
            "import os, resource, sys, tempfile\n"
            "usage = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(os.getuid(), os.getcwd(), tempfile.gettempdir(),\n"
            "      resource.getrlimit(resource.RLIMIT_CPU), usage.ru_utime + usage.ru_stime,\n"
            "      'numpy' in sys.modules, os.getpid() == os.getpgid(0),\n"
            "      sorted(os.environ).count('DIGITLAB_KERNEL_SERVER'),\n"
            f"      open('/proc/self/environ', 'rb').read().count(b'{SECRET}'),\n"
            "      os.readlink('/proc/self/ns/net'))"))
        return manager, manager.provisioner.process.args, printed.split()

    manager, command, printed = with_kernel(server.socket, folder, test)
    uid, cwd, temporary, soft, hard, cpu, preloaded, leader, variable, secret, network = printed
    sandbox = manager.sandbox
    assert command[3:5] == [fork_client.__file__, "stand-in"]
    assert int(uid) == sandbox.account.pw_uid
    assert cwd == str(folder)
    assert temporary == str(sandbox.directory / "tmp")  # its TMPDIR, not the server's
    assert (soft, hard) == (f"({SECONDS},", f"{SECONDS + 5})")
    # The CPU limit counts from the fork: the server's imports are not the kernel's.
    assert float(cpu) < 1.0
    assert preloaded == "True" and leader == "True"
    assert variable == secret == "0"  # nor in the environment its server started with
    if machine().network:  # a network namespace of its own, as the launcher gives
        assert network != os.readlink("/proc/self/ns/net")


def test_a_kernels_server_of_the_checks_is_its_fork_from_before_its_first_cell(server, folder):
    """hidden_check's server in a forked kernel: already there at the first cell, a child of
    the kernel in its sandbox (its user), and it runs a check's child for the kernel."""
    async def test(manager, client):
        _, printed = await run(client, (
            "import os\n"
            "from digitlab.course.checks import hidden_check\n"
            "from digitlab.course.sandbox import fork_client\n"
            "checks = hidden_check._server\n"
            "stat = open(f'/proc/{checks.pid}/stat').read().rsplit(')', 1)[1].split()\n"
            "status, _ = fork_client.request(\n"
            "    checks.socket, 'timeit', ['-n', '1', '-r', '1', 'pass'],\n"
            "    env=dict(os.environ), stdio=(0, 1, 2), cwd='.')\n"
            "print(type(checks).__name__, int(stat[1]) == os.getpid(),\n"
            "      os.stat(f'/proc/{checks.pid}').st_uid == os.getuid(), status)"))
        return printed.split()[-4:]

    assert with_kernel(server.socket, folder, test) == ["ForkedServer", "True", "True", "0"]


def test_interrupts_and_sigusr1_reach_the_kernel_through_its_stand_in(server, folder):
    async def test(manager, client):
        await run(client, "import signal\nhits = []\n"
                          "signal.signal(signal.SIGUSR1, lambda *_: hits.append(1))")
        os.kill(manager.provisioner.process.pid, signal.SIGUSR1)  # as a stack dump is asked
        asked = asyncio.ensure_future(run(client, "import time\ntime.sleep(30)"))
        await asyncio.sleep(1)
        started = time.monotonic()
        await manager.interrupt_kernel()  # killpg of the stand-in's group
        reply, _ = await asked
        _, hits = await run(client, "print(len(hits))")
        return reply, time.monotonic() - started, hits

    reply, seconds, hits = with_kernel(server.socket, folder, test)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert seconds < 10
    assert hits.strip() == "1"


def test_the_cpu_limit_ends_the_stand_in_as_it_ends_the_kernel(server, folder):
    async def test(manager, client):
        client.execute("while True: pass")
        process = manager.provisioner.process
        deadline = time.monotonic() + SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return process.poll()

    # bounded_execute names the CPU limit from this status
    assert with_kernel(server.socket, folder, test,
                       GradingLimits(cpu_seconds=1)) == -signal.SIGXCPU


def test_a_killed_stand_in_ends_the_kernels_group_and_its_student_cannot_reach_the_server(
        server, folder):
    async def test(manager, client):
        _, printed = await run(client, (
            "import os, socket, subprocess\n"
            "child = subprocess.Popen(['sleep', '60'])\n"
            f"reach = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            f"    reach.connect({str(server.socket)!r})\n"
            "except OSError as error:\n"
            "    refused = type(error).__name__\n"
            "try:\n"
            "    os.kill(os.getppid(), 9)\n"
            "except OSError as error:\n"
            "    refused += ' ' + type(error).__name__\n"
            "print(os.getpid(), child.pid, refused)"))
        kernel, child, *refused = printed.split()
        manager.provisioner.process.kill()
        return int(kernel), int(child), refused

    kernel, child, refused = with_kernel(server.socket, folder, test)
    assert refused == ["PermissionError", "PermissionError"]
    assert gone_soon(kernel) and gone_soon(child)
    assert server.alive()


def test_without_its_server_a_kernel_starts_afresh(tmp_path_factory, folder):
    gone = kernel_server.start(tmp_path_factory.mktemp("gone"))
    gone.process.kill()
    gone.process.wait()

    async def test(manager, client):
        _, printed = await run(client, "import os, sys\nprint(os.getuid(), sys.flags.isolated)")
        return manager, printed.split()

    manager, (uid, isolated) = with_kernel(gone.socket, folder, test)
    assert int(uid) == manager.sandbox.account.pw_uid
    assert isolated == "0"  # the launcher's `python grading_kernel.py`, not a fork
    gone.stop()


def test_a_server_not_given_a_sandbox_refuses_to_enter_one_and_the_stand_in_starts_afresh(
        tmp_path):
    plain = fork_server.start(["json"])
    try:
        ran = subprocess.run(fork_client.stand_in_command(
            plain.socket, "json.tool", [], {"rlimits": {"cpu": 1}}, ["/bin/echo", "afresh"]),
            cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS)
    finally:
        plain.stop()
    assert ran.returncode == 0 and ran.stdout == "afresh\n"
    assert "starting the kernel afresh" in ran.stderr


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_kernels_orphans_come_to_the_server_which_reaps_them(server, folder):
    """Not to PID 1, which may take seconds: the sandbox's clean-up waits for every process
    of its user to be gone, zombies included."""
    async def test(manager, client):
        _, printed = await run(client, "import os, subprocess\n"  # out of the kernel's group
                                       "child = subprocess.Popen(['sleep', '60'],\n"
                                       "                         start_new_session=True)\n"
                                       "print(os.getpid(), child.pid)")
        kernel, child = map(int, printed.split())
        os.kill(kernel, signal.SIGKILL)
        deadline = time.monotonic() + SECONDS
        while parent_of(child) == kernel and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        adopted_by = parent_of(child)
        os.kill(child, signal.SIGKILL)
        return adopted_by, child

    adopted_by, child = with_kernel(server.socket, folder, test)
    assert adopted_by == server.process.pid
    assert gone_soon(child, seconds=2)


def test_a_students_module_beside_the_notebook_does_not_shadow_what_the_server_imported(
        server, folder):
    """A decision: the course's numpy and digitlab are those the kernel server imported,
    whatever the submission's folder holds (a fresh kernel would import its numpy.py)."""
    (folder / "numpy.py").write_text("SHADOW = True\n")
    (folder / "digitlab").mkdir()
    (folder / "digitlab" / "__init__.py").write_text("SHADOW = True\n")
    for path in (folder / "numpy.py", folder / "digitlab", folder / "digitlab" / "__init__.py"):
        path.chmod(0o755)

    async def test(manager, client):
        _, printed = await run(client, "import numpy, digitlab\n"
                                       "print(hasattr(numpy, 'SHADOW'), hasattr(digitlab, "
                                       "'SHADOW'), hasattr(numpy, 'ndarray'))")
        return printed.split()

    assert with_kernel(server.socket, folder, test) == ["False", "False", "True"]


def test_a_slot_starts_its_kernel_server_once_and_starts_kernels_afresh_once_it_died(
        tmp_path, caplog):
    servers = AutogradeServers()
    try:
        first = servers.environment(1, {"PATH": "/bin"}, tmp_path)
        socket_path = first[KERNEL_SERVER_VARIABLE]
        assert first == servers.environment(1, {"PATH": "/bin"}, tmp_path)
        assert first == {"PATH": "/bin", KERNEL_SERVER_VARIABLE: socket_path}
        assert servers.environment(2, {}, tmp_path)[KERNEL_SERVER_VARIABLE] != socket_path
        assert Path(socket_path).parent.stat().st_mode & 0o777 == 0o700  # the grader's only
        assert not servers.kernel_server_failed(1)

        server = servers._kernel_servers[1]  # killed as an out-of-memory killer would
        server.process.kill()
        server.process.wait()
        assert servers.kernel_server_failed(1)  # the student is graded again, afresh
        assert not servers.kernel_server_failed(1)  # once
        assert servers.environment(1, {"PATH": "/bin"}, tmp_path) == {"PATH": "/bin"}
        assert "Grading slot 1 starts each kernel afresh from now on" in caplog.text
    finally:
        servers.stop()
    assert servers.environment(2, {}, tmp_path) == {}  # stopped: no server starts again
