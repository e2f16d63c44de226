"""The competition helper of notebook 05: train with chosen settings, see the validation
accuracy, the confusion matrix and the misclassified digits, and write submission.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import ipywidgets as widgets

from digitlab.competition import check_submission, write_submission
from digitlab.data.splits import DigitData
from digitlab.history import History
from digitlab.layers import Linear
from digitlab.network import Network
from digitlab.plots import confusion_matrix, digit_gallery
from digitlab.settings import TrainingSettings
from digitlab.widgets._single_run import SingleRunPanel

DEFAULTS = TrainingSettings()  # frozen: safe to share
MISTAKES_SHOWN = 20


class CompetitionPanel(SingleRunPanel):
    """Every setting; live learning curves, then the confusion matrix and the first
    misclassified validation digits; a run history; a button that writes the last finished
    run's predictions for data.test_images to `path` and checks the file.

    data: the DigitData to train on. linear: the student's Linear class. settings: the
    starting values. path: where the submission goes. runs: Histories for the run history.
    """

    def __init__(self, data: DigitData, *, linear: type = Linear,
                 settings: TrainingSettings = DEFAULTS, path: str | Path = "submission.csv",
                 runs: Sequence[History] = ()):
        super().__init__(data, linear=linear, settings=settings, runs=runs,
                         fields=["num_layers", "width", "activation", "step_size",
                                 "batch_size", "max_epochs", "seed"],
                         title="Competition: tune, check, submit")
        self.path = Path(path)
        self.write_button = widgets.Button(
            description=f"Write {self.path.name}", icon="save", disabled=True,
            layout=widgets.Layout(width="auto"),
            tooltip="Predict the competition images with the last finished run's network "
                    f"and write them to {self.path}")
        self.write_button.add_class("digitlab-write-submission")
        self.write_button.on_click(lambda _: self.write())
        self.confusion = self._picture("digitlab-confusion")
        self.mistakes = self._picture("digitlab-mistakes")
        self.controls["step_size"].layout.width = "32em"
        shape = widgets.HBox([self.controls[name] for name in ("num_layers", "width",
                                                                "activation")])
        step = widgets.HBox([self.controls[name] for name in ("batch_size", "max_epochs",
                                                               "seed")])
        self._layout("competition", [shape, self.controls["step_size"], step],
                     [self.write_button, self.plot, self.confusion, self.mistakes,
                      self.run_list, self.overlay])

    def write(self) -> None:
        """Write the last finished run's predictions to self.path, check it and say so."""
        if self.running:
            self._say("A run is training: wait for it to finish (or Stop it), then write.")
            return
        if self.network is None:
            self._say("Train a network first; the submission comes from the last finished run.")
            return
        try:
            write_submission(self.network.predict(self.data.test_images), self.path)
        except OSError as error:
            self._say(f"Could not write {self.path}: {error}")
            return
        problems = check_submission(self.path, len(self.data.test_images))
        verdict = ("It is valid." if not problems else
                   "It has problems:\n- " + "\n- ".join(problems))
        self._say(f"Wrote {len(self.data.test_images)} predictions to {self.path} from the run "
                  f"with validation accuracy {self.history.final_validation_accuracy:.1%}. "
                  f"{verdict}", settings_line=repr(self.history.settings))

    def _after_run(self, network: Network, history: History) -> None:
        validation = self.data.validation
        predicted = network.predict(validation.images)
        self._show(self.confusion, "confusion",
                   confusion_matrix(validation.labels, predicted, settings=history.settings))
        wrong = predicted != validation.labels
        self._show(self.mistakes, "mistakes", digit_gallery(
            validation.images[wrong], validation.labels[wrong], predicted[wrong],
            max_images=MISTAKES_SHOWN, settings=history.settings) if wrong.any() else None)
        self.write_button.disabled = False
