"""The rubric of each written answer, beside it in formgrader and nowhere a student looks.

One student ("writer") submits the solved code and written answers of their own; the real
`nbgrader autograde` grades them with the course's config, and `nbgrader generate_feedback`
makes their feedback. Then a real Jupyter server with nbgrader's formgrader serves the
submission's grading page, read over HTTP and, with Chromium, as a screenshot in
test-artifacts/rubrics/.
"""

from __future__ import annotations

import re
import urllib.request
from html import unescape
from pathlib import Path

import nbformat
import pytest
from course_builder import (
    ASSIGNMENT,
    KEY,
    NOTEBOOKS,
    SOURCE,
    copy_generated,
    grade_id,
    nbgrader,
    solved_release,
    submit,
)
from lab_browser import REPO, chromium_context, lab_server, require_browser
from nbgrader.api import Gradebook

from digitlab.course.grading.rubrics import (
    grader_note,
    is_grader_note,
    manually_graded,
    solution_text,
)

STUDENT = "writer"
ARTIFACTS = REPO / "test-artifacts" / "rubrics"


def own_answer(answer_id: str) -> str:
    return f"My own answer to {answer_id}: the curves say so."


def source_answers() -> dict[str, dict[str, str]]:
    """{notebook stem: {grade id: source text}} of every manually graded answer."""
    return {Path(name).stem: {grade_id(cell): solution_text(cell)
                              for cell in nbformat.read(SOURCE / name, 4).cells
                              if manually_graded(cell)}
            for name in NOTEBOOKS}


ANSWERS = source_answers()


def rubric_line(notebook: str, answer_id: str) -> str:
    """The rubric's first line, e.g. **Rubric (3 points).** ..."""
    return next(line for line in ANSWERS[notebook][answer_id].splitlines()
                if line.startswith("**Rubric"))


def rubric_words(notebook: str, answer_id: str) -> str:
    """The rubric's heading as a page shows it, markup gone: "Rubric (3 points"."""
    return re.match(r"\*\*(Rubric \(\d+ points?)", rubric_line(notebook, answer_id))[1]


def write_own_answers(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for notebook in notebooks.values():
        for cell in notebook.cells:
            if manually_graded(cell):
                cell.source = own_answer(grade_id(cell))


@pytest.fixture(scope="module")
def course(generated_course, tmp_path_factory) -> Path:
    """A course where `writer` has been autograded and given feedback."""
    course = copy_generated(generated_course, tmp_path_factory.mktemp("rubrics") / "course")
    submit(course, STUDENT, solved_release(course), {"submission.csv": KEY},
           change=write_own_answers)
    nbgrader(course, "autograde", ASSIGNMENT, "--student", STUDENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", STUDENT)
    return course


def test_every_written_answer_has_a_rubric_for_its_points_in_its_source_cell():
    assert sum(map(len, ANSWERS.values())) == 7
    for name in NOTEBOOKS:
        for cell in nbformat.read(SOURCE / name, 4).cells:
            if manually_graded(cell):
                points = cell.metadata.nbgrader.points
                assert rubric_words(Path(name).stem, grade_id(cell)) == (
                    f"Rubric ({points:g} point{'s' if points != 1 else ''}")


def test_the_note_puts_the_rubric_first_then_the_model_answer():
    note = grader_note("answer-x", "**Model answer.** Slow.\n\n---\n**Rubric (2 points).**\n"
                                   "1 point for slow,\nnot fast.\n1 point for a number.")
    assert note.source == ("> #### Grader's note on `answer-x` (from the source notebook; "
                           "never released)\n>\n> **Rubric (2 points).**\n>\n"
                           "> - 1 point for slow,\n> not fast.\n> - 1 point for a number."
                           "\n>\n> **Model answer.** Slow.")
    assert note.metadata == {"digitlab": {"grader_note": "answer-x"}, "editable": False,
                             "deletable": False}
    assert "nbgrader" not in note.metadata  # no grade id, no points, no checksum


def test_the_autograded_notebook_holds_each_rubric_right_after_its_answer(course):
    for notebook, answers in ANSWERS.items():
        cells = nbformat.read(course / "autograded" / STUDENT / ASSIGNMENT /
                              f"{notebook}.ipynb", 4).cells
        notes = [index for index, cell in enumerate(cells) if is_grader_note(cell)]
        answered = [index for index, cell in enumerate(cells) if manually_graded(cell)]
        assert notes == [index + 1 for index in answered]
        assert [grade_id(cells[index]) for index in answered] == list(answers)
        for index in answered:
            answer_id, note = grade_id(cells[index]), cells[index + 1]
            assert cells[index].source == own_answer(answer_id)  # the student's, untouched
            assert note.metadata.digitlab.grader_note == answer_id
            assert f"> {rubric_line(notebook, answer_id)}" in note.source
            first_model_line = ANSWERS[notebook][answer_id].splitlines()[0]
            assert f"> {first_model_line}" in note.source


def test_the_notes_change_no_grade_cell_or_score(course):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for name in NOTEBOOKS:
            graded = {grade_id(cell): cell for cell in nbformat.read(SOURCE / name, 4).cells
                      if cell.metadata.get("nbgrader", {}).get("grade")}
            submitted = gradebook.find_submission_notebook(Path(name).stem, ASSIGNMENT,
                                                           STUDENT)
            grades = {grade.name: grade for grade in submitted.grades}
            assert set(grades) == set(graded)
            for answer_id, grade in grades.items():
                if manually_graded(graded[answer_id]):
                    assert grade.needs_manual_grade and not grade.auto_score
                else:  # the solved code passes every test
                    assert grade.auto_score == graded[answer_id].metadata.nbgrader.points


def test_the_feedback_holds_no_rubric_or_model_answer(course):
    pages = sorted((course / "feedback" / STUDENT / ASSIGNMENT).glob("*.html"))
    assert [page.stem for page in pages] == [Path(name).stem for name in NOTEBOOKS]
    for page in pages:
        text = unescape(page.read_text())
        for secret in ("Rubric", "Model answer", "Grader's note", "grader_note"):
            assert secret not in text, (page.name, secret)
        for answer_id in ANSWERS[page.stem]:
            assert own_answer(answer_id) in text


def submission_page(course: Path, notebook: str) -> str:
    """The path of the formgrader page that grades the student's notebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(notebook, ASSIGNMENT, STUDENT)
        return f"formgrader/submissions/{submitted.id}/"


def test_formgrader_shows_each_rubric_after_the_students_answer(course, tmp_path):
    notebook = Path(NOTEBOOKS[1]).stem  # 02: two written answers
    with lab_server(course, tmp_path / "home") as server:
        page = submission_page(course, notebook)
        request = urllib.request.Request(server.url + page,
                                         headers={"Authorization": f"token {server.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            html = unescape(response.read().decode())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"formgrader-{notebook}.html").write_text(html)
        position = 0
        for answer_id in ANSWERS[notebook]:  # in the notebook's order
            # The answer's panel: score box, the student's text, comment box; then the note.
            score_box = html.index(f'id="{answer_id}"', position)
            answer = html.index(own_answer(answer_id), score_box)
            comment_box = html.index(f'id="{answer_id}-comment"', answer)
            note = html.index(f"Grader's note on <code>{answer_id}</code>", comment_box)
            rubric = html.index(rubric_words(notebook, answer_id), note)
            assert html.count('<div class="cell ', comment_box, note) == 1  # its own cell
            assert html.index(own_answer(answer_id)) == answer  # no copy elsewhere
            position = rubric
        # formgrader still offers a score box for every graded cell, and only for those.
        boxes = re.findall(r'class="score tabbable" id="([^"]+)"', html)
        graded = [grade_id(cell) for cell in nbformat.read(SOURCE / NOTEBOOKS[1], 4).cells
                  if cell.metadata.get("nbgrader", {}).get("grade")]
        assert boxes == graded
        require_browser()
        with chromium_context(tmp_path / "profile") as context:
            tab = context.new_page()
            tab.goto(f"{server.url}{page}?token={server.token}")
            first = next(iter(ANSWERS[notebook]))
            tab.get_by_text(rubric_words(notebook, first)).first.scroll_into_view_if_needed()
            tab.screenshot(path=str(ARTIFACTS / f"formgrader-{notebook}.png"))
