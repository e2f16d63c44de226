"""The hidden checks judged outside the student's kernel, with the real `nbgrader autograde`.

One run grades five students, each submitting notebooks 01 and 05 (the forger 04 too; the
others are scored 0 as missing, which keeps the run short):

- perfect: the solutions and the answer key as submission.csv;
- forger: an all-zero submission.csv, and a cell in notebook 05 that replaces
  subprocess.run and hidden_check.check with fakes that report a pass; in notebook 04, a
  summary that divides by n, with abs and subprocess.run patched so the tests pass there;
- patcher: the averaged bias in notebook 01, and in its answer cell patches of numpy,
  digitlab.gradcheck, digitlab.testing and subprocess.run that make every test pass there;
- buggy: the averaged bias in notebook 01 and nothing else, failing in the kernel too;
- overwriter: an all-zero submission.csv, and a cell in notebook 05 that copies the answer
  key over the autograded copy of submission.csv while the notebook runs.
"""

import re
from collections import Counter

import nbformat
import numpy as np
import pytest
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    averaged_bias,
    copy_generated,
    grade_id,
    nbgrader,
    replace_answer,
    solved_release,
    submit,
    tree_digest,
)
from nbgrader.api import Gradebook
from test_nbgrader_pipeline import TEST_POINTS

from digitlab.competition import write_submission
from digitlab.course.checks.verify_outside import PREFIX, check_calls
from digitlab.course.records import EVENTS_VARIABLE, read_events

FIRST, RANDOMNESS, COMPETITION = NOTEBOOKS[0], NOTEBOOKS[3], NOTEBOOKS[4]
ACCURACY_TESTS = ("test-accuracy-85", "test-accuracy-89", "test-accuracy-91")
SUMMARY_TESTS = ("test-summary-mean-std", "test-summary-interval")
FAKE_CHECKS = """\
import subprocess
import types

import digitlab.course.hidden_check

subprocess.run = lambda *args, **kwargs: types.SimpleNamespace(
    returncode=0, stdout="accuracy 1.0\\nCompetition accuracy: 100.0%\\nPASSED", stderr="")
digitlab.course.hidden_check.check = lambda *args: print("Competition accuracy: 100.0%")
"""
PATCHES = """

import subprocess
import types

import digitlab.gradcheck
import digitlab.testing

np.allclose = lambda *args, **kwargs: True
digitlab.testing.compare_gradient = digitlab.gradcheck.compare_gradient = (
    lambda name, *args, **kwargs: digitlab.gradcheck.QuantityCheck(name, 0.0, 0.0, True))
check_layer = lambda *args, **kwargs: types.SimpleNamespace(passed=True)
subprocess.run = lambda *args, **kwargs: types.SimpleNamespace(
    returncode=0, stdout="PASSED", stderr="")
"""
SUMMARY_PATCHES = """

import builtins
import subprocess
import types

builtins.abs = lambda value: 0
subprocess.run = lambda *args, **kwargs: types.SimpleNamespace(
    returncode=0, stdout="PASSED", stderr="")
"""
OVERWRITE = """\
import os
import shutil

shutil.copy(os.environ["DIGITLAB_ANSWER_KEY"], "submission.csv")
"""


def with_cell(source):
    """A change that adds a code cell running `source` right after notebook 05's imports."""
    def change(notebooks):
        notebooks[COMPETITION].cells.insert(2, nbformat.v4.new_code_cell(source))
    return change


def forged(notebooks):
    """The forger's changes to notebooks 04 and 05."""
    with_cell(FAKE_CHECKS)(notebooks)
    replace_answer(notebooks, RANDOMNESS, "summarize-accuracies",
                   lambda source: source.replace("ddof=1", "ddof=0") + SUMMARY_PATCHES)


def patched_bias(notebooks):
    averaged_bias(notebooks)
    replace_answer(notebooks, FIRST, "linear-backward", lambda source: source + PATCHES)


@pytest.fixture(scope="module")
def graded(generated_course, tmp_path_factory):
    """The course after one autograde of the five students; (course, events, log, digest).

    Kernel limits off: the grader's judgement must hold alone, even for a kernel that can
    read the key and write anywhere (tests/test_adversarial_class.py grades with both)."""
    course = copy_generated(generated_course, tmp_path_factory.mktemp("course"))
    solved = solved_release(course)
    both = {name: solved[name] for name in (FIRST, COMPETITION)}
    zeros = write_submission(np.zeros(len(np.loadtxt(KEY, delimiter=",", skiprows=1)), int),
                             tmp_path_factory.mktemp("zeros") / "submission.csv")
    submit(course, "perfect", both, {"submission.csv": KEY})
    submit(course, "forger", {**both, RANDOMNESS: solved[RANDOMNESS]}, {"submission.csv": zeros},
           change=forged)
    submit(course, "patcher", {FIRST: solved[FIRST]}, change=patched_bias)
    submit(course, "buggy", {FIRST: solved[FIRST]}, change=averaged_bias)
    submit(course, "overwriter", both, {"submission.csv": zeros}, change=with_cell(OVERWRITE))
    before = tree_digest(course / "submitted")
    events = course / "events.jsonl"
    with pytest.MonkeyPatch.context() as environment:  # nbgrader() passes os.environ on
        environment.setenv(EVENTS_VARIABLE, str(events))
        log = nbgrader(course, "autograde", ASSIGNMENT, "--GradingLimits.enabled=False").stderr
    return course, read_events(events)[1], log, before


def scores(course, student, notebook):
    """{grade id: auto score} of the test cells of one notebook of one student."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_submission_notebook(notebook.removesuffix(".ipynb"),
                                                    ASSIGNMENT, student)
        return {grade.name: grade.auto_score for grade in graded.grades
                if grade.name in TEST_POINTS}


def full_points(notebook):
    """{grade id: points} of the test cells of one notebook."""
    return {grade_id(cell): TEST_POINTS[grade_id(cell)]
            for cell in nbformat.read(SOURCE / notebook, 4).cells if grade_id(cell) in TEST_POINTS}


def outputs(course, student, notebook, cell_id):
    """The outputs of one test cell in a student's autograded notebook."""
    [cell] = [cell for cell in nbformat.read(course / "autograded" / student / ASSIGNMENT
                                             / notebook, 4).cells if grade_id(cell) == cell_id]
    return cell.outputs


def test_a_right_submission_gets_full_marks_confirmed_by_the_grader(graded):
    """Both notebooks score in full, each hidden check says the grader confirmed it, and
    nothing is reported as patched."""
    course, patched, log, _ = graded
    for notebook in (FIRST, COMPETITION):
        assert scores(course, "perfect", notebook) == full_points(notebook)
    [note] = [output.text for output in outputs(course, "perfect", COMPETITION,
                                                "test-accuracy-91")
              if output.get("text", "").startswith(PREFIX)]
    assert note == f"{PREFIX}Competition accuracy: 100.0%\n"
    assert "PATCHED CHECK: perfect" not in log


def test_faked_checks_in_the_kernel_score_nothing_and_are_reported(graded):
    """The forger's fakes pass every check in the kernel; the grader scores the all-zero
    file it submitted, fails the three accuracy cells and reports each as patched."""
    course, patched, log, _ = graded
    assert scores(course, "forger", COMPETITION) == {
        **full_points(COMPETITION), **dict.fromkeys(ACCURACY_TESTS, 0)}
    for cell_id in ACCURACY_TESTS:
        first = outputs(course, "forger", COMPETITION, cell_id)[0]
        assert first.output_type == "error" and first.ename == "AssertionError"
        assert first.evalue.startswith(f"{PREFIX}Competition accuracy: ")
        assert first.evalue.endswith(f"Below {cell_id[-2:]}%.")
        assert str(course) not in first.evalue and "digit-lab.csv" not in first.evalue
        assert f"PATCHED CHECK: forger, {COMPETITION}, {cell_id}:" in log


def test_a_patched_summary_check_does_not_pass_a_wrong_summary(graded):
    """The forger's summary divides by n, and patched abs and subprocess.run pass both of
    notebook 04's tests in the kernel; the grader's own run of the function fails both."""
    course, patched, log, _ = graded
    assert scores(course, "forger", RANDOMNESS) == dict.fromkeys(SUMMARY_TESTS, 0)
    first = outputs(course, "forger", RANDOMNESS, "test-summary-mean-std")[0]
    assert first.evalue.startswith(f"{PREFIX}FAILED: mean-std is wrong on the hidden lists:")
    assert "is not the sample standard deviation (divide by n - 1)" in first.evalue
    for cell_id in SUMMARY_TESTS:
        assert f"PATCHED CHECK: forger, {RANDOMNESS}, {cell_id}:" in log


def test_patched_numpy_and_gradcheck_do_not_pass_a_wrong_backward(graded):
    """The patcher's averaged bias passes every cell in its kernel; the grader's own run of
    the class fails the bias and all-sizes cells, as for an honest student with that bug."""
    course, patched, log, _ = graded
    assert scores(course, "patcher", FIRST) == {
        **full_points(FIRST), "test-bias-gradient": 0, "test-sizes": 0}
    first = outputs(course, "patcher", FIRST, "test-bias-gradient")[0]
    assert first.evalue.startswith(f"{PREFIX}FAILED: bias is wrong on the hidden cases:")
    # The patcher's own hidden cases (drawn per student): the bias is off by each batch size.
    cases = re.findall(r"batch (\d+): grad_bias: grad_bias is 1/(\d+) of the numerical gradient",
                       first.evalue)
    assert cases and all(batch == factor for batch, factor in cases), first.evalue
    for cell_id in ("test-bias-gradient", "test-sizes"):
        assert f"PATCHED CHECK: patcher, {FIRST}, {cell_id}:" in log


def test_an_honest_failure_is_said_once_and_not_reported(graded):
    """The buggy student's cells fail in the kernel and for the grader alike: scored as the
    patcher's, the grader's verdict one line over the notebook's reasons, no report."""
    course, patched, log, _ = graded
    assert scores(course, "buggy", FIRST) == scores(course, "patcher", FIRST)
    grader, *rest = outputs(course, "buggy", FIRST, "test-bias-gradient")
    assert grader.evalue == (f"{PREFIX}FAILED: bias is wrong on the hidden cases: "
                             "(and the notebook's own run failed, below)")
    [kernel] = [output for output in rest if output.output_type == "error"]
    assert kernel.evalue.startswith("grad_bias is wrong.")  # the public test's message
    assert "PATCHED CHECK: buggy" not in log


def test_a_file_written_while_grading_is_not_the_one_scored(graded):
    """The overwriter's notebook puts the key in place of submission.csv in the autograded
    folder; the grader scores the submitted all-zero file instead."""
    course, patched, log, _ = graded
    written = course / "autograded" / "overwriter" / ASSIGNMENT / "submission.csv"
    assert written.read_bytes() == KEY.read_bytes()  # the kernel could write there
    assert scores(course, "overwriter", COMPETITION) == {
        **full_points(COMPETITION), **dict.fromkeys(ACCURACY_TESTS, 0)}


def test_every_patched_check_is_an_event_and_submitted_is_untouched(graded):
    """The events file holds one patched check per failed cell of the three cheats (it is
    one file for the whole run here; the driver names one per student), and no other."""
    course, patched, log, before = graded
    expected = Counter({(COMPETITION, cell_id): 2 for cell_id in ACCURACY_TESTS})
    expected.update({(FIRST, "test-bias-gradient"): 1, (FIRST, "test-sizes"): 1,
                     **{(RANDOMNESS, cell_id): 1 for cell_id in SUMMARY_TESTS}})
    assert Counter((event.notebook, event.grade_id) for event in patched) == expected
    assert all(event.detail.startswith("the check passed in the notebook but failed")
               for event in patched)
    assert tree_digest(course / "submitted") == before


def test_check_calls_are_read_as_literal_strings_only():
    """The calls are found anywhere in the source; one the grader could not repeat is an
    error, never skipped."""
    assert check_calls('x = 1\nif x:\n    check("score_submission", "a.csv")\n') == [
        ("score_submission", ["a.csv"])]
    for source in ('check("score_submission", name)', 'check("rm", "-rf")',
                   'check("score_submission", at_least="0.85")'):
        with pytest.raises(ValueError, match="a hidden check must be"):
            check_calls(source)
