"""Feedback that keeps the diagnosis of a hidden test and hides the test (nbgrader #917, #1363).

nbgrader's generate_feedback renders the autograded notebook, whose test cells autograde
restored from the gradebook in full: each hidden block with its check's arguments, shapes
and seeds. HideHiddenTests, a step of c.GenerateFeedback.preprocessors (nbgrader_config.py)
placed after nbgrader's own, rewrites the feedback's copy only, never the autograded
notebook or the gradebook, so grading and its integrity checks are untouched:

- each hidden block of a test cell's source becomes one comment line, made from what the
  grader's run recorded in the cell (verify_outside.RECORD), e.g.
      # Hidden test: 4 cases — failed: grad_bias: grad_bias is 1/9 of the numerical gradient…
  the number of cases, the verdict and the diagnosis; never the cases, and shapes in the
  diagnosis are shown as (…);
- the outputs keep the public part's words and the cell's result. A traceback shows the
  lines around the one that raised, hidden ones included, so each error is shown as its
  one line "Name: message"; a message from a hidden check (the kernel's run or the
  grader's) keeps its first line, the cases it names after that are dropped.

It lives in checks/ because it reads what only that wing writes: the grader's record and
report format (verify_outside) and the kernel's check (hidden_check). The grading wing
never imports checks; nbgrader reaches this step by its dotted name, as it does the
autograde steps.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from digitlab.course.checks.verify_outside import PREFIX, RECORD

# A shape or a tuple of sizes in a diagnosis, such as (7, 13) or (6,).
_SHAPE = re.compile(r"\(\d+(?:,\s*\d+)*,?\s*\)")
KERNEL_CHECK = "hidden_check"  # the module in a traceback when the kernel's check raised
REPORT_START = "FAILED: "  # how a check's report starts (box.HiddenCheck)


def hidden_line(record: dict | None) -> str:
    """The one line that stands for a hidden block, from the grader's record of its cell."""
    if record is None:  # no check call in the block, or an autograde before this step
        return "Hidden test: judged at grading; the cell's result below includes it."
    count = len(record["cases"])
    said = f"{count} case{'' if count == 1 else 's'} — " + ("passed" if record["passed"]
                                                         else "failed")
    shown = " ".join(_SHAPE.sub("(…)", record["shown"]).split())
    return f"Hidden test: {said}" + (f": {shown}" if shown else "")


def _first_line(text: str) -> str:
    return _SHAPE.sub("(…)", text.strip().splitlines()[0]) if text.strip() else ""


class HideHiddenTests(NbGraderPreprocessor):
    """In the feedback, one line for each hidden block of a test cell and its outputs."""

    def preprocess(self, nb, resources):
        markers = ClearHiddenTests(parent=self)  # the course's delimiters, as nbgrader's
        self._markers = markers.begin_test_delimeter, markers.end_test_delimeter
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        begin, end = self._markers
        if cell.cell_type != "code" or begin not in cell.source:
            return cell, resources
        line = hidden_line(cell.metadata.get(RECORD[0], {}).get(RECORD[1]))
        kept, hiding = [], False
        for text in cell.source.splitlines():
            if begin in text:
                hiding = True
                kept.append(f"{text[:len(text) - len(text.lstrip())]}# {line}")
            elif end in text:
                hiding = False
            elif not hiding:
                kept.append(text)
        cell.source = "\n".join(kept)
        for output in cell.get("outputs", []):
            self._hide_output(output)
        return cell, resources

    @staticmethod
    def _hide_output(output) -> None:
        """An output of a hidden-test cell without the code or cases it could show."""
        if output.output_type == "stream" and output.text.startswith(PREFIX):
            output.text = _first_line(output.text) + "\n"
        elif output.output_type == "error":
            from_check = (output.evalue.startswith((PREFIX, REPORT_START))
                          or any(KERNEL_CHECK in entry for entry in output.traceback))
            if from_check:
                output.evalue = _first_line(output.evalue)
            output.traceback = [f"{output.ename}: {output.evalue}"]
