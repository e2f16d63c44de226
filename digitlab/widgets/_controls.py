"""One control per TrainingSettings field, built the same way in every panel.

Each control's value is the field's value, so a panel's settings are
`base.replace(**{field: control.value for field, control in controls.items()})` and
TrainingSettings itself rejects bad values with a message.
"""

from __future__ import annotations

import ipywidgets as widgets

from digitlab.network import ACTIVATIONS
from digitlab.settings import TrainingSettings

# Wide enough for the longest description ("Batch size"), so the controls line up.
_STYLE = {"description_width": "7em"}


def _step_size(value: float) -> widgets.Widget:
    # A log scale: the interesting steps span five powers of ten, 1e-4 to 10. The readout is
    # editable, so an exact step such as 0.0001 can be typed, and shown with 4 significant
    # digits without trailing zeros (d3-format ".4": 0.05, not 0.05000). continuous_update=False
    # because nothing should happen while the knob is dragged (only the button trains).
    return widgets.FloatLogSlider(
        value=value, base=10, min=-4, max=1, step=0.01, readout_format=".4",
        continuous_update=False, description="Step size", style=_STYLE,
        tooltip="How far each SGD step moves the weights (the learning rate), 1e-4 to 10, "
                "log scale. Type an exact value into the box on the right.",
    )


def _whole(description: str, tooltip: str, low: int, high: int):
    def build(value: int) -> widgets.Widget:
        return widgets.BoundedIntText(value=value, min=low, max=high, description=description,
                                      tooltip=tooltip, style=_STYLE)
    return build


def _activation(value: str) -> widgets.Widget:
    # Every activation network.ACTIVATIONS knows, labelled by its layer's name (Sigmoid, ReLU).
    return widgets.Dropdown(options=[(layer.__name__, name)
                                     for name, layer in ACTIVATIONS.items()],
                            value=value, description="Activation", style=_STYLE,
                            tooltip="The activation function between the linear layers")


def _layers(value: int) -> widgets.Widget:
    return widgets.IntSlider(value=value, min=1, max=6, description="Layers",
                             continuous_update=False, style=_STYLE,
                             tooltip="Number of linear layers, 1 to 6 (2 is 784 -> width -> 10)")


BUILDERS = {
    "num_layers": _layers,
    "width": _whole("Width", "Units in each hidden layer", 1, 1024),
    "activation": _activation,
    "step_size": _step_size,
    "batch_size": _whole("Batch size", "Images per SGD step", 1, 3000),
    "max_epochs": _whole("Epochs", "Passes over the training images", 1, 1000),
    "seed": _whole("Seed", "Decides the initial weights and the shuffling order", 0, 2**31 - 1),
}


def make_controls(settings: TrainingSettings, fields: list[str]) -> dict[str, widgets.Widget]:
    """A control for each named TrainingSettings field, set to its value in `settings`."""
    return {field: BUILDERS[field](getattr(settings, field)) for field in fields}


def settings_from(base: TrainingSettings, controls: dict[str, widgets.Widget]) -> TrainingSettings:
    """base with each controlled field set to its control's value; ValueError if invalid."""
    return base.replace(**{field: control.value for field, control in controls.items()})
