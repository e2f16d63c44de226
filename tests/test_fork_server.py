"""The fork server (digitlab.course.sandbox.fork_server): each run is what `python -I -m
MODULE ARGUMENTS` would be, started from the server's clean state, and ends with its group,
whether it finishes, times out or loses its caller. Then the two places that use it: the
kernel's check() and the grader's sandbox (Sandbox.run_module, as root only).

Runs use real modules: the competition's scorer (argv, environment, working folder, exit
status), and the standard library's timeit, whose -s option runs the code a test gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from digitlab.competition import write_submission
from digitlab.course.checks import hidden_check
from digitlab.course.checks.score_submission import KEY_VARIABLE
from digitlab.course.sandbox import fork_client, fork_server
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.process_tree import processes_of
from digitlab.course.sandbox.sandbox import Sandbox, machine

SCORER = "digitlab.course.checks.score_submission"
LABELS = np.array([3, 7, 7, 1])


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone_soon(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


@pytest.fixture(scope="module")
def server():
    started = fork_server.start([SCORER])
    yield started
    started.stop()


def client(server, module: str, *arguments: str, folder: Path, **kwargs):
    """The kernel's way in: `fork_client.py run SOCKET MODULE ARGUMENTS` in `folder`."""
    return subprocess.run(fork_client.run_command(server.socket, module, list(arguments)),
                          cwd=folder, capture_output=True, text=True, **kwargs)


def code(source: str) -> list[str]:
    """timeit's arguments that run `source` once."""
    return ["-n", "1", "-r", "1", "-s", source, "pass"]


def published(expression: str, name: str) -> str:
    """Source that writes `expression`'s value to the file `name` whole: the test waits for
    the file to appear, and must never read it half-written."""
    return (f"open('{name}.partial', 'w').write({expression}); "
            f"os.rename('{name}.partial', '{name}')")


def test_a_run_is_the_module_run_as_main_in_the_callers_folder_and_environment(server,
                                                                              tmp_path):
    write_submission(LABELS, tmp_path / "key.csv")
    write_submission(np.array([3, 2, 7, 1]), tmp_path / "submission.csv")
    env = {**os.environ, KEY_VARIABLE: str(tmp_path / "key.csv")}

    passing = client(server, SCORER, "submission.csv", "--at-least", "0.7", folder=tmp_path,
                     env=env)
    failing = client(server, SCORER, "submission.csv", "--at-least", "0.8", folder=tmp_path,
                     env=env)
    without_key = client(server, SCORER, "submission.csv", folder=tmp_path)
    refused = client(server, SCORER, "--no-such-option", folder=tmp_path)

    assert (passing.returncode, passing.stdout) == (0, "Competition accuracy: 75.0%\n")
    assert (failing.returncode, failing.stdout) == (1, "Competition accuracy: 75.0%. "
                                                       "Below 80%.\n")
    assert without_key.returncode == hidden_check.ONLY_OUTSIDE, without_key
    assert refused.returncode == 2 and "arguments are required: submission" in refused.stderr


def test_each_run_starts_from_the_servers_state_not_the_last_runs(server, tmp_path):
    """What one run's code does to the modules it shares with the server (numpy, here)
    reaches no later run."""
    patch = ("import numpy, os; print('patched before:', hasattr(numpy, 'mark'), "
             "os.getpid() != int(os.environ['SERVER'])); numpy.mark = True")
    env = {**os.environ, "SERVER": str(server.process.pid)}
    runs = [client(server, "timeit", *code(patch), folder=tmp_path, env=env)
            for _ in range(2)]
    assert [run.stdout.splitlines()[0] for run in runs] == ["patched before: False True"] * 2
    assert not hasattr(np, "mark")


def test_a_run_past_its_timeout_is_killed_with_its_group_and_the_server_goes_on(server,
                                                                              tmp_path):
    sleeper = ("import os, subprocess, time; " + published(
        "f'{os.getpid()} {subprocess.Popen([\"sleep\", \"600\"]).pid}'", "pids")
        + "; time.sleep(600)")
    with open(os.devnull, "rb") as nothing, open(tmp_path / "out", "wb") as out:
        begun = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired):
            fork_client.request(server.socket, "timeit", code(sleeper), env=dict(os.environ),
                                stdio=(nothing.fileno(), out.fileno(), out.fileno()),
                                cwd=str(tmp_path), timeout=1)
    assert time.monotonic() - begun < 5
    # SIGKILL reaches the whole group at once, but a busy machine may take a moment to
    # schedule the grandchild's exit.
    pids = (tmp_path / "pids").read_text().split()
    assert len(pids) == 2 and all(gone_soon(int(pid)) for pid in pids)
    assert client(server, "timeit", *code("print('still serving')"),
                  folder=tmp_path).stdout.startswith("still serving")


@pytest.mark.parametrize("interrupt", [signal.default_int_handler, signal.SIG_IGN],
                         ids=["as-is", "ignored-by-its-starter"])
def test_a_run_whose_caller_is_killed_is_killed_too(server, tmp_path, interrupt):
    """A cell timeout interrupts the kernel and subprocess.run kills the client: the run
    must not go on without anyone waiting for it. The client takes the interrupt even
    when it was started with SIGINT ignored, as a script's background job starts it."""
    source = "import os, time; " + published("str(os.getpid())", "pid") + "; time.sleep(600)"
    caller = subprocess.Popen(fork_client.run_command(server.socket, "timeit", code(source)),
                              cwd=tmp_path,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, interrupt))
    deadline = time.monotonic() + 30
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        run = int((tmp_path / "pid").read_text())
    finally:  # even when the run never wrote, so that it cannot hold the server for the next test
        caller.send_signal(signal.SIGINT)  # as the kernel's interrupt reaches its group
        status = caller.wait(timeout=10)
    assert status == 128 + signal.SIGINT  # as a shell tells an interrupt
    assert gone_soon(run)


def test_files_go_in_and_only_plain_files_come_out(server, tmp_path):
    """With a folder of the server's own: files in from descriptors, results out into
    descriptors, never through a link or a pipe that the run put in the result's place."""
    source = tmp_path / "in.json"
    source.write_text('{"b": 1, "a": 2}')
    outputs = {name: tmp_path / name for name in ("out.json", "link", "pipe")}
    writer = ("import json, os, pathlib; json.dump(json.load(open('in.json')), "
              "open('out.json', 'w'), sort_keys=True); os.symlink('/etc/passwd', 'link'); "
              "os.mkfifo('pipe'); print(os.getcwd())")
    with open(os.devnull, "rb") as nothing, open(tmp_path / "stdout", "wb") as out, \
            open(source, "rb") as given:
        wanted = {name: open(path, "wb") for name, path in outputs.items()}  # noqa: SIM115
        try:
            status, collected = fork_client.request(
                server.socket, "timeit", code(writer), env=dict(os.environ),
                stdio=(nothing.fileno(), out.fileno(), out.fileno()),
                files={"in.json": given.fileno()},
                collect={name: file.fileno() for name, file in wanted.items()}, timeout=30)
        finally:
            for file in wanted.values():
                file.close()
    assert (status, collected) == (0, ("out.json",))
    assert outputs["out.json"].read_text() == '{"a": 2, "b": 1}'
    assert outputs["link"].read_bytes() == outputs["pipe"].read_bytes() == b""
    run_folder = Path((tmp_path / "stdout").read_text().splitlines()[0])
    assert run_folder != tmp_path and not run_folder.exists()  # removed after the run


def test_fork_run_is_subprocess_run_without_a_new_interpreter(tmp_path):
    finished = fork_server.fork_run("timeit", code("import os; print(os.getcwd())"),
                                    tmp_path, dict(os.environ))
    assert finished.returncode == 0 and finished.stdout.startswith(f"{tmp_path}\n")
    with pytest.raises(subprocess.TimeoutExpired):
        fork_server.fork_run("timeit", code("import time; time.sleep(600)"), tmp_path,
                             dict(os.environ), timeout=0.5)


def test_the_kernels_checks_share_one_server_started_again_if_killed(tmp_path, monkeypatch):
    write_submission(LABELS, tmp_path / "key.csv")
    write_submission(LABELS, tmp_path / "submission.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "key.csv"))
    hidden_check.check("score_submission", "submission.csv")
    first = hidden_check._server.process.pid
    hidden_check.check("score_submission", "submission.csv")
    assert hidden_check._server.process.pid == first
    os.kill(first, signal.SIGKILL)  # the student's code may do that
    hidden_check._server.process.wait()
    hidden_check.check("score_submission", "submission.csv", "--at-least", "1")
    assert hidden_check._server.process.pid != first


def test_a_server_forked_from_this_process_serves_and_ends_with_it(tmp_path):
    """fork_serve: the same service as a started server, without an interpreter's start; its
    stop (or this process's end: the pipe it reads closes) ends it and removes its folder."""
    forked = fork_server.fork_serve([SCORER])
    try:
        ran = client(forked, "timeit", *code("import sys; print(sorted(sys.modules)[:0])"),
                     folder=tmp_path)
        assert ran.returncode == 0 and ran.stdout.startswith("[]"), ran.stderr
        assert forked.alive() and Path(f"/proc/{forked.pid}").exists()
    finally:
        forked.stop()
    assert not forked.alive() and gone_soon(forked.pid) and not forked.own_folder.exists()


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not machine().cgroup,
                                reason="the sandbox's user and cgroup need root")


@needs_root
def test_the_graders_runs_are_sandboxed_and_leave_nothing_running():
    """Sandbox.run_module: each run as the slot user under the limits, from the server in
    the sandbox; what a run leaves running is killed before the next; nothing survives."""
    box = Sandbox(GradingLimits())
    report = ("import os, resource, subprocess; subprocess.Popen(['sleep', '600'], "
              "start_new_session=True); open('r.txt', 'w').write(f'{os.getuid()} "
              "{resource.getrlimit(resource.RLIMIT_CPU)} {os.environ.get(\"GRADER_SECRET\")} "
              "{os.getppid()}')")
    try:
        os.environ["GRADER_SECRET"] = "secret"
        runs = []
        for _ in range(2):
            finished, results = box.run_module("timeit", code(report), {}, "r.txt", 30)
            runs.append((finished.returncode, results.read_text()))
        server = box._server.process.pid
        left = [pid for pid in processes_of(box.account.pw_uid) if pid != server]
        assert all(gone_soon(pid) for pid in left)
    finally:
        del os.environ["GRADER_SECRET"]
        box.close()
    limits = GradingLimits()
    assert runs == [(0, f"{box.account.pw_uid} ({limits.cpu_seconds}, "
                        f"{limits.cpu_seconds + 5}) None {server}")] * 2
    assert processes_of(box.account.pw_uid) == []
    assert not box.directory.exists()


@needs_root
def test_a_run_can_neither_read_its_server_nor_stop_the_next_run():
    """The server is not dumpable: a run (the slot user, as the server) cannot read its
    memory or environment. A run that kills it fails alone; the next run gets a new one."""
    box = Sandbox(GradingLimits())
    peek = ("import os\ntry:\n    open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
            "    print('read')\nexcept PermissionError:\n    print('refused')")
    try:
        peeked, _ = box.run_module("timeit", code(peek), {}, "r.txt", 30)
        first = box._server.process.pid
        with pytest.raises(fork_server.ServerGone):
            box.run_module("timeit", code("import os, signal; os.kill(os.getppid(), "
                                          "signal.SIGKILL)"), {}, "r.txt", 30)
        after, _ = box.run_module("timeit", code("print('served')"), {}, "r.txt", 30)
        second = box._server.process.pid
    finally:
        box.close()
    assert peeked.stdout.startswith("refused"), peeked
    assert after.stdout.startswith("served") and second != first
