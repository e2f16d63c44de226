"""Judge the hidden checks again outside the student's kernel, after the notebook has run.

A hidden test cell calls `check("backward_check", ...)` (digitlab.course.checks.hidden_check) in
the student's kernel, where the student's own code may have replaced `check` or
subprocess.run. VerifyOutsideKernel, an nbgrader preprocessor placed after execution in
c.Autograde.autograde_preprocessors, runs each of those checks again from the grader's
process:

- the calls come from the cell's source as the instructor wrote it (from the gradebook,
  read with ast: literal strings only), never from the student's notebook;
- backward_check and summary_check run the student's code in a child process inside a
  sandbox under the course's GradingLimits (digitlab.course.sandbox.sandbox: as a grading user,
  without network, like the kernel), never in the grader's process; one sandbox per
  notebook, each child forked afresh by the sandbox's fork server, and nothing of one
  child's left running when the next starts (Sandbox.run_module);
- score_submission scores the submission.csv the student submitted, in the course's
  submitted folder, never the autograded copy that the kernel could overwrite;
- the cases are the student's own (student_cases: drawn from the key at cases_key and the
  student id), not the ones the cell names, which are all the kernel's run can know;
- every child runs within the student's grading budget (digitlab.course.sandbox.budget):
  its timeout is cut to the budget's allowance, code that hung before is not run again (the
  child's seam fails at once, with the same reason), and a check whose child ran out of
  time fails at once when called again, reported as an endless loop.

A cell passes only if the kernel's run and the grader's run both pass. When the grader's
fails, an error output that says so goes first in the cell's outputs, so nbgrader scores
the cell 0 (it stops at the first output that is an error or a number). When the kernel's
run passed and the grader's failed, the student's code changed the check in the kernel:
that "patched check" is logged (PATCHED CHECK: ...) and reported as a grading event. As
the two runs judge different cases, the grader first repeats its run on the cell's own
cases: only when those fail too did the kernel's pass come from a changed check.

Each judged cell keeps what the grader found in its metadata (RECORD: passed, the cases by
name and the seed of the first call, the words a student may read), for the feedback
(hidden_feedback) and for anyone comparing two gradings of a student.
"""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from digitlab.course.checks import registry
from digitlab.course.checks.box import DID_NOT_FINISH
from digitlab.course.checks.hidden_check import NOT_CHECKED_HERE
from digitlab.course.checks.registry import Outcome
from digitlab.course.checks.student_cases import load_key, student_rng
from digitlab.course.layout import CourseLayout
from digitlab.course.records import LimitHit, PatchedCheck, report_event
from digitlab.course.sandbox.budget import budget_of
from digitlab.course.sandbox.limits import GradingLimits
from digitlab.course.sandbox.sandbox import Sandbox

PREFIX = "Checked by the grader outside your notebook: "
# Where a judged cell keeps the grader's findings: cell.metadata[RECORD[0]][RECORD[1]].
RECORD = ("digitlab", "hidden_checks")
Calls = list[tuple[str, list[str]]]


def check_calls(source: str) -> list[tuple[str, list[str]]]:
    """The (check name, arguments) of every `check(...)` call in a test cell's source.

    Raises ValueError for a call whose arguments are not literal strings or that names an
    unknown check: the grader could not repeat it, and the instructor must hear of it.
    """
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "check":
            values = [argument.value for argument in node.args
                      if isinstance(argument, ast.Constant) and isinstance(argument.value, str)]
            if node.keywords or len(values) != len(node.args) or not values \
                    or values[0] not in registry.CHECKS:
                raise ValueError(f"line {node.lineno}: a hidden check must be "
                                 f"check(NAME, 'ARGUMENT', ...) with NAME one of "
                                 f"{registry.CHECKS}")
            calls.append((values[0], values[1:]))
    return calls


def ran_clean(cell: nbformat.NotebookNode) -> bool:
    """Whether the kernel ran the cell and its run would score: no error, nothing on stderr,
    and no check that said it could not judge in the notebook.

    A student could print that phrase to escape the patched-check report, never the score:
    the grader's verdict counts either way.
    """
    return cell.get("execution_count") is not None and not any(
        output.output_type == "error"
        or output.output_type == "stream" and (output.name == "stderr"
                                               or NOT_CHECKED_HERE in output.text)
        for output in cell.get("outputs", []))


@functools.cache  # once per autograde process: a gradebook's opening costs (PostgreSQL's most)
def test_sources(db_url: str, assignment: str) -> dict[str, dict[str, str]]:
    """{notebook: {grade id: source}} of the assignment's graded code cells."""
    with Gradebook(db_url) as gradebook:
        sources = {}
        for notebook in gradebook.find_assignment(assignment).notebooks:
            graded = {cell.name for cell in notebook.grade_cells}
            sources[notebook.name] = {cell.name: cell.source for cell in notebook.source_cells
                                      if cell.name in graded and cell.cell_type == "code"}
        return sources


class VerifyOutsideKernel(NbGraderPreprocessor):
    """Run each test cell's hidden checks from the grader and fail the cell if they fail."""

    cases_key = Unicode(
        "", help="The file of the key that draws each student's hidden cases (created, mode "
                 "600, if absent; student_cases). Empty: every student is judged on the "
                 "cases the cells name.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        # The configured submitted folder (perhaps a staged copy), not the autograded one.
        folder = CourseLayout.in_step(self.config).submitted(info["student"],
                                                              info["assignment"])
        notebook = f"{info['notebook']}.ipynb"
        key = load_key(self.cases_key) if self.cases_key else None
        self._limits = GradingLimits(parent=self)
        self._budget = budget_of(info["student"], self._limits.student_wall_seconds)
        self._notebook = notebook
        self._box: Sandbox | None = None
        try:
            self._judge_cells(nb, info, folder, key)
        finally:
            if self._box is not None:
                self._box.close()
        return nb, resources

    def _judge_cells(self, nb, info: dict, folder: Path, key: bytes | None) -> None:
        """Judge every test cell's calls and put the verdicts in the cells."""
        notebook = self._notebook
        sources = self._test_sources(info)
        verdicts = {}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or grade_id not in sources:
                continue
            if grade_id not in verdicts:
                try:
                    calls = check_calls(sources[grade_id])
                except (SyntaxError, ValueError) as error:
                    raise ValueError(f"{notebook}, {grade_id}: {error}") from None
                verdicts[grade_id] = calls, calls and self._judge(
                    calls, folder, key and (key, info["student"]))
            calls, outcome = verdicts[grade_id]
            if outcome:
                self._apply(cell, info["student"], notebook, grade_id, outcome,
                            lambda calls=calls: self._judge(calls, folder, None))

    @staticmethod
    def _test_sources(info: dict) -> dict[str, str]:
        """{grade id: source} of the notebook's graded code cells, from the gradebook."""
        return test_sources(info["db_url"], info["assignment"]).get(info["notebook"], {})

    def _judge(self, calls: Calls, folder: Path,
               drawn_for: tuple[bytes, str] | None) -> Outcome:
        """A cell's calls, run in order, as one Outcome; the first failure decides. On the
        cases of the student drawn_for (key, student id) names, or the cell's when None."""
        outcomes = []
        for name, arguments in calls:
            outcome = self._run(name, arguments, folder,
                                drawn_for and student_rng(*drawn_for, name, arguments))
            outcomes.append(outcome)
            if not outcome.passed:
                break
        return Outcome(passed=outcomes[-1].passed,
                       report="\n".join(outcome.report for outcome in outcomes),
                       cases=tuple(case for outcome in outcomes for case in outcome.cases),
                       shown="; ".join(outcome.shown for outcome in outcomes if outcome.shown),
                       seed=outcomes[0].seed)

    def _run(self, name: str, arguments: list[str], folder: Path,
             rng: np.random.Generator | None) -> Outcome:
        """One check call, within the student's budget: a check whose child ran out of time
        before for this student fails at once with the same reason, not run again."""
        if name in self._budget.hung_checks:
            said = self._budget.hung_checks[name]
            return Outcome(passed=False, report=f"FAILED: {said}", cases=(), shown=said)
        begun = time.monotonic()
        try:
            outcome = registry.outcome(name)(arguments, folder, self._open_box, rng)
        except SystemExit:  # argparse refused the arguments the instructor wrote
            raise ValueError(f"check({name!r}, ...): bad arguments {arguments}") from None
        seconds = time.monotonic() - begun
        if outcome.passed or DID_NOT_FINISH not in outcome.report:
            self._budget.ended(seconds)
            return outcome
        self._budget.waited_for(seconds)
        self._budget.hung_checks[name] = f"{outcome.shown} (not run again)"
        report_event(LimitHit(notebook=self._notebook, limit="endless_loop",
                              detail=f"{name}: {outcome.report.splitlines()[0]}"))
        return outcome

    @contextmanager
    def _open_box(self) -> Iterator[Sandbox]:
        """The box for the child that runs the student's code: the notebook's sandbox under
        the course's GradingLimits (c.GradingLimits in nbgrader_config.py), made at its
        first check and closed when the notebook is done, within the student's budget."""
        if self._box is None:
            self._box = Sandbox(self._limits)
        if self._limits.enabled:
            self._box.deadline = time.monotonic() + self._budget.allowance()
            self._box.student_environment = self._budget.environment()
        yield self._box

    def _apply(self, cell, student: str, notebook: str, grade_id: str, outcome: Outcome,
               on_cells_cases: Callable[[], Outcome]) -> None:
        """Add the grader's verdict to the cell's outputs and its record to the cell's
        metadata; report a patched check (on_cells_cases: the grader's run on the cases the
        cell names, the kernel's)."""
        cell.metadata.setdefault(RECORD[0], {})[RECORD[1]] = {
            "passed": outcome.passed, "cases": list(outcome.cases), "seed": outcome.seed,
            "shown": outcome.shown}
        report = outcome.report
        if outcome.passed:
            # The grader's pass does not undo the notebook's own failure (say, its process
            # budget spent by the student's code): say so, or the feedback reads as a pass.
            if any(output.output_type == "error" for output in cell.outputs):
                report += " (the cell still fails: its run in your notebook failed, above)"
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                       text=f"{PREFIX}{report}\n"))
            return
        if ran_clean(cell) and not on_cells_cases().passed:
            detail = ("the check passed in the notebook but failed when the grader ran it: "
                      + report.splitlines()[0])
            self.log.warning("PATCHED CHECK: %s, %s, %s: %s", student, notebook, grade_id,
                             detail)
            report_event(PatchedCheck(notebook=notebook, grade_id=grade_id, detail=detail))
        ename = "AssertionError"
        # When the notebook's own run failed too, its error says why: one line here, of the
        # same type, so the feedback and the class report (which sorts failures by the first
        # error's type and counts the diagnoses) stay as they were before the grader ran.
        errors = [output for output in cell.outputs if output.output_type == "error"]
        if errors:
            report = f"{report.splitlines()[0]} (and the notebook's own run failed, below)"
            ename = errors[0].ename
        cell.outputs.insert(0, nbformat.v4.new_output(
            "error", ename=ename, evalue=PREFIX + report,
            traceback=[f"{ename}: {PREFIX}{report}"]))
