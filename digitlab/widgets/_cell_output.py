"""The output of the notebook cell that made a panel, written to from the panel's thread.

A panel writes each finished run as ordinary output of its own cell, a settings line and
PNG pictures, because that is what a saved notebook, nbconvert, formgrader and nbgrader's
feedback keep and show: a widget holds its pictures only in widget state, which none of
them show.

The run ends in the panel's background thread, and where a thread's `display` goes depends
on the ipykernel version: after the message the kernel was handling when the thread
started (here the Train click, a comm message that no cell shows), or after the latest
message it handled (any cell, or a click). So CellOutput does not rely on either. It keeps
the cell's request (its execute_request message) from when the panel is made, on the main
thread, and publishes display_data messages that name that request as their parent, as
`display` does for the cell being run. JupyterLab adds output that names a cell's request
to that cell even after the cell has finished, as long as the cell has not been run again.
"""

from __future__ import annotations

import base64
from typing import Any

# Every record's output metadata carries this key, so that the grader can keep the records
# when nbgrader clears a submission's outputs (digitlab/course/panel_runs.py).
RECORD_KEY = "digitlab_panel_run"


class CellOutput:
    """Where to display output for one notebook cell, from any thread.

    publisher: the kernel shell's display publisher (its session and IOPub socket).
    request: the cell's execute_request message.
    """

    def __init__(self, publisher: Any, request: dict):
        self._publisher, self._request = publisher, request

    @classmethod
    def of_running_cell(cls) -> CellOutput | None:
        """The output of the cell that the kernel is running now; None outside a Jupyter
        kernel (a script, a test) or outside a cell (a widget's callback)."""
        from IPython import get_ipython

        shell = get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        request = kernel.get_parent()
        if request.get("header", {}).get("msg_type") != "execute_request":
            return None
        return cls(shell.display_pub, request)

    def show_text(self, text: str) -> None:
        """Add plain text to the cell's output."""
        self._display({"text/plain": text})

    def show_png(self, png: bytes, description: str) -> None:
        """Add a PNG picture to the cell's output; description is its text alternative."""
        self._display({"image/png": base64.b64encode(png).decode("ascii"),
                       "text/plain": description})

    def _display(self, data: dict[str, str]) -> None:
        # What ipykernel's display publisher sends, with the cell's request as the parent.
        # Sending from another thread is safe: the IOPub socket hands messages to its own
        # thread, as it does for any display from a thread.
        publisher = self._publisher
        publisher.session.send(publisher.pub_socket, "display_data",
                               {"data": data, "metadata": {RECORD_KEY: True}, "transient": {}},
                               parent=self._request, ident=publisher.topic)
