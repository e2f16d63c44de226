"""The instructor's whole workflow, run with the real nbgrader on the real notebooks.

generate_assignment -> students' submissions -> autograde -> generate_feedback -> export.
The class: a perfect student, a blank one (the release as it is), one with the seed's bug in
Linear.backward, one who deleted test cells, and one whose code loops forever.
"""

import csv
import shutil

import nbformat
import numpy as np
import pytest
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    averaged_bias,
    copy_course,
    copy_generated,
    grade_id,
    nbgrader,
    replace_answer,
    solution_lines,
    solved_release,
    submit,
    tree_digest,
)
from nbgrader.api import Gradebook

# The test cells and their points, from the source notebooks.
TEST_POINTS = {
    grade_id(cell): cell.metadata.nbgrader.points
    for name in NOTEBOOKS
    for cell in nbformat.read(SOURCE / name, 4).cells
    if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"
}
ENDLESS_SUMMARY = '''
import time


def summarize_accuracies(accuracies):
    while True:  # swallows the interrupt that a timeout sends
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            continue
'''
# The per-cell timeout for this test only: it bounds how long the endless loop holds us up.
CELL_TIMEOUT = "--Execute.timeout=8"


def deleted_tests(notebooks):
    for notebook, cell_id in ((NOTEBOOKS[0], "test-input-gradient"),
                              (NOTEBOOKS[3], "test-summary-interval")):
        notebooks[notebook].cells = [cell for cell in notebooks[notebook].cells
                                     if grade_id(cell) != cell_id]


def endless_loop(notebooks):
    replace_answer(notebooks, NOTEBOOKS[3], "summarize-accuracies", lambda _: ENDLESS_SUMMARY)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    (course / "notebooks" / ASSIGNMENT / "submission.csv").write_text("left by a solution run")
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    return course


@pytest.fixture(scope="module")
def class_submissions(course, tmp_path_factory):
    """Five students, submitted and autograded in one nbgrader run."""
    labels = np.loadtxt(KEY, delimiter=",", skiprows=1, dtype=int)[:, 1]
    # 86% right: enough for the 85% threshold, not for 89% or 91%.
    wrong = np.random.default_rng(86).choice(len(labels), 140, replace=False)
    labels[wrong] = (labels[wrong] + 1) % 10
    mediocre = tmp_path_factory.mktemp("files") / "submission.csv"
    mediocre.write_text("ImageId,Label\n" + "".join(f"{i},{label}\n"
                                                     for i, label in enumerate(labels, 1)))
    solved = solved_release(course)
    release = {name: nbformat.read(course / "release" / ASSIGNMENT / name, 4)
               for name in NOTEBOOKS}
    submit(course, "perfect", solved, {"submission.csv": KEY})
    submit(course, "blank", release)
    submit(course, "buggy", solved, {"submission.csv": mediocre}, change=averaged_bias)
    submit(course, "deleted", solved, {"submission.csv": KEY}, change=deleted_tests)
    submit(course, "stuck", solved, {"submission.csv": KEY}, change=endless_loop)
    before = tree_digest(course / "submitted")
    nbgrader(course, "autograde", ASSIGNMENT, CELL_TIMEOUT)
    return before


def auto_scores(course, student):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {grade.name: grade.auto_score for notebook in submission.notebooks
                for grade in notebook.grades if grade.name in TEST_POINTS}


def test_the_release_holds_no_solution_hidden_test_or_key(course):
    released = course / "release" / ASSIGNMENT
    assert sorted(path.name for path in released.iterdir()) == NOTEBOOKS
    text = "".join(path.read_text() for path in released.iterdir())
    solutions = [line for name in NOTEBOOKS
                 for line in solution_lines(course / "notebooks" / ASSIGNMENT / name)]
    assert len(solutions) >= 8
    leaked = [line for line in solutions if line.replace('"', '\\"') in text]
    assert leaked == []
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "backward_check", "score_submission",
                   "DIGITLAB_ANSWER_KEY", "Model answer", "Rubric"):
        assert secret not in text, secret
    assert "YOUR ANSWER HERE" in text and "raise NotImplementedError()" in text


def test_autograde_gives_full_zero_partial_and_restored_scores(course, class_submissions):
    assert auto_scores(course, "perfect") == TEST_POINTS
    assert auto_scores(course, "blank") == dict.fromkeys(TEST_POINTS, 0)
    # The averaged bias fails the bias test and the all-sizes check, and nothing else;
    # the 86% file earns the valid-file point and the 85% threshold only.
    assert auto_scores(course, "buggy") == {
        **TEST_POINTS, "test-bias-gradient": 0, "test-sizes": 0,
        "test-accuracy-89": 0, "test-accuracy-91": 0}
    assert auto_scores(course, "deleted") == TEST_POINTS


def test_only_the_notebooks_with_autograded_tests_are_run(course, class_submissions):
    """Autograde runs each notebook that holds a test cell, every code cell of it, and
    starts no kernel for one of written answers alone (02 and 03): its code cells keep no
    output and no execution count (their outputs were cleared before the run anyway)."""
    graded = course / "autograded" / "perfect" / ASSIGNMENT
    tested = {name for name in NOTEBOOKS
              if any(grade_id(cell) in TEST_POINTS
                     for cell in nbformat.read(SOURCE / name, 4).cells)}
    assert sorted(set(NOTEBOOKS) - tested) == [NOTEBOOKS[1], NOTEBOOKS[2]]
    for name in NOTEBOOKS:
        code = [cell for cell in nbformat.read(graded / name, 4).cells
                if cell.cell_type == "code"]
        counts = [cell.execution_count for cell in code]
        if name in tested:
            assert None not in counts, name
        else:
            assert counts == [None] * len(code) and not any(cell.outputs for cell in code)


def test_deleted_test_cells_are_restored_and_run(course, class_submissions):
    graded = course / "autograded" / "deleted" / ASSIGNMENT
    for notebook, cell_id in ((NOTEBOOKS[0], "test-input-gradient"),
                              (NOTEBOOKS[3], "test-summary-interval")):
        cells = [cell for cell in nbformat.read(graded / notebook, 4).cells
                 if grade_id(cell) == cell_id]
        assert len(cells) == 1 and cells[0].outputs, cell_id


def test_an_endless_loop_fails_its_own_cells_and_nothing_else(course, class_submissions):
    expected = {**TEST_POINTS, "test-summary-mean-std": 0, "test-summary-interval": 0}
    assert auto_scores(course, "stuck") == expected


def test_autograde_leaves_the_submissions_untouched(course, class_submissions):
    assert tree_digest(course / "submitted") == class_submissions


def test_feedback_and_export(course, class_submissions):
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    for student in ("perfect", "blank", "buggy", "deleted", "stuck"):
        folder = course / "feedback" / student / ASSIGNMENT
        pages = sorted(path.name for path in folder.glob("*.html"))
        assert pages == [name.replace(".ipynb", ".html") for name in NOTEBOOKS]
        text = "".join(path.read_text() for path in folder.iterdir())
        # Neither the key nor its location ever reaches the feedback.
        assert "digit-lab.csv" not in text and str(course / "keys") not in text
        assert not (folder / "keys").exists()
    assert tree_digest(course / "submitted") == class_submissions

    nbgrader(course, "export")
    with open(course / "grades.csv", newline="") as file:
        scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(file)}
    full = sum(TEST_POINTS.values())
    assert scores == {"perfect": full, "blank": 0, "buggy": full - 6, "deleted": full,
                      "stuck": full - 4}


def test_release_fetch_submit_and_collect_through_an_exchange(generated_course, tmp_path):
    course = copy_generated(generated_course, tmp_path / "course")
    exchange, home = tmp_path / "exchange", tmp_path / "student"
    exchange.mkdir(mode=0o777)
    home.mkdir()
    shared = f"--Exchange.root={exchange}"
    nbgrader(course, "release_assignment", ASSIGNMENT, shared)
    nbgrader(home, "fetch_assignment", ASSIGNMENT, shared, "--course=digitlab")
    shutil.copy(KEY, home / ASSIGNMENT / "submission.csv")
    nbgrader(home, "submit", ASSIGNMENT, shared, "--course=digitlab")
    nbgrader(course, "collect", ASSIGNMENT, shared)
    [collected] = (course / "submitted").glob(f"*/{ASSIGNMENT}")
    names = {path.name for path in collected.iterdir()}
    assert {*NOTEBOOKS, "submission.csv"} <= names


def test_validate_gives_students_the_public_verdict(course, tmp_path):
    solved = solved_release(course)
    nbformat.write(solved[NOTEBOOKS[3]], tmp_path / NOTEBOOKS[3])
    nbformat.write(solved[NOTEBOOKS[0]], tmp_path / NOTEBOOKS[0])
    passing = nbgrader(course, "validate", str(tmp_path / NOTEBOOKS[3])).stdout
    assert "Success! Your notebook passes all the tests." in passing
    failing = nbgrader(course, "validate",
                       str(course / "release" / ASSIGNMENT / NOTEBOOKS[3])).stdout
    assert "VALIDATION FAILED" in failing and "NotImplementedError" in failing
