"""LimitedExecute: nbgrader's Execute step, with the course's GradingLimits.

nbgrader_config.py puts it in place of Execute in c.Autograde.autograde_preprocessors. It
* runs only the notebooks that hold an autograded test (the gradebook says which): one of
  written answers alone is left as sanitized, its outputs cleared, with no kernel started;
* starts every kernel through digitlab.course.sandbox.sandbox.LimitedKernelManager (CPU, memory,
  processes, files, network, unprivileged user);
* lets the kernel's user read the notebook's folder, whatever the grader's umask
  (sandbox.open_to_kernel), and fails the student's grading when it cannot;
* gives each notebook a wall-time budget, kernel start included;
* cuts each cell's timeout to the student's budget (budget.py: the allowance);
* names the answer a timed-out cell was stuck in (its traceback's innermost answer-cell
  frame), reports it as an endless loop, and remembers it so that later kernels and checks
  do not run it again; later cells of the same kernel get the budget's least(), and a
  second hang in the same code stops the notebook and kills its kernel;
* stops the notebook at once, and kills its kernel, when a timed-out cell ignored the
  interrupt (still busy IGNORED_AFTER_SECONDS after nbclient's own wait for the idle) and
  waited without computing (its sandbox used under COMPUTING_CORES of a core since the
  timeout): it would hold its kernel until the notebook's wall time, and every later cell
  would only queue behind it. The kernel's stacks (grading_kernel.py dumps them on SIGUSR1)
  name the answer it was stuck in, if any, which is then remembered like a loop that took
  the interrupt. One that ignored the interrupt while computing is left to its CPU time;
* keeps at most output_bytes of output per notebook, and survives an output flood;
* turns a dead kernel, or one that cannot start, into failed cells: that cell and every later
  code cell get `GradingLimitError: <reason>; cell not run`, so their tests score 0 and the
  student's other notebooks are still graded (plain nbgrader drops the whole student).
Each limit hit is logged as `GRADING LIMIT: ...` and reported with records.report_event.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import queue
import re
import signal
import stat
import time
from pathlib import Path

from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute
from traitlets import Instance, default

from digitlab.course.layout import CourseLayout
from digitlab.course.records import LimitHit, report_event
from digitlab.course.sandbox.budget import StudentBudget, budget_of
from digitlab.course.sandbox.grading_kernel import STACKS_FILE
from digitlab.course.sandbox.limits import GradingLimits, size_words
from digitlab.course.sandbox.sandbox import (
    LimitedKernelManager,
    describe,
    machine,
    open_to_kernel,
)
from digitlab.student import StudentCodeError, answer_source, code_digest

ERROR_NAME = "GradingLimitError"
# After a timeout nbclient interrupts the kernel and waits Execute.iopub_timeout (4 s) for its
# idle. When none came, the kernel gets this much longer to answer a kernel_info request: a
# kernel still running the cell answers nothing (its shell waits for the cell), one whose
# idle was only lost with its output channel answers at once.
IGNORED_AFTER_SECONDS = 2
# A kernel that ignored the interrupt and used less CPU than this (in cores, over the time from
# its cell's timeout to that answer) waited without computing: sleeping, or blocked in a
# call. A waiting kernel's threads use next to nothing (measured: under a clock tick in 6 s);
# a computing one gets a core, or its share of one on a busy machine (measured: 0.65 of a
# core, reniced by 10 on 2 cores with a load of 2; by the scheduler's weights, 110 against
# 1024, a tenth of one reniced by 10 beside a busy process that is not). Under a fiftieth,
# it would share its core with 50 others.
COMPUTING_CORES = 0.02
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A traceback's frame in code of an answer cell: one run in this kernel ("Cell In[7], line
# 12, in Linear.backward(self, grad)"), or one the seam ran from a saved notebook
# (digitlab.student.run_answer: "File 01-linear-backward.ipynb (answer cell
# linear-backward):12, in Linear.backward(self, grad)").
ANSWER_FRAME = re.compile(r"^(?:Cell In\[(?P<count>\d+)\], line (?P<line>\d+)"
                          r"|File (?P<notebook>[^/\\]+\.ipynb) "
                          r"\(answer cell (?P<grade_id>[\w-]+)\):(?P<seam_line>\d+))"
                          r"(?:, in (?P<function>[\w.<>]+))?")
# A frame of the kernel's stacks, as faulthandler writes them (innermost first), in a cell run
# in this kernel ('File "/tmp/ipykernel_41/2349813.py", line 7 in summarize_accuracies':
# ipykernel names a cell's file by a hash of its source), or in one the seam ran from a saved
# notebook ('File "01-linear-backward.ipynb (answer cell linear-backward)", line 12 in ...').
STACK_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<function>\S+)')
SEAM_FILE = re.compile(r"(?P<notebook>[^/\\]+\.ipynb) \(answer cell (?P<grade_id>[\w-]+)\)")
STACKS_BYTES = 64 * 1024  # every thread's stack fits; the kernel's user could write more


@functools.cache  # once per autograde process: a gradebook's opening costs (PostgreSQL's most)
def tested_notebooks(db_url: str, assignment: str) -> frozenset[str]:
    """The file names of the assignment's notebooks that hold an autograded test."""
    with Gradebook(db_url) as gradebook:
        notebooks = gradebook.find_assignment(assignment).notebooks
        return frozenset(f"{notebook.name}.ipynb" for notebook in notebooks
                         if _has_autograded_test(notebook))


def _has_autograded_test(notebook) -> bool:
    """Whether the gradebook's notebook holds a graded code cell that is not an answer."""
    answers = {cell.name for cell in notebook.solution_cells}
    return any(cell.cell_type == "code" and cell.name not in answers
               for cell in notebook.grade_cells)


def _error(reason: str):
    return new_output("error", ename=ERROR_NAME, evalue=reason,
                      traceback=[f"\x1b[0;31m{ERROR_NAME}\x1b[0m: {reason}"])


def _note(text: str):
    return new_output("stream", name="stderr", text=f"\n[grader: {text}]\n")


def _output_overflowed_memory(cell) -> bool:
    """Whether the kernel's output thread reported a MemoryError in this cell: the student's
    code printed faster than the kernel could send, until its memory limit. Nothing reached
    the grader then, so only the kernel's complaint on stderr tells."""
    errors = "".join(output.get("text", "") for output in cell.outputs
                     if output.output_type == "stream" and output.name == "stderr")
    return "MemoryError" in errors and "iostream" in errors


def _read_stacks(path: Path) -> str:
    """The start of the kernel's stacks file, never through a link or a pipe that the
    kernel's user put in its place: the grader reads it as root."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return ""
        return os.read(descriptor, STACKS_BYTES).decode(errors="replace")
    finally:
        os.close(descriptor)


class LimitedExecute(Execute):
    """Execute inside GradingLimits; see the module docstring."""

    limits = Instance(GradingLimits)
    _announced = False  # the protections line, logged once per autograde (process)
    _budget: StudentBudget | None = None  # the graded student's, set by preprocess

    @default("limits")
    def _limits_default(self) -> GradingLimits:
        return GradingLimits(parent=self)

    @default("shutdown_kernel")
    def _shutdown_kernel_default(self) -> str:
        # Every cell has run and its outputs are in, and the sandbox's clean-up kills what the
        # kernel leaves: a graceful shutdown would only wait (0.3 s a notebook) for the
        # kernel's exit hooks, which no grading needs.
        return "immediate"

    def __init__(self, *args, **kwargs):
        # Execute.__init__ passes kernel_manager_class=AsyncKernelManager as a keyword, which
        # beats any config value: choose ours the same way.
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        if not LimitedExecute._announced:
            LimitedExecute._announced = True
            self.log.info(describe(self.limits))
        self._notebook = f"{(resources or {}).get('unique_key', 'notebook')}.ipynb"
        folder = (resources or {}).get("metadata", {}).get("path")
        self._folder = Path(folder or ".")
        info = (resources or {}).get("nbgrader", {})
        tested = self._tested_notebooks(info)
        if tested is not None and self._notebook not in tested:
            self.log.info("%s holds no autograded test: not run (its answers are graded by "
                          "hand, from the student's file)", self._notebook)
            return nb, resources
        self._budget = budget_of(info.get("student", ""), self.limits.student_wall_seconds)
        self._budget.begin(self._notebook, self._notebooks(info) & (tested or set()))
        self._begun = time.monotonic()
        self._deadline = self._begun + self.limits.notebook_wall_seconds
        self._hung_here: str | None = None  # why student code hung in this kernel
        if self.limits.enabled:  # the kernel's start counts against the notebook's wall time
            self.startup_timeout = min(self.startup_timeout, self.limits.notebook_wall_seconds)
        self._stopped: str | None = None  # why the remaining cells are not run
        self._hits: set[str] = set()
        self._kept_bytes = 0
        self._truncated = False
        self._started: set[int] = set()
        self._manager = None
        if folder and self.limits.enabled and machine().root:
            # Outside the try below: a kernel that cannot read the submission must fail the
            # student's grading, not score 0 in every cell.
            open_to_kernel(self._folder)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        except Exception as error:  # noqa: BLE001 - any failure must fail cells, not the student
            # e.g. the kernel could not start ("Kernel died before replying to kernel_info"),
            # or the sandbox could not be made (SandboxError says what to do).
            reason = f"the kernel could not run the notebook: {type(error).__name__}: {error}"
            self._hit("kernel_died", reason)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and index not in self._started:
                    cell.outputs = [_error(f"{reason}; cell not run")]
        sandbox = getattr(self._manager, "sandbox", None)
        if sandbox is not None and sandbox.refused_forks:
            self._hit("processes", f"the notebook tried to run more than "
                                   f"{self.limits.processes} processes and threads at once; "
                                   f"{sandbox.refused_forks} were refused")
        return nb, resources

    @staticmethod
    def _tested_notebooks(info: dict) -> frozenset[str] | None:
        """The names of the assignment's notebooks that hold an autograded test (a graded
        code cell that is not an answer), from the gradebook; None when not autograding.

        Only those are run: running a notebook can score nothing else, and its outputs
        are cleared before the run anyway (its panel runs are kept: panel_runs). A notebook
        of written answers alone would cost a kernel and every cell's run for nothing."""
        if "student" not in info or "db_url" not in info:  # nbgrader validate, say
            return None
        return tested_notebooks(info["db_url"], info["assignment"])

    def _notebooks(self, info: dict) -> set[str]:
        """The names of the student's notebooks to grade. From the submitted (or staged)
        folder: autograde copies each notebook to autograded/ only when its turn comes."""
        if "student" not in info:  # not an autograde (nbgrader validate, say)
            return set()
        folder = CourseLayout.in_step(self.config).submitted(info["student"],
                                                             info["assignment"])
        return {path.name for path in folder.glob("*.ipynb")}

    def create_kernel_manager(self):
        # The same limits as ours, and kept after nbclient lets go of it: its sandbox says
        # what the kernel did.
        self._manager = super().create_kernel_manager()
        self._manager.limits = self.limits
        if self._budget is not None:
            self._manager.student_environment = self._budget.environment()
        return self._manager

    def _hit(self, limit: str, reason: str) -> None:
        """Log and report a limit hit, once per limit and notebook."""
        if limit not in self._hits:
            self._hits.add(limit)
            self.log.warning("GRADING LIMIT: %s: %s", self._notebook, reason)
            report_event(LimitHit(notebook=self._notebook, limit=limit, detail=reason))

    def _stop(self, limit: str, reason: str) -> None:
        """No more cells of this notebook run."""
        self._stopped = reason
        self._hit(limit, reason)

    async def _check_wall_time(self) -> None:
        """Once the notebook's wall time is spent, stop it and kill its kernel now: a kernel
        that ignored the timeout's interrupt would only make the clean-up wait."""
        if (self.limits.enabled and self._stopped is None
                and time.monotonic() >= self._deadline):
            self._stop("wall", f"the notebook used its {self.limits.notebook_wall_seconds} s "
                               "of wall time")
            await ensure_async(self.km.shutdown_kernel(now=True))

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if not self.limits.enabled:
            return timeout
        if self._hung_here is not None:
            least = self._budget.least()
            timeout = least if timeout is None else min(timeout, least)
        allowed = self._budget.timeout(math.inf if timeout is None else timeout)
        # The notebook's own wall time is never stretched by the budget's least wait.
        self._cell_timeout = max(1, int(min(self._deadline - time.monotonic(), allowed)))
        return self._cell_timeout

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        await self._check_wall_time()
        if self._stopped is not None:
            cell.outputs = [_error(f"{self._stopped}; cell not run")]
            self._started.add(cell_index)
            return cell
        begun = time.monotonic()
        if not self._started:  # the kernel's start: the first step that shows the host's speed
            self._budget.ended(begun - self._begun)
        self._started.add(cell_index)
        self._idle_seen = False
        try:
            await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._stop(*self._death())
            cell.outputs.append(_error(self._stopped))
            return cell
        timed_out = any(output.get("ename") == "CellTimeoutError" for output in cell.outputs)
        if not timed_out:
            self._budget.ended(time.monotonic() - begun)
        elif self.limits.enabled:
            ignored = not self._idle_seen and not await self._answers()
            self._budget.waited_for(time.monotonic() - begun)
            if ignored and not self._computing():
                await self._ignored_interrupt(cell, time.monotonic() - begun)
                return cell
            await self._hung(cell)
        if not self._idle_seen and not timed_out and self.limits.enabled:
            await self._reopen_iopub(cell)
        if self.limits.enabled and _output_overflowed_memory(cell):
            self._hit("output", "the notebook printed more than the kernel could hold in "
                                "memory; that output was dropped")
        await self._check_wall_time()
        return cell

    # nbclient binds execute_cell = run_sync(NotebookClient.async_execute_cell) when its class
    # is made, so the override above is used only if the sync name is rebound here.
    execute_cell = run_sync(async_execute_cell)

    async def _async_handle_timeout(self, timeout, cell=None):
        # From here on, the CPU its sandbox uses tells whether a kernel that ignores the
        # interrupt computes, or waits.
        self._timed_out = time.monotonic(), self._kernel_cpu_seconds()
        return await super()._async_handle_timeout(timeout, cell)

    def _kernel_cpu_seconds(self) -> float:
        """CPU seconds the kernel's sandbox has used so far; 0 without one (limits off)."""
        sandbox = getattr(self.km, "sandbox", None)
        process = getattr(self.km.provisioner, "process", None)
        if sandbox is None or process is None:
            return 0.0
        return sandbox.cpu_seconds(process.pid)

    def _computing(self) -> bool:
        """Whether the kernel's sandbox used COMPUTING_CORES of a core or more since the
        cell's timeout."""
        since, used = self._timed_out
        return (self._kernel_cpu_seconds() - used
                >= COMPUTING_CORES * (time.monotonic() - since))

    def _stuck_in(self, cell) -> tuple[str, str, str] | None:
        """(notebook, grade id, where) of the answer code a timed-out cell was stuck in, from
        its traceback's innermost answer-cell frame; None when it shows none (the kernel
        ignored the interrupt, or the code was not an answer's)."""
        found = None
        for output in cell.outputs:
            for entry in output.get("traceback", []) if output.output_type == "error" else []:
                match = ANSWER_FRAME.match(ANSI.sub("", entry))
                if match and match["count"]:
                    answers = [other for other in self.nb.cells
                               if other.get("execution_count") == int(match["count"])
                               and other.metadata.get("nbgrader", {}).get("solution")]
                    if answers:
                        found = (self._notebook, answers[0].metadata.nbgrader.grade_id,
                                 match["function"] or f"line {match['line']}")
                elif match:
                    found = (match["notebook"], match["grade_id"],
                             match["function"] or f"line {match['seam_line']}")
        return found

    async def _hung(self, cell) -> None:
        """A cell timed out: name the answer code it was stuck in, remember it for the
        student's later kernels and checks, and stop the notebook if it hung here before
        (its kernel killed now: it may be looping still, and would hold up the clean-up)."""
        stuck = self._stuck_in(cell)
        if stuck is None:
            return
        notebook, grade_id, where = stuck
        digest = self._digest(notebook, grade_id)
        if digest is None:
            return
        reason = (f"{where} in the answer cell {grade_id} of {notebook} was still running "
                  f"after {self._cell_timeout} s")
        if self._budget.remember_hung(digest, reason):
            self._hit("endless_loop", reason)
            cell.outputs.append(_error(reason))
        elif self._hung_here is not None:
            self._stop("endless_loop", f"{self._budget.hung[digest]}, and hung "
                                       "again here; the rest of the notebook is not run")
            cell.outputs.append(_error(self._stopped))
            await ensure_async(self.km.shutdown_kernel(now=True))
            return
        self._hung_here = self._budget.hung[digest]

    def _digest(self, notebook: str, grade_id: str) -> str | None:
        """The digest of the answer's code in the notebook of the student's folder; None
        when the student broke that notebook: nothing to remember then."""
        try:
            return code_digest(answer_source(self._folder / notebook, grade_id))
        except StudentCodeError:
            return None

    async def _stacks(self) -> str:
        """The Python stacks of the kernel's threads, which grading_kernel.py writes on
        SIGUSR1; "" when none came within a second (the student's code took the signal)."""
        process = getattr(self.km.provisioner, "process", None)
        if process is None:
            return ""
        try:
            os.kill(process.pid, signal.SIGUSR1)  # the kernel alone: it would end its children
        except ProcessLookupError:  # it died just now
            return ""
        path = Path(self.km.connection_file).with_name(STACKS_FILE)
        text = ""
        for _ in range(20):  # written at once by the signal handler, even amid a C call
            await asyncio.sleep(0.05)
            last, text = text, _read_stacks(path)
            if text and text == last:
                break
        return text

    def _stuck_in_stacks(self, stacks: str) -> tuple[str, str, str] | None:
        """(notebook, grade id, where) of the innermost answer-cell frame of the kernel's
        stacks; None when they show none."""
        answers = {f"{murmur2_x86(cell.source, get_tmp_hash_seed())}.py": cell
                   for cell in self.nb.cells
                   if cell.cell_type == "code"
                   and cell.metadata.get("nbgrader", {}).get("solution")}
        for line in stacks.splitlines():
            frame = STACK_FRAME.match(line)
            if frame is None:
                continue
            where = (frame["function"] if frame["function"] != "<module>"
                     else f"line {frame['line']}")
            if seam := SEAM_FILE.fullmatch(frame["file"]):
                return seam["notebook"], seam["grade_id"], where
            if answer := answers.get(os.path.basename(frame["file"])):
                return self._notebook, answer.metadata.nbgrader.grade_id, where
        return None

    async def _answers(self) -> bool:
        """Whether the kernel answers a kernel_info request within IGNORED_AFTER_SECONDS:
        False while it is still running a cell."""
        asked = self.kc.kernel_info()
        deadline = time.monotonic() + IGNORED_AFTER_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            try:  # the timed-out cell's own late reply may come first
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except queue.Empty:
                return False
            if reply["parent_header"].get("msg_id") == asked:
                return True
        return False

    async def _ignored_interrupt(self, cell, seconds: float) -> None:
        """The timed-out cell ran `seconds`, ignored the interrupt (it catches
        KeyboardInterrupt or SIGINT, or waits in C code) and has waited since without
        computing: no CPU limit would stop it, the kernel would wait until the notebook's
        wall time, and every later cell would wait behind it and time out in turn. Stop
        the notebook, and kill its kernel now. No traceback names the code: the
        kernel's stacks do, when it is an answer's, which is then remembered for the
        student's later kernels and checks. A kernel that died meanwhile (a CPU limit
        reached while nbclient waited) is named by its death."""
        if not await ensure_async(self.km.is_alive()):
            self._stop(*self._death())
            cell.outputs.append(_error(self._stopped))
            return
        late = (f"ignored the interrupt at its time limit of {self._cell_timeout} s, and "
                f"waited {seconds - self._cell_timeout:.0f} s more without computing")
        stuck = self._stuck_in_stacks(await self._stacks())
        digest = stuck and self._digest(*stuck[:2])
        if digest:
            notebook, grade_id, where = stuck
            reason = f"{where} in the answer cell {grade_id} of {notebook} {late}"
            self._budget.remember_hung(digest, reason)
            self._stop("endless_loop", f"{reason}; the rest of the notebook is not run")
        else:
            self._stop("wall", f"the cell {late}; the rest of the notebook is not run")
        cell.outputs.append(_error(self._stopped))
        await ensure_async(self.km.shutdown_kernel(now=True))

    def _death(self) -> tuple[str, str]:
        """(limit, reason) of the kernel's death, in words a student understands."""
        sandbox = getattr(self.km, "sandbox", None)
        if sandbox is not None and sandbox.memory_killed():
            return "memory", (f"the kernel was killed for using more than "
                              f"{size_words(self.limits.memory_bytes)} of memory")
        code = self.km.provisioner.process.poll() if self.km.provisioner else None
        if code == -signal.SIGXCPU:
            return "cpu", f"the kernel used its {self.limits.cpu_seconds} s of CPU time (SIGXCPU)"
        if code == -signal.SIGKILL:
            return "kernel_died", ("the kernel was killed (SIGKILL): by its own code, or by the "
                                   f"CPU limit ({self.limits.cpu_seconds} s) after ignoring "
                                   "SIGXCPU")
        if code is not None and code < 0:
            return "kernel_died", f"the kernel died ({signal.Signals(-code).name})"
        return "kernel_died", f"the kernel exited (status {code})"

    def process_message(self, msg, cell, cell_index):
        if (msg.get("msg_type") == "status"
                and msg.get("content", {}).get("execution_state") == "idle"):
            self._idle_seen = True
        return super().process_message(msg, cell, cell_index)

    async def _reopen_iopub(self, cell) -> None:
        """The cell's output channel went silent before the kernel said idle: libzmq dropped
        a message over message_bytes, and with it the connection, which a SUB socket does not
        get back by itself. Open a new one, and wait until the kernel's messages arrive on
        it, so that later cells' outputs are kept."""
        reason = (f"output lost: the notebook sent a message over "
                  f"{size_words(self.limits.message_bytes)}")
        self._hit("output", reason)
        cell.outputs.append(_note(reason))
        self.kc.iopub_channel.close()
        self.kc._iopub_channel = None
        for _ in range(50):  # the new subscription takes a moment to reach the kernel
            self.kc.kernel_info()
            try:
                await self.kc.get_iopub_msg(timeout=0.1)
                return
            except queue.Empty:
                continue

    def output(self, outs, msg, display_id, cell_index):
        if not self.limits.enabled:
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        self._kept_bytes += len(content.get("text", "")) + sum(
            len(str(value)) for value in content.get("data", {}).values()) + sum(
            len(line) for line in content.get("traceback", []))
        # Error outputs are always kept: they decide the cell's score.
        if self._kept_bytes <= self.limits.output_bytes or msg["msg_type"] == "error":
            return super().output(outs, msg, display_id, cell_index)
        if not self._truncated:
            self._truncated = True
            reason = (f"the notebook printed more than {size_words(self.limits.output_bytes)}; "
                      "the rest of its output was dropped")
            self._hit("output", reason)
            outs.append(_note(reason))
        return None
