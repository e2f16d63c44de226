"""The whole state of one experiment, small enough to print, paste and reload."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from digitlab.network import ACTIVATIONS


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides a training run, given the data.

    Its repr is a line of Python that recreates it, so the exact settings behind a plot
    can be pasted into an answer.
    """

    num_layers: int = 2
    width: int = 16
    activation: str = "relu"
    step_size: float = 0.01
    batch_size: int = 32
    max_epochs: int = 30
    seed: int = 0

    def __post_init__(self):
        problems = []
        for name in ("num_layers", "width", "batch_size", "max_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            problems.append(f"seed must be a whole number >= 0, got {self.seed!r}")
        if not isinstance(self.step_size, int | float) or not self.step_size > 0:
            problems.append(f"step_size must be a positive number, got {self.step_size!r}")
        if self.activation not in ACTIVATIONS:
            problems.append(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}"
            )
        if problems:
            raise ValueError("Invalid TrainingSettings: " + "; ".join(problems) + ".")

    def replace(self, **changes) -> TrainingSettings:
        """A copy with some fields changed, e.g. settings.replace(step_size=5)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
