"""DeduplicateIds for autograde, without the crash a duplicated test cell causes.

nbgrader 0.9.6's DeduplicateIds keeps the last cell of each grade id and empties the others'
nbgrader metadata (`{}`). OverwriteCells, the next step but one, then reads the grade id of
every cell that has nbgrader metadata at all, and a copied test cell stops the student's
whole autograde with `KeyError: 'grade_id'`. Here the copies lose the metadata entirely, so
they run as plain code cells and count for nothing; the original is restored and graded.
"""

from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds


class DeduplicateGradeIds(DeduplicateIds):
    """nbgrader's DeduplicateIds; a duplicate keeps no nbgrader metadata, not even `{}`."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
