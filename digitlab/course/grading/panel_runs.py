"""Keep the panel runs a student recorded through autograde, so that formgrader and the
feedback show them beside the answers that refer to them.

A panel writes each run as ordinary output of its cell (digitlab/widgets/_cell_output.py),
but autograde clears every output before it runs the notebook (nbgrader's ClearOutput), and
running a cell empties its outputs again. So these two steps carry the records across:
ClearOutputKeepingPanelRuns, in place of ClearOutput, sets them aside in the notebook's
metadata by cell id, and RestorePanelRuns, after the run, appends them to their cells.

The records come from the student's file, so only what a record can hold is kept: display
data marked as a record, with a PNG picture or plain text, never HTML or scripts.
"""

from __future__ import annotations

import base64
import binascii

from nbgrader.preprocessors import ClearOutput, NbGraderPreprocessor

from digitlab.widgets._cell_output import RECORD_KEY

SET_ASIDE = "digitlab_panel_runs"  # notebook metadata: cell id -> that cell's records
RECORD_TYPES = {"image/png", "text/plain"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_record(output) -> bool:
    """Whether output is a panel's record that may be shown: marked, and only a PNG or text."""
    if output.get("output_type") != "display_data" or not output.get("metadata", {}).get(
            RECORD_KEY):
        return False
    data = output.get("data", {})
    if not data or not set(data) <= RECORD_TYPES or not isinstance(data.get("text/plain", ""),
                                                                    str):
        return False
    if "image/png" not in data:
        return True
    try:
        return base64.b64decode(data["image/png"], validate=True).startswith(PNG_SIGNATURE)
    except (binascii.Error, TypeError, ValueError):
        return False


class ClearOutputKeepingPanelRuns(ClearOutput):
    """nbgrader's ClearOutput, after setting each cell's panel records aside."""

    def preprocess(self, nb, resources):
        kept = {cell.id: [output for output in cell.outputs if is_record(output)]
                for cell in nb.cells if cell.cell_type == "code" and cell.get("id")}
        nb.metadata[SET_ASIDE] = {cell_id: records for cell_id, records in kept.items()
                                  if records}
        return super().preprocess(nb, resources)


class RestorePanelRuns(NbGraderPreprocessor):
    """Put the records set aside back under their cells' new outputs."""

    def preprocess(self, nb, resources):
        kept = nb.metadata.pop(SET_ASIDE, {})
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.get("id") in kept:
                cell.outputs.extend(output for output in kept[cell.id] if is_record(output))
        return nb, resources
