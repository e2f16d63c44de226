"""What every panel shares: Train and Stop buttons, a progress bar, a status line, the
settings line, figures shown as pictures, the background job that trains, and the record of
each run in the panel's own cell.

Training runs in a background thread. The kernel's main thread must stay free: a click on
Stop reaches the kernel as a message that only the main thread handles, so a panel that
trained on the main thread could never be stopped. The thread only sets widget values
(picture bytes, numbers, text), which ipywidgets sends to the browser from any thread.

When a run ends, the panel also writes it as ordinary output of the cell that made the
panel: the status line, the settings line and the run's pictures as PNG files. Widget state
is not saved where nbconvert, formgrader or nbgrader's feedback look, so without this record
a student's runs would be lost to everyone but the live notebook (see _cell_output.py).
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.plots import learning_curves, png_bytes
from digitlab.settings import TrainingSettings
from digitlab.train import StopTraining, TrainingDiverged
from digitlab.widgets._cell_output import CellOutput
from digitlab.widgets._controls import make_controls, settings_from

if TYPE_CHECKING:  # for annotations only: digitlab.plots is the one module importing matplotlib
    from matplotlib.figure import Figure

# Draw a live figure at most this often (seconds), and only when the run is not expected to
# end within this time (its final figure then follows soon anyway). Drawing one takes about
# 0.15 s on free cores and 0.3-0.6 s on busy ones, as long as 15-50 epochs of the default
# network: live figures are for long runs, and the default run (0.3-1.3 s) draws only its
# final figure, so it finishes sooner.
LIVE_INTERVAL = 1.0
AUTOGRADING_MESSAGE = ("Training is off while nbgrader runs this notebook. "
                       "Open the notebook in JupyterLab to use this panel.")
# matplotlib does not promise that two threads may draw at once (the panel's job and a
# redraw on the main thread, say), so every picture is drawn under this lock.
_DRAWING = threading.Lock()


class Panel:
    """The shared frame of a panel. Subclasses add their controls and figures, and a job.

    data: the DigitData to train on. linear: the class for every linear layer (the
    student's Linear). settings: the settings the controls start from; fields without a
    control keep these values. fields: the TrainingSettings fields that get a control.
    Show a panel by making it the value of a notebook cell.
    """

    css_class = "digitlab-panel"
    # Figures (by name, as given to _show) left out of a run's record in the cell's output.
    not_recorded: frozenset[str] = frozenset()

    def __init__(self, data: DigitData, *, linear: type, settings: TrainingSettings,
                 fields: list[str], title: str):
        self.data, self.linear, self.base_settings, self.title = data, linear, settings, title
        # nbgrader sets NBGRADER_EXECUTION while it grades: the panel then shows, never trains.
        self.autograding = "NBGRADER_EXECUTION" in os.environ
        self.controls = make_controls(settings, fields)
        self.figures: dict[str, Figure] = {}  # the figures last shown, by name, for tests
        # Made on the main thread while the cell runs: the background job cannot know its cell.
        self._cell = CellOutput.of_running_cell()
        self._pictures_of_run: dict[str, bytes] = {}  # PNGs shown during the job, by name
        self._status_text = ""  # the status line as plain text, for the record
        self.train_button = widgets.Button(
            description="Train", icon="play", button_style="primary",
            tooltip="Train with these settings (the sliders alone never start training)",
            disabled=self.autograding)
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True,
            tooltip="Stop after the current epoch; the epochs so far are kept")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="Progress",
                                            tooltip="Epochs trained so far")
        self.status = widgets.HTML(as_html(AUTOGRADING_MESSAGE if self.autograding else
                                           "Choose settings and click Train."))
        self.settings_line = widgets.Text(
            value=repr(settings), description="Settings line", style={"description_width": "7em"},
            layout=widgets.Layout(width="100%"),
            tooltip="The line of Python that recreates the current run: copy it into an answer")
        self.plot = self._picture("digitlab-plot")
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        for widget, name in ((self.train_button, "train"), (self.stop_button, "stop"),
                             (self.progress, "progress"), (self.status, "status"),
                             (self.settings_line, "settings-line")):
            widget.add_class(f"digitlab-{name}")
        self._heading = widgets.HTML(f"<h4>{as_html(title)}</h4>")
        self._job: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._job_started = 0.0  # time.monotonic() when the job started
        self._last_frame = 0.0  # ... when the last live figure was drawn, or the job started
        self._drawing_seconds = 0.0  # time the job spent drawing live figures so far

    # ---- what a notebook or a test calls ----

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.is_alive()

    def train(self) -> None:
        """Start the panel's job in the background, as the Train button does.

        Does nothing while a job runs or while nbgrader runs the notebook.
        """
        if self.autograding:
            self._say(AUTOGRADING_MESSAGE)
            return
        if self.running:
            return
        self._stop_requested.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.progress.value = 0
        self._job = threading.Thread(target=self._run_job, name=type(self).__name__,
                                     daemon=True)
        self._job.start()

    def stop(self) -> None:
        """Ask the running job to stop after its current epoch, as the Stop button does."""
        self._stop_requested.set()
        if self.running:  # an epoch can take a while: say at once that the click was heard
            self._say("Stopping after this epoch...")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running job to finish; True if none is running any more."""
        if self._job is not None:
            self._job.join(timeout)
        return not self.running

    def current_settings(self) -> TrainingSettings:
        """The settings the controls show; ValueError naming any bad value."""
        return settings_from(self.base_settings, self.controls)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.root._repr_mimebundle_(**kwargs)
        # Shown wherever the widget cannot be (nbconvert, formgrader, nbgrader's feedback,
        # a reopened notebook without its kernel) instead of "VBox(children=(...".
        bundle["text/plain"] = (f"[{self.title}: an interactive panel, live only in "
                                "JupyterLab with the notebook's kernel running. Its runs are "
                                "recorded below it.]")
        return bundle

    # ---- for subclasses ----

    def _layout(self, kind: str, control_rows: list[widgets.Widget],
                figures: list[widgets.Widget]) -> None:
        """Build self.root: heading, controls, buttons and progress, status, figures."""
        buttons = widgets.HBox([self.train_button, self.stop_button, self.progress])
        self.root = widgets.VBox([self._heading, *control_rows, buttons, self.status,
                                  self.settings_line, *figures])
        self.root.add_class(self.css_class)
        self.root.add_class(f"digitlab-{kind}-panel")

    def _job_body(self) -> None:
        """The work of one click, run in the background thread."""
        raise NotImplementedError

    def _picture(self, css_class: str) -> widgets.Image:
        """An empty picture for figures, hidden until it has one."""
        image = widgets.Image(format="png", layout=widgets.Layout(display="none",
                                                                   max_width="100%"))
        image.add_class(css_class)
        return image

    def _show(self, image: widgets.Image, name: str, figure: Figure | None) -> None:
        """Show figure in image (None hides it) and keep it in self.figures[name]."""
        if figure is None:
            self.figures.pop(name, None)
            self._pictures_of_run.pop(name, None)
            image.layout.display = "none"
            return
        with _DRAWING:
            image.value = png_bytes(figure)
        self.figures[name] = figure
        if self.running:
            self._pictures_of_run[name] = image.value
        image.layout.display = None

    def _say(self, text: str, *, settings_line: str | None = None) -> None:
        """Put text (plain, escaped here) in the status line, and a settings line after it."""
        message = as_html(text)
        if settings_line is not None:
            message += f"<br>Settings line: <code>{as_html(settings_line)}</code>"
        self._status_text = text
        self.status.value = message

    def _train_callback(self, draw: Callable[[History], None], *, epochs_before: int = 0
                        ) -> Callable[[History], None]:
        """An on_epoch for train(): moves the progress bar, stops when asked, and calls
        draw(history) for a live figure at most every LIVE_INTERVAL seconds, and only while
        the job's remaining epochs (progress.max - progress.value) are expected to take
        longer than that (so never after the job's last epoch, whose figure it draws anyway).
        epochs_before: the job's epochs before this train() call."""

        def on_epoch(history: History) -> None:
            self.progress.value = done = epochs_before + history.epochs
            if self._stop_requested.is_set():
                raise StopTraining
            now = time.monotonic()
            seconds_per_epoch = (now - self._job_started - self._drawing_seconds) / done
            remaining = (self.progress.max - done) * seconds_per_epoch
            if now - self._last_frame >= LIVE_INTERVAL and remaining > LIVE_INTERVAL:
                draw(history)
                # From the end of the drawing, so drawing never crowds training out.
                self._last_frame = time.monotonic()
                self._drawing_seconds += self._last_frame - now

        return on_epoch

    def _run_job(self) -> None:
        self._job_started = self._last_frame = time.monotonic()
        self._drawing_seconds = 0.0
        self._pictures_of_run.clear()
        try:
            self._job_body()
        except TrainingDiverged as error:
            if error.history.epochs:
                self._show(self.plot, "curves", learning_curves(error.history))
            finished = error.history.epochs
            self._say(f"{error} The figure shows the {finished} epochs before that."
                      if finished else str(error))
        except Exception as error:
            # The panel is where training meets the student: their backward, a bad value in a
            # control. Whatever fails, the student needs the message, and the panel must stay
            # usable, so it is shown here instead of dying with the background thread.
            self._say(f"Training failed: {type(error).__name__}: {error}")
        finally:
            self._record_run()
            self.train_button.disabled, self.stop_button.disabled = False, True

    def _record_run(self) -> None:
        """Write the run that just ended to the panel's cell: the status line, the settings
        line and the pictures the run drew (their PNG bytes as sent to the browser, so no
        figure is drawn twice). A job that drew nothing (a failing backward, say) is not a
        run, and outside a notebook cell there is nowhere to write."""
        pictures = {name: png for name, png in self._pictures_of_run.items()
                    if name not in self.not_recorded}
        if self._cell is None or not pictures:
            return
        self._cell.show_text(f"{self._status_text}\nSettings line: {self.settings_line.value}")
        for name, png in pictures.items():
            self._cell.show_png(png, f"[{name} of the run: {self.settings_line.value}]")


def as_html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")

