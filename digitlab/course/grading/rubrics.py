"""Each written answer's rubric beside it in formgrader, and never in a student's feedback.

The rubric and the model answer of a manually graded answer live in that answer's cell of
the instructor's source notebook (a markdown answer cell is all solution: generate_assignment
replaces the whole cell in the release). formgrader, though, shows the student's autograded
notebook, whose answer cell holds the student's text, so a grader never saw the rubric there
(nbgrader issue #1155). Two small steps mend that:

- ShowRubrics, the last autograde step (c.Autograde.autograde_preprocessors), puts right
  after each manually graded answer cell a read-only markdown cell, the grader's note: the
  rubric, then the model answer, taken from the same grade id's cell of the source notebook
  (CourseLayout.source). Its metadata marks it {"digitlab": {"grader_note": GRADE_ID}}. It
  has no nbgrader metadata (no grade id, points or checksum), so the gradebook, the scores
  and formgrader's list of grade cells are the same as without it.
- HideRubrics, the first GenerateFeedback step, removes every such cell, so the feedback a
  student receives holds no rubric and no model answer.

A note a student planted (a cell with that metadata in the submission) is removed first:
formgrader shows only notes the grader wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor

from digitlab.course.layout import CourseLayout

MARKER = "digitlab"  # the cell metadata key of the note
RUBRIC = "**Rubric"  # where the rubric starts in a source answer cell
# nbgrader's own solution markers, read from nbgrader rather than written here: the package
# must hold no solution marker (tests/test_packaging.py scans the wheel for one).
BEGIN, END = (ClearSolutions.class_traits()[name].default_value
              for name in ("begin_solution_delimeter", "end_solution_delimeter"))
CRITERION = re.compile(r"\d+ points? for ")  # a rubric line that starts a criterion


def is_grader_note(cell) -> bool:
    return "grader_note" in cell.metadata.get(MARKER, {})


def solution_text(cell) -> str:
    """What a source answer cell holds for the grader: the lines between the solution
    markers, or the whole cell when it has none (a markdown answer)."""
    lines = cell.source.splitlines()
    if not any(BEGIN in line for line in lines):
        return cell.source.strip()
    inside, kept = False, []
    for line in lines:
        if BEGIN in line or END in line:
            inside = BEGIN in line
        elif inside:
            kept.append(line)
    return "\n".join(kept).strip()


def grader_note(grade_id: str, solution: str) -> nbformat.NotebookNode:
    """The read-only markdown cell shown after the answer `grade_id`: its rubric first (what
    the points are given for, a bullet per "N point(s) for" line), then the model answer,
    set apart as a quotation."""
    model, rubric = solution, ""
    if RUBRIC in solution:
        start = solution.rindex(RUBRIC)
        model, rubric = solution[:start].rstrip().removesuffix("---").rstrip(), solution[start:]
        # One bullet per criterion: markdown would run the rubric's lines into one paragraph.
        rubric = "\n".join(f"- {line}" if CRITERION.match(line) else line
                           for line in rubric.splitlines()).replace("\n- ", "\n\n- ", 1)
    parts = [f"#### Grader's note on `{grade_id}` (from the source notebook; never released)",
             rubric, model]
    quoted = "\n>\n".join("\n".join(f"> {line}".rstrip() for line in part.splitlines())
                          for part in parts if part)
    return nbformat.v4.new_markdown_cell(quoted, id=f"grader-note-{grade_id}"[:64], metadata={
        MARKER: {"grader_note": grade_id}, "editable": False, "deletable": False})


def manually_graded(cell) -> bool:
    """An answer cell a person grades: a solution cell with points (nbgrader's "manually
    graded answer")."""
    return utils.is_solution(cell) and utils.is_grade(cell)


class ShowRubrics(NbGraderPreprocessor):
    """After each manually graded answer cell, the grader's note from the source notebook."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        source = (CourseLayout.in_step(self.config).source(info["assignment"])
                  / f"{info['notebook']}.ipynb")
        solutions = {cell.metadata.nbgrader.grade_id: solution_text(cell)
                     for cell in nbformat.read(source, as_version=4).cells
                     if manually_graded(cell)}
        cells = []
        for cell in nb.cells:
            if is_grader_note(cell):
                continue  # planted by the student
            cells.append(cell)
            if manually_graded(cell):
                grade_id = cell.metadata.nbgrader.grade_id
                if grade_id in solutions:
                    cells.append(grader_note(grade_id, solutions[grade_id]))
                else:
                    self.log.warning("No answer cell %s in %s: no grader's note for it",
                                     grade_id, Path(source).name)
        nb.cells = cells
        return nb, resources


class HideRubrics(NbGraderPreprocessor):
    """Remove the grader's notes, before the feedback is made. (An NbGraderPreprocessor, as
    nbconvert's own Preprocessor is off until enabled: listed by name, it would do nothing.)"""

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not is_grader_note(cell)]
        return nb, resources
