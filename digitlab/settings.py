"""The whole state of one experiment, small enough to print, paste and reload."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from numbers import Integral, Real

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
        for name in ("num_layers", "width", "batch_size", "max_epochs", "seed"):
            value = getattr(self, name)
            smallest = 0 if name == "seed" else 1
            if not _is_whole(value) or value < smallest:
                problems.append(f"{name} must be a whole number >= {smallest}, got {value!r}")
            else:  # numpy integers from a slider become plain ints, so JSON can save them
                object.__setattr__(self, name, int(value))
        if isinstance(self.step_size, Real) and self.step_size > 0:
            object.__setattr__(self, "step_size", float(self.step_size))
        else:
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


def _is_whole(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)
