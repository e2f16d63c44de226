"""digitlab: build, train and study a small neural network for handwritten digits.

The core imports fast and runs headless: plots live in digitlab.plots (matplotlib) and
widgets in digitlab.widgets (ipywidgets), imported only when asked for.
"""

from digitlab.data import DataFormatError, DigitData, LabelledImages, load_digits
from digitlab.gradcheck import check_layer, numerical_gradient
from digitlab.history import History
from digitlab.layers import Linear, ReLU, Sigmoid, SoftmaxCrossEntropy
from digitlab.network import BackwardError, Network, build_network
from digitlab.settings import TrainingSettings
from digitlab.train import StopTraining, TrainingDiverged, train

__all__ = [
    "BackwardError",
    "DataFormatError",
    "DigitData",
    "History",
    "LabelledImages",
    "Linear",
    "Network",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "StopTraining",
    "TrainingDiverged",
    "TrainingSettings",
    "build_network",
    "check_layer",
    "load_digits",
    "numerical_gradient",
    "train",
]
