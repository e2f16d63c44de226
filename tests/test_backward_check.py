"""The hidden check of Linear.backward, run for real as the hidden test cells run it: a fresh
`python -I -m digitlab.course.checks.backward_check` per quantity, which passes when it exits with
status 0. The student's code runs only in its child process, which sends back arrays, so
whatever that code does can change the arrays judged, never the verdict."""

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from notebook_factory import (
    AVERAGED_BIAS,
    answer,
    reference_answer,
    reference_solution,
    release_answer,
    write_notebook,
)

from digitlab.course.checks import backward_check
from digitlab.course.checks.box import plain_box
from digitlab.student import NOTEBOOK_01

QUANTITIES = ("shapes", "input", "weights", "bias", "unchanged", "all")
LAYERS = "13x7,9x9"  # a non-square and a square layer, as in the hidden tests
AVERAGED_BIAS_REASON = "grad_bias is 1/6 of the numerical gradient"
# One BLAS thread per process: the runs go side by side on small arrays, and idle BLAS
# threads would only spin. The arrays, and so the verdicts, are the same.
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


@dataclass
class Verdict:
    """What one run of the checker printed, and whether that is a pass."""

    stdout: str
    stderr: str
    returncode: int

    @property
    def passed(self) -> bool:
        return self.returncode == 0  # all that the hidden test cells look at

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.stdout}{self.stderr}"


def start(folder, quantities=QUANTITIES, layers=LAYERS, notebook=None, seconds=None):
    """Start the checker in `folder` once per quantity, all at once; the processes by quantity."""
    options = ["--layers", layers, "--batch-sizes", "1,6", "--seed", "5"]
    options += [] if notebook is None else ["--notebook", str(notebook)]
    options += [] if seconds is None else ["--seconds", str(seconds)]
    return {quantity: subprocess.Popen(
                [sys.executable, "-I", "-m", "digitlab.course.checks.backward_check",
                 "--quantity", quantity, *options],
                cwd=folder, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            for quantity in quantities}


def finish(processes):
    """Wait for the processes from `start`; their verdicts by quantity."""
    return {quantity: Verdict(*process.communicate(timeout=60), process.returncode)
            for quantity, process in processes.items()}


def start_answer(folder, source, quantities=QUANTITIES, **options):
    """Save `source` as the answer cell of notebook 01 in `folder` and start its checks there."""
    write_notebook(folder / NOTEBOOK_01, source)
    return start(folder, quantities, **options)


def check_answer(folder, source, quantities=QUANTITIES, **options):
    """Save `source` as the answer cell of notebook 01 in `folder`; its verdicts by quantity."""
    return finish(start_answer(folder, source, quantities, **options))


def assert_failed(verdict, reason=""):
    """A clean failure: exit status 1, a FAILED line with `reason` in it, and no traceback."""
    assert verdict.returncode == 1, verdict
    assert verdict.stdout.startswith("FAILED: "), verdict
    assert reason in verdict.stdout, verdict
    assert "Traceback" not in str(verdict), verdict


def failed(verdicts):
    """The quantities that did not pass."""
    return {quantity for quantity, verdict in verdicts.items() if not verdict.passed}


@pytest.mark.parametrize("by_option", [False, True], ids=["notebook in cwd", "--notebook"])
def test_the_reference_solution_passes_every_quantity(tmp_path, by_option):
    """The solution in the source notebook passes every quantity, found in the working
    folder under its usual name or given by --notebook."""
    saved = write_notebook(tmp_path / "submitted" / NOTEBOOK_01, reference_answer())

    verdicts = finish(start(tmp_path if by_option else saved.parent,
                            notebook=saved if by_option else None))

    for quantity, verdict in verdicts.items():
        assert verdict.passed, f"{quantity}: {verdict}"
        assert verdict.stdout == "PASSED\n"


MISTAKES = {
    # name: (backward body, the quantities it must fail, a phrase of the first one's reason)
    "averaged bias": (AVERAGED_BIAS, {"bias", "all"}, AVERAGED_BIAS_REASON),
    "transposed weights": ("""\
        self.grad_weights = grad.T @ self.input
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        return grad @ self.weights.T
        """, {"shapes", "weights", "all"}, "grad_weights has shape (7, 13) but should have"
                                           " (13, 7): it looks transposed"),
    "input gradient sign flipped": ("""\
        self.grad_weights = self.input.T @ grad
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        return -grad @ self.weights.T
        """, {"input", "all"}, "input gradient has the wrong sign"),
    "returns nothing": ("""\
        self.grad_weights = self.input.T @ grad
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        """, {"shapes", "input", "all"}, "backward returned None"),
    "updates the weights": ("""\
        self.grad_weights = self.input.T @ grad
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        returned = grad @ self.weights.T
        self.weights -= 0.1 * self.grad_weights
        return returned
        """, {"unchanged", "all"}, "backward changed self.weights"),
    "accumulates": ("""\
        if self.grad_weights is None:
            self.grad_weights = 0
        self.grad_weights += self.input.T @ grad
        self.grad_bias = grad.sum(axis=0, keepdims=True)
        return grad @ self.weights.T
        """, {"weights", "all"}, "grad_weights doubled when backward ran twice"),
    "release stub": (None, set(QUANTITIES),
                     "backward is not implemented yet"),
}


@pytest.mark.parametrize(("body", "failing", "reason"), MISTAKES.values(), ids=MISTAKES)
def test_a_mistake_fails_exactly_the_quantities_it_gets_wrong(tmp_path, body, failing, reason):
    """Each typical mistake fails its own quantities, passes the others, and the first
    failing one says why in words."""
    verdicts = check_answer(tmp_path, release_answer() if body is None else answer(body))

    assert failed(verdicts) == failing
    for quantity in failing:
        assert_failed(verdicts[quantity])
    assert reason in verdicts[min(failing, key=QUANTITIES.index)].stdout


def test_square_layers_hide_a_transposed_weights_gradient_from_the_shapes_only(tmp_path):
    """On a square layer a transposed grad_weights has the right shape, and still fails."""
    verdicts = check_answer(tmp_path, answer(MISTAKES["transposed weights"][0]),
                            quantities=("shapes", "weights"), layers="9x9")

    assert verdicts["shapes"].passed
    assert_failed(verdicts["weights"], "FAILED: weights is wrong on the hidden cases")
    assert "grad_weights is the transpose of the right answer" in verdicts["weights"].stdout


# Each patch runs in the child with the student's code. None can reach the parent, which
# judges with its own numpy, gradient checker and forward: a right backward still passes and
# a wrong one still fails. Had the check run in the student's process, as it once did, the
# patches of __main__, of check_layer's default and of the callers' globals would each have
# made a wrong backward pass.
PATCH_ABS_IN_BACKWARD = """\
global _real_abs
if "_real_abs" not in globals():  # the first call patches, every later call restores
    _real_abs = np.abs
    np.abs = lambda values: 0 * values
else:
    np.abs = _real_abs
"""
PATCHES = {
    # name: (code at the start of backward, top-level code after the class)
    "numpy.allclose": ("", "np.allclose = lambda *args, **kwargs: True\n"),
    "numpy.abs inside backward, restored later": (PATCH_ABS_IN_BACKWARD, ""),
    "functions of digitlab.gradcheck": ("", """\
        import digitlab.gradcheck

        digitlab.gradcheck._compare = (
            lambda name, *args: digitlab.gradcheck.QuantityCheck(name, 0.0, 0.0, True))
        digitlab.gradcheck.numerical_gradient = lambda *args, **kwargs: 0
        """),
    "digitlab.Linear.forward, without the bias": ("", """\
        def forward(self, x):
            self.input = x
            return x @ self.weights


        digitlab.Linear.forward = forward
        """),
    "the child's module through __main__": ("", """\
        import __main__

        __main__.check = __main__.judge = lambda *args: []
        __main__.QUANTITIES = {"bias": ()}
        """),
    "the checker's functions and tables": ("", """\
        import digitlab.course.checks.backward_check as checker

        checker.QUANTITIES["bias"] = ()
        checker.judge = lambda *args: []
        checker.ReplayedLinear.backward = lambda self, grad: None
        """),
    "a default argument of check_layer": ("", """\
        import digitlab.gradcheck

        digitlab.gradcheck.check_layer.__kwdefaults__["threshold"] = float("inf")
        """),
    "the globals of every caller, through the frames": ("""\
        import sys

        frame = sys._getframe(1)
        while frame is not None:
            frame.f_globals.update(check_layer=lambda *args, **kwargs: None,
                                   judge=lambda *args: [], QUANTITIES={"bias": ()})
            frame = frame.f_back
        """, ""),
}


@pytest.mark.parametrize(("prefix", "after"), PATCHES.values(), ids=PATCHES)
def test_patches_change_only_the_arrays_never_the_verdict(tmp_path, prefix, after):
    """With a patch of numpy, digitlab or the checker, a right backward still passes "all"
    and the averaged bias still fails "bias" and "all", saying why."""
    def source(body):
        return answer(textwrap.dedent(prefix) + "\n" + body, after=after)

    right = start_answer(tmp_path / "right", source(reference_solution()), ["all"])
    wrong = start_answer(tmp_path / "wrong", source(AVERAGED_BIAS), ["bias", "all"])
    right, wrong = finish(right), finish(wrong)

    assert right["all"].passed, right["all"]
    for verdict in wrong.values():
        assert_failed(verdict, AVERAGED_BIAS_REASON)


# Prints a pass, then ends the process before anything can object.
PRINT_PASSED = """\
import os

print("PASSED", flush=True)
os._exit(0)
"""
# What used to be a secret, the token, would be in some frame: print every string there.
PRINT_FRAMES = """\
import os
import sys

frame = sys._getframe(1)
while frame is not None:
    for value in list(frame.f_locals.values()):
        if isinstance(value, str):
            print(value, "PASSED")
    frame = frame.f_back
print("PASSED", flush=True)
os._exit(0)
"""
FORGERIES = {
    "at top level": (AVERAGED_BIAS, PRINT_PASSED),
    "inside backward": (PRINT_PASSED, ""),
    "inside backward, after reading every frame": (PRINT_FRAMES, ""),
}


@pytest.mark.parametrize(("body", "after"), FORGERIES.values(), ids=FORGERIES)
def test_printing_passed_and_exiting_early_is_not_a_pass(tmp_path, body, after):
    """Code that prints PASSED and ends its process with status 0 fails, even the weakest
    quantity: the verdict is the parent's exit status, and the child sent back no arrays."""
    verdicts = check_answer(tmp_path, answer(body, after=after), ["unchanged", "all"])

    for verdict in verdicts.values():
        assert_failed(verdict, "ended before writing its results")


# Writes the results file the parent reads, with the arrays that the expression `arrays`
# makes from each `case`, then ends the process before the child can write its own.
WRITE_RESULTS = """\
import os
import sys

import __main__

cases_path, results_path = sys.argv[-2:]
with np.load(cases_path) as stored:
    inputs = dict(stored)
results = {{}}
for k in range(len(inputs) // 4):
    case = {{name: inputs[f"{{k}}/{{name}}"] for name in ("weights", "bias", "x", "upstream")}}
    results.update({{f"{{k}}/{{name}}": value for name, value in {arrays}.items()}})
np.savez(results_path, **results)
os._exit(0)
"""
ZEROS = """{
    **{f"{run}_{name}": np.zeros_like(case[name]) for run in ("first", "second")
       for name in ("weights", "bias")},
    **{f"{run}_{name}": np.zeros_like(case[like]) for run in ("first", "second")
       for name, like in (("returned", "x"), ("grad_weights", "weights"),
                          ("grad_bias", "bias"))}}"""
FORGED_RESULTS = {
    # name: (the arrays written for one case, the quantities that must fail)
    "what the child would write": ("__main__.run_case(Linear, case)", set()),
    "zeros of the right shapes": (ZEROS, {"input", "weights", "bias", "unchanged", "all"}),
    "no arrays at all": ("{}", set(QUANTITIES)),
}


@pytest.mark.parametrize(("arrays", "failing"), FORGED_RESULTS.values(), ids=FORGED_RESULTS)
def test_writing_the_results_file_passes_only_with_right_arrays(tmp_path, arrays, failing):
    """Student code that writes the results file itself is judged on what it wrote: the
    arrays a right backward gives pass, zeros of the right shapes pass the shapes only, and
    a file with no arrays passes nothing."""
    verdicts = check_answer(tmp_path, answer(reference_solution(),
                                             after=WRITE_RESULTS.format(arrays=arrays)))

    assert failed(verdicts) == failing
    for quantity in failing:
        assert_failed(verdicts[quantity])


UNREADABLE = {
    "a pickled object that would write a file": """\
        class Payload:
            def __reduce__(self):
                return exec, ("open('unpickled.txt', 'w').close()",)


        np.savez(sys.argv[-1], **{"0/first_returned": np.array([Payload()], dtype=object)})
        """,
    "strings": """np.savez(sys.argv[-1], **{"0/first_returned": np.array(["PASSED"])})\n""",
    "not an npz file": """open(sys.argv[-1], "w").write("PASSED")\n""",
}


@pytest.mark.parametrize("write", UNREADABLE.values(), ids=UNREADABLE)
def test_a_results_file_of_anything_but_numbers_fails_cleanly(tmp_path, write):
    """A results file that is not arrays of numbers fails with a reason, never runs a
    pickled payload, and never crashes the parent."""
    after = "import os\nimport sys\n\n" + textwrap.dedent(write) + "os._exit(0)\n"

    [verdict] = check_answer(tmp_path, answer(reference_solution(), after=after),
                             ["all"]).values()

    assert_failed(verdict, "the results of your Linear could not be read as arrays of numbers")
    assert not (tmp_path / "unpickled.txt").exists()


def test_a_named_pipe_for_results_fails_instead_of_blocking(tmp_path):
    """A results "file" that is a named pipe would block the parent's read forever: it fails."""
    after = "import os\nimport sys\n\nos.mkfifo(sys.argv[-1])\nos._exit(0)\n"

    [verdict] = check_answer(tmp_path, answer(reference_solution(), after=after),
                             ["all"]).values()

    assert_failed(verdict, "the results of your Linear are not a plain file.")


def test_a_linked_notebook_is_not_run(tmp_path):
    """A notebook 01 that links elsewhere (another student's, say) is refused."""
    elsewhere = write_notebook(tmp_path / "elsewhere" / NOTEBOOK_01, reference_answer())
    (tmp_path / NOTEBOOK_01).symlink_to(elsewhere)

    [verdict] = finish(start(tmp_path, ["all"])).values()

    assert_failed(verdict, f"{NOTEBOOK_01} is a symbolic link")


def test_an_endless_backward_fails_within_the_time_limit(tmp_path):
    """A backward that never returns is stopped after --seconds and fails, saying so."""
    begun = time.monotonic()

    [verdict] = check_answer(tmp_path, answer("while True:\n    pass\n"), ["all"],
                             seconds=2).values()

    assert_failed(verdict, "your Linear did not finish within 2 s.")
    assert time.monotonic() - begun < 10


def test_a_missing_notebook_fails_with_the_loaders_message(tmp_path):
    """With no notebook 01 in the folder, the check fails and says where the notebook
    should be."""
    [verdict] = finish(start(tmp_path, ["all"])).values()

    assert_failed(verdict, f"FAILED: {NOTEBOOK_01} is not here.")


def test_a_deleted_answer_cell_fails_with_the_loaders_message(tmp_path):
    """A notebook whose answer cell was replaced by a new cell fails with a clear message,
    which names the notebook but not the folders around it."""
    saved = write_notebook(tmp_path / "elsewhere" / NOTEBOOK_01, reference_answer(),
                           grade_id="cell-1234")

    [verdict] = finish(start(tmp_path, ["all"], notebook=saved)).values()

    assert_failed(verdict, f"FAILED: {NOTEBOOK_01} has no answer cell with id 'linear-backward'")
    assert str(saved.parent) not in verdict.stdout


@dataclass
class WrappedBox:
    """A box that starts the child through `env`, as a sandbox starts it through its own
    launcher, with a variable of its own in the environment, in a folder the test keeps."""

    directory: Path

    @property
    def environment(self):
        return {**ENV, "FROM_ENVIRONMENT": "yes"}

    def command(self, argv):
        return ["env", "FROM_COMMAND=yes", *argv]


# Top-level code that fails unless the child was started through the box, in its folder.
INSIDE_THE_BOX = """import os

assert os.environ["FROM_ENVIRONMENT"] == os.environ["FROM_COMMAND"] == "yes"
open("ran-here", "w").close()
"""


def test_the_grader_runs_the_student_through_the_box_it_is_given(tmp_path):
    """outside(), as the grader calls it: the notebook is read from the folder given, and
    the child starts through the box's command, with its environment, in its directory."""
    submitted, box = tmp_path / "submitted", tmp_path / "box"
    box.mkdir()
    write_notebook(submitted / NOTEBOOK_01, answer(AVERAGED_BIAS, after=INSIDE_THE_BOX))
    arguments = ["--quantity", "bias", "--layers", "9x9", "--batch-sizes", "6", "--seed", "5"]

    passed, report = backward_check.outside(arguments, submitted,
                                            lambda: contextlib.nullcontext(WrappedBox(box)))

    assert not passed and AVERAGED_BIAS_REASON in report, report
    assert (box / "ran-here").exists() and (box / NOTEBOOK_01).exists()
    # Without the box, the same code stops: the variables came from the box.
    passed, report = backward_check.outside(arguments, submitted, plain_box)
    assert not passed and "fails to run" in report and "FROM_ENVIRONMENT" in report, report
