"""What a training run produced, as plain data that plots, widgets and reports all read."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from digitlab.settings import TrainingSettings


@dataclass
class History:
    """Per-epoch figures of one run, plus the settings that produced them.

    train_loss, train_accuracy: mean over the epoch's minibatches, as seen while training.
    validation_loss, validation_accuracy: on the whole validation part after the epoch.
    grad_norms: one row per epoch, one entry per linear layer (input side first): the
        mean over the epoch's minibatches of the Frobenius norm of grad_weights.
    notes: plain sentences about anything the run noticed, such as a collapse.
    stopped_early: True when a callback stopped the run before max_epochs.
    """

    settings: TrainingSettings
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def final_validation_accuracy(self) -> float:
        if not self.validation_accuracy:
            raise ValueError("this run has no finished epoch yet")
        return self.validation_accuracy[-1]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> History:
        fields = json.loads(text)
        fields["settings"] = TrainingSettings(**fields["settings"])
        return cls(**fields)

    def __repr__(self) -> str:
        if not self.epochs:
            return f"History({self.settings!r}, no epochs yet)"
        lines = [
            f"History({self.settings!r}, {self.epochs} epochs"
            f"{' (stopped early)' if self.stopped_early else ''}, final validation accuracy "
            f"{self.final_validation_accuracy:.1%})"
        ]
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)
