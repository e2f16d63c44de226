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
    grad_rms: one row per epoch, one entry per linear layer (input side first): the root
        mean square of grad_weights' entries, sqrt(mean(grad_weights ** 2)), averaged over
        the epoch's minibatches. A figure per weight, so layers of different sizes (784 x 16
        and 16 x 10) compare directly, which a norm of the whole matrix would not allow.
    dead_relus: one row per epoch, one entry per hidden ReLU layer (input side first): the
        fraction of its units that output 0 for every validation image after the epoch
        (see digitlab.dead_relus). Rows are empty for a sigmoid network.
    notes: plain sentences about anything the run noticed, such as a collapse.
    stopped_early: True when a callback stopped the run before max_epochs.
    """

    settings: TrainingSettings
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    grad_rms: list[list[float]] = field(default_factory=list)
    dead_relus: list[list[float]] = field(default_factory=list)
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
