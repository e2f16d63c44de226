"""Bounded grading kernels: real kernels under small limits, each hit by a misbehaving cell.

Each test runs a small generated notebook through LimitedExecute, as `nbgrader autograde`
does, and looks at the cells' outputs, the reported events and the processes left behind.
The sandbox needs root (user switch, cgroups, network namespace): the tests skip without it,
and fail under CI=true, where .ci/run runs as root and creates the grading users.
"""

import itertools
import logging
import os
import pwd
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from lab_browser import require_root
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook
from notebook_factory import reference_answer, write_notebook
from traitlets.config import Config

from digitlab.course.checks.score_submission import KEY_VARIABLE
from digitlab.course.records import EVENTS_VARIABLE, read_events
from digitlab.course.sandbox import budget
from digitlab.course.sandbox.bounded_execute import (
    ERROR_NAME,
    IGNORED_AFTER_SECONDS,
    LimitedExecute,
)
from digitlab.course.sandbox.limits import SLOT_VARIABLE, GradingLimits, MiB
from digitlab.course.sandbox.process_tree import processes_of
from digitlab.course.sandbox.sandbox import Sandbox, check_ready, sandbox
from digitlab.student import NOTEBOOK_01, code_digest

# The tests' own grading users, USERS-1 and USERS-2 (.ci/run makes them), in slot 2. The
# clean-up kills every process of the slot user, and the tests assert which user each of
# their sandboxes gets: so no other grading (the other test worker's, a colleague's `digitlab
# grade`) may take them, and these tests take no other.
USERS = "digitlab-sandbox-test"
SLOT = 2
SMALL = {"cpu_seconds": 5, "notebook_wall_seconds": 20, "memory_bytes": 512 * MiB,
         "processes": 32, "output_bytes": 64 * 1024, "user": USERS}
IGNORE_INTERRUPTS = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"


@pytest.fixture(autouse=True)
def as_root(monkeypatch, tmp_path):
    """Root, the test's own slot, and the events file of a driver in $DIGITLAB_GRADING_EVENTS."""
    require_root("the grading sandbox needs root (user switch, cgroups, network namespace)")
    monkeypatch.setenv(SLOT_VARIABLE, str(SLOT))
    monkeypatch.setenv(EVENTS_VARIABLE, str(tmp_path / "events.jsonl"))
    stoppers, weaknesses = check_ready(GradingLimits(user=USERS), SLOT)
    assert not stoppers and not weaknesses, (stoppers, weaknesses)


def slot_user(slot: int = SLOT) -> str:
    return GradingLimits(user=USERS).slot_user(slot)


def slot_uid() -> int:
    return pwd.getpwnam(slot_user()).pw_uid


def grade(tmp_path, *sources: str | NotebookNode, timeout: int = 30, **limits):
    """The notebook of these code cells (a source, or a cell) after LimitedExecute,
    configured like the course (c.GradingLimits.*) with SMALL and limits; its cells'
    outputs, and the limits hit. The notebook is saved first, as probe.ipynb, where the
    grader reads its answers."""
    config = Config()
    for name, value in {**SMALL, **limits}.items():
        setattr(config.GradingLimits, name, value)
    notebook = new_notebook(cells=[source if isinstance(source, NotebookNode)
                                   else new_code_cell(source) for source in sources],
                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                     "display_name": "Python 3"}})
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    executor = LimitedExecute(config=config, timeout=timeout, raise_on_iopub_timeout=False)
    notebook, _ = executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)},
                                                 "unique_key": "probe"})
    hits, _ = read_events(tmp_path / "events.jsonl")
    return [cell.outputs for cell in notebook.cells], {hit.limit: hit.detail for hit in hits}


def text(outputs) -> str:
    return "".join(output.get("text", "") for output in outputs)


def limit_error(outputs) -> str:
    """The GradingLimitError of a cell's outputs, "" when there is none."""
    return "".join(output.evalue for output in outputs
                   if output.output_type == "error" and output.ename == ERROR_NAME)


def test_the_course_config_reaches_every_part():
    config = Config()
    config.GradingLimits.cpu_seconds = 7
    executor = LimitedExecute(config=config)
    executor.nb = new_notebook()
    manager = executor.create_kernel_manager()
    assert (executor.limits.cpu_seconds, manager.limits.cpu_seconds,
            manager.client().limits.cpu_seconds) == (7, 7, 7)


def test_a_healthy_notebook_is_unaffected(tmp_path):
    outputs, hits = grade(tmp_path, "import numpy as np\ntotal = np.arange(4).sum()",
                          "print(total)")
    assert text(outputs[1]) == "6\n"
    assert not any(output.output_type == "error" for cell in outputs for output in cell)
    assert hits == {}


def test_a_grading_kernel_starts_without_the_debugger(tmp_path):
    """grading_kernel.py: ipykernel without debugpy, and the launcher's folder (the
    sandbox's modules) not among the kernel's imports."""
    outputs, hits = grade(tmp_path, "import importlib.util, sys\n"
                                    "print(sys.modules.get('debugpy', 'absent'), "
                                    "importlib.util.find_spec('launch_kernel'))")
    assert text(outputs[0]) == "None None\n", outputs
    assert hits == {}


def test_a_hidden_check_runs_in_a_kernel_whose_folder_its_user_cannot_reach_by_path(
        tmp_path):
    """A kernel is given its folder by root; here (pytest's tmp_path) the slot user cannot
    traverse the folders above it, and the check, run by the kernel's fork server, still
    reads the notebook in it."""
    assert os.stat(tmp_path.parents[1]).st_mode & 0o001 == 0  # pytest-of-root: 0700
    write_notebook(tmp_path / NOTEBOOK_01, reference_answer())
    outputs, hits = grade(tmp_path, "from digitlab.course.hidden_check import check\n"
                                    "check('backward_check', '--quantity', 'all', '--layers', "
                                    "'3x2', '--batch-sizes', '2', '--seed', '1')")
    assert text(outputs[0]) == "PASSED\n", outputs
    assert hits == {}


def test_a_cpu_loop_that_ignores_interrupts_dies_of_cpu_time(tmp_path):
    outputs, hits = grade(tmp_path, "x = 1", IGNORE_INTERRUPTS + "while True:\n    pass",
                          "print(x)")
    assert outputs[0] == []
    assert limit_error(outputs[1]) == "the kernel used its 5 s of CPU time (SIGXCPU)"
    assert limit_error(outputs[2]).endswith("CPU time (SIGXCPU); cell not run")
    assert hits == {"cpu": "the kernel used its 5 s of CPU time (SIGXCPU)"}
    assert processes_of(slot_uid()) == []


def test_a_cpu_loop_that_ignores_the_timeouts_interrupt_is_left_to_its_cpu_time(tmp_path):
    """The cell times out long before its CPU time is spent, and ignores the interrupt; but it
    computes, so it is not stopped at once: its CPU limit stops it, as one that never timed
    out. On a busy machine the kernel may get a tenth of a core or less: the cells
    waiting behind it (about 8 s each: the timeout, nbclient's wait for the idle and the
    kernel_info request) give it 90 s, for its 10 s of CPU time."""
    begun = time.monotonic()
    waiting = [f"print({number})" for number in range(12)]
    outputs, hits = grade(tmp_path, IGNORE_INTERRUPTS + "while True:\n    pass", *waiting,
                          timeout=2, cpu_seconds=10, notebook_wall_seconds=150)
    assert any(output.get("ename") == "CellTimeoutError" for output in outputs[0])
    assert hits == {"cpu": "the kernel used its 10 s of CPU time (SIGXCPU)"}
    # It dies while a later cell waits behind it, whichever.
    assert limit_error(outputs[-1]).startswith(hits["cpu"])
    assert time.monotonic() - begun > 10  # its CPU time, not the 2 s timeout and the waits
    assert processes_of(slot_uid()) == []


def test_a_sleeping_loop_that_ignores_interrupts_stops_its_notebook_at_once(tmp_path):
    """The interrupt of the cell's timeout is ignored, and the kernel waits without computing:
    the rest of the notebook is not run (it would only queue behind the loop) and the kernel
    is killed, long before the notebook's wall time is spent."""
    begun = time.monotonic()
    outputs, hits = grade(tmp_path, IGNORE_INTERRUPTS + "import time\nwhile True:\n"
                          "    time.sleep(1)", "print(1)", "print(2)", timeout=5,
                          notebook_wall_seconds=60)
    seconds = time.monotonic() - begun
    assert any(output.get("ename") == "CellTimeoutError" for output in outputs[0])
    reason = limit_error(outputs[0])
    waited = re.fullmatch(r"the cell ignored the interrupt at its time limit of 5 s, and "
                          r"waited (\d+) s more without computing; the rest of the notebook "
                          r"is not run", reason)
    assert waited, reason
    # nbclient's wait for the idle after the interrupt (4 s), then ours for a kernel_info reply
    assert int(waited[1]) >= IGNORED_AFTER_SECONDS
    assert [limit_error(cell) for cell in outputs[1:]] == [reason + "; cell not run"] * 2
    assert hits == {"wall": reason}
    assert processes_of(slot_uid()) == []
    assert seconds < 30, seconds  # the old behaviour: the notebook's 60 s of wall time


def test_an_answer_that_ignores_interrupts_is_named_from_the_kernels_stacks(
        tmp_path, monkeypatch):
    """No traceback names the code that ignored the interrupt: the kernel's stacks do. The
    answer is remembered, so the student's later kernels and checks do not run it again."""
    monkeypatch.setattr(budget, "_BUDGETS", {})
    answer = ("import signal\nimport time\n\n\ndef summarize():\n"
              "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n"
              "        time.sleep(1)\n")
    outputs, hits = grade(tmp_path, new_code_cell(answer, metadata={"nbgrader": {
                              "solution": True, "grade": False, "grade_id": "summary"}}),
                          "summarize()", "print(1)", timeout=5)
    reason = limit_error(outputs[1])
    assert re.fullmatch(r"summarize in the answer cell summary of probe.ipynb ignored the "
                        r"interrupt at its time limit of 5 s, and waited \d+ s more without "
                        r"computing; the rest of the notebook is not run", reason), reason
    assert limit_error(outputs[2]) == reason + "; cell not run"
    assert hits == {"endless_loop": reason}
    remembered = reason.removesuffix("; the rest of the notebook is not run")
    assert budget.budget_of("", 0).hung == {code_digest(answer): remembered}
    assert processes_of(slot_uid()) == []


def test_a_loop_that_takes_the_interrupt_only_fails_its_own_cell(tmp_path):
    """The timeout's interrupt reaches the loop: its cell fails, and the later cells run."""
    outputs, hits = grade(tmp_path, "import time\nwhile True:\n    time.sleep(1)",
                          "print('after the loop')", timeout=3)
    assert [output.get("ename") for output in outputs[0]
            if output.output_type == "error"] == ["KeyboardInterrupt", "CellTimeoutError"]
    assert text(outputs[1]) == "after the loop\n"
    assert hits == {}


def test_growing_memory_gets_the_kernel_killed_and_named(tmp_path):
    outputs, hits = grade(tmp_path, "chunks = []\nwhile True:\n"
                          "    chunks.append(b'x' * 10**7)", "print(len(chunks))")
    reason = "the kernel was killed for using more than 512 MiB of memory"
    assert limit_error(outputs[0]) == reason
    assert limit_error(outputs[1]) == reason + "; cell not run"
    assert hits == {"memory": reason}


def test_a_fork_bomb_is_bounded_and_nothing_of_it_survives(tmp_path):
    bomb = ("import os, time\nforks = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            time.sleep(600)\n            os._exit(0)\n        forks += 1\n"
            "except OSError as error:\n    print('refused after', forks)")
    outputs, hits = grade(tmp_path, bomb, "print('still grading')")
    refused = text(outputs[0])
    assert refused.startswith("refused after ")
    assert int(refused.split()[-1]) < SMALL["processes"]
    assert text(outputs[1]) == "still grading\n"
    assert set(hits) == {"processes"}
    assert processes_of(slot_uid()) == []


def test_gigabytes_of_output_end_in_the_kernel_and_are_named(tmp_path):
    """Printed in a tight loop, the output outgrows the kernel's memory before any of it
    is sent: the kernel's output thread fails with MemoryError, the notebook goes on, and
    the grader names the flood."""
    flood = ("import sys\nmegabyte = 'z' * 2**20\nfor _ in range(4 * 1024):\n"
             "    sys.stdout.write(megabyte)")
    outputs, hits = grade(tmp_path, flood, "print('after the flood')")
    assert "MemoryError" in text(outputs[0]) and "z" * 1000 not in text(outputs[0])
    assert text(outputs[1]) == "after the flood\n"
    assert set(hits) == {"output"}


def test_an_output_flood_is_cut_and_later_output_still_arrives(tmp_path):
    outputs, hits = grade(tmp_path, "print('y' * 3 * 2**20)", "print('after the flood')",
                          "for line in range(1000):\n    print('x' * 1000)", "print('last')")
    assert "output lost" in text(outputs[0]) and "y" * 1000 not in text(outputs[0])
    assert text(outputs[1]) == "after the flood\n"
    assert "printed more than 64 KiB" in text(outputs[2])
    assert len(text(outputs[2])) < 64 * 1024
    assert text(outputs[3]) == ""
    assert set(hits) == {"output"}


def test_the_kernel_has_no_network_no_secrets_and_no_write_access(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_DB_URL", "postgresql://grader:hunter2@db/course")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    root_owned = Path(tempfile.mkdtemp())
    root_owned.chmod(0o755)  # readable by everyone, writable by root only
    try:
        outputs, hits = grade(
            tmp_path, "import os, socket",
            "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=5)\n"
            "except OSError as error:\n    print(error.errno)",
            f"try:\n    open({str(root_owned / 'planted.txt')!r}, 'w')\n"
            "except PermissionError:\n    print('refused')",
            "print(os.getuid(), os.environ.get('DIGITLAB_DB_URL'), "
            "os.environ.get('NBGRADER_EXECUTION'))")
    finally:
        root_owned.rmdir()
    assert text(outputs[1]) == "101\n"  # ENETUNREACH: an empty network namespace
    assert text(outputs[2]) == "refused\n"
    assert text(outputs[3]) == f"{slot_uid()} None autograde\n"
    assert hits == {}


def test_a_kernel_that_cannot_start_fails_the_notebook_not_the_grader(tmp_path):
    outputs, hits = grade(tmp_path, "x = 1", "print(x)", address_space_bytes=24 * MiB)
    assert all(limit_error(cell).startswith("the kernel could not run the notebook")
               and limit_error(cell).endswith("; cell not run") for cell in outputs)
    assert set(hits) == {"kernel_died"}


def test_a_child_runs_as_the_slot_user_inside_the_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    # The grader scores the competition itself: the key's location never reaches the child.
    monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "key.csv"))
    limits = GradingLimits(**SMALL)
    child = ("import os, resource, subprocess\n"
             "subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
             "open('result.txt', 'w').write(f'{os.getuid()} "
             "{resource.getrlimit(resource.RLIMIT_CPU)} {os.environ.get(\"GITHUB_TOKEN\")} "
             "{os.environ.get(\"DIGITLAB_ANSWER_KEY\")}')")
    with sandbox(limits) as box:
        subprocess.run(box.command([sys.executable, "-I", "-c", child]), check=True,
                       env=box.environment, cwd=box.directory, timeout=60)
        result = (box.directory / "result.txt").read_text()
        assert processes_of(slot_uid()) != []  # the sleeper, still there
    assert result == f"{slot_uid()} (5, 10) None None"
    assert not box.directory.exists()
    assert processes_of(slot_uid()) == []


def test_a_sandbox_counts_the_cpu_time_of_its_processes(tmp_path):
    """Sandbox.cpu_seconds: what a child computed counts, its sleep does not."""
    spin_then_sleep = ("import time\nwhile time.process_time() < 0.5:\n    pass\n"
                       "print(flush=True)\ntime.sleep(60)")
    with sandbox(GradingLimits(**SMALL)) as box:
        child = subprocess.Popen(box.command([sys.executable, "-I", "-c", spin_then_sleep]),
                                 env=box.environment, cwd=box.directory,
                                 stdout=subprocess.PIPE)
        try:
            child.stdout.readline()  # it has computed, and sleeps now
            computed = box.cpu_seconds(child.pid)
            time.sleep(1)
            slept = box.cpu_seconds(child.pid) - computed
        finally:
            child.kill()
            child.wait()
    assert computed >= 0.45, computed  # 0.5 s, in clock ticks rounded down
    assert slept < 0.05, slept


def test_an_orphan_of_the_sandbox_is_the_graders_to_reap_not_pid_1s(tmp_path):
    """A process whose parent died (a kernel's check server, a student's daemon) is adopted
    by the grader, whose clean-up reaps it when it kills it, instead of waiting for PID 1
    (seconds on some machines)."""
    orphaning = ("import subprocess\n"  # its output not ours, or run() would wait for it
                 "print(subprocess.Popen(['sleep', '600'], stdout=subprocess.DEVNULL, "
                 "stderr=subprocess.DEVNULL).pid)")
    with sandbox(GradingLimits(**SMALL)) as box:
        run = subprocess.run(box.command([sys.executable, "-I", "-c", orphaning]),
                             env=box.environment, cwd=box.directory, capture_output=True,
                             text=True, check=True, timeout=60)
        orphan = int(run.stdout)
        status = Path(f"/proc/{orphan}/status").read_text()
        assert f"\nPPid:\t{os.getpid()}\n" in status, status
    assert processes_of(slot_uid()) == []
    with pytest.raises(ChildProcessError):  # reaped already, by the clean-up
        os.waitpid(orphan, os.WNOHANG)


def test_check_ready_names_the_missing_users_and_how_to_add_them():
    stoppers, weaknesses = check_ready(GradingLimits(user="digitlab-nobody"), 2)
    assert weaknesses == []
    assert stoppers == ["Grading users missing; create them as root with: "
                        "`useradd --system --no-create-home --home-dir /nonexistent --shell "
                        "/usr/sbin/nologin digitlab-nobody-1`; `useradd --system "
                        "--no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
                        "digitlab-nobody-2`"]



def test_graders_never_share_a_user():
    """The clean-up kills every process of the slot user, so sandboxes of one slot take the
    free users one each, and once every user is busy, the next waits and says so."""
    existing = {user.pw_name for user in pwd.getpwall()}
    users = list(itertools.takewhile(existing.__contains__, (
        slot_user(slot) for slot in itertools.count(1))))
    busy = [Sandbox(GradingLimits(**SMALL)) for _ in users]
    assert busy[0].account.pw_name == slot_user()
    assert sorted(box.account.pw_name for box in busy) == users
    waiting, made = threading.Event(), []

    class Waiting(logging.Handler):
        def emit(self, record):
            if "waiting for" in record.getMessage():
                waiting.set()

    handler = Waiting()
    logging.getLogger("digitlab.course.sandbox.sandbox").addHandler(handler)
    try:
        late = threading.Thread(target=lambda: made.append(Sandbox(GradingLimits(**SMALL))))
        late.start()
        assert waiting.wait(timeout=30)
        assert made == [] and late.is_alive()
        busy.pop(0).close()
        late.join(timeout=30)
        assert [box.account.pw_name for box in made] == [slot_user()]
    finally:
        logging.getLogger("digitlab.course.sandbox.sandbox").removeHandler(handler)
        for box in busy + made:
            box.close()


KILLED_GRADER = f"""
import subprocess, sys
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import Sandbox
box = Sandbox(GradingLimits(**{SMALL!r}))
child = subprocess.Popen(box.command([sys.executable, "-c", "print(1, flush=True); input()"]),
                         env=box.environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         start_new_session=True)
child.stdout.readline()  # the child runs, as the slot user, in the cgroup
print(box.directory, flush=True)
input()
"""


def test_the_next_sandbox_cleans_up_after_a_killed_grader():
    """`digitlab grade --timeout` kills a grader, not its kernel: the kernel, its cgroup and
    its folder are left, and the next sandbox of that user removes them."""
    grader = subprocess.Popen([sys.executable, "-c", KILLED_GRADER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    folder = Path(grader.stdout.readline().strip())
    grader.kill()
    grader.wait()
    assert folder.is_dir() and processes_of(slot_uid()) != []
    with sandbox(GradingLimits(**SMALL)):
        assert not folder.exists()
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{folder.name}"))
        assert processes_of(slot_uid()) == []
