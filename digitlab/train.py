"""Minibatch stochastic gradient descent, returning a History."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from digitlab.data.splits import DigitData
from digitlab.dead_relus import dead_relu_fractions, dead_units
from digitlab.history import History
from digitlab.layers import Linear, ReLU, SoftmaxCrossEntropy
from digitlab.network import Network, build_network
from digitlab.settings import TrainingSettings


class TrainingDiverged(ArithmeticError):
    """The loss became NaN or infinite. `history` holds the epochs finished before that."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


class StopTraining(Exception):
    """Raise this from an on_epoch callback to end training after the current epoch."""


def train(
    settings: TrainingSettings,
    data: DigitData,
    *,
    linear: type = Linear,
    on_epoch: Callable[[History], None] | None = None,
) -> tuple[Network, History]:
    """Build a network from `settings` and train it on data.train with minibatch SGD.

    linear: the class for every linear layer; pass the student's Linear (see build_network).
    on_epoch: called with the History after every epoch, e.g. to draw live plots; it may
        raise StopTraining to end the run early.
    Returns the trained network and its History. The same settings and data give the same
    History: initial weights and the shuffling order both come from settings.seed.
    """
    init_rng, shuffle_rng = np.random.default_rng(settings.seed).spawn(2)
    images, labels = data.train.images, data.train.labels
    network = build_network(
        settings.num_layers, settings.width, settings.activation, init_rng,
        linear=linear, dtype=images.dtype,
    )
    loss = SoftmaxCrossEntropy()
    history = History(settings=settings)
    batch_starts = range(0, len(labels), settings.batch_size)
    collapse_noted = False
    # One BLAS thread: the lab's products are small (a batch of 32 x 784 by 784 x 16), so a
    # second thread costs more in waking and waiting than it saves. On idle cores it doubled
    # the CPU for the same time; with the other core busy (a hub serving a class, a grader)
    # a run took 2.6x as long (benchmarks/blas_threads.py). Every caller, panel or notebook
    # cell, takes the same path and gets the same History bit for bit.
    # A diverging run overflows long before the loss turns NaN; we report that once, below.
    with threadpool_limits(limits=1, user_api="blas"), \
            np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(1, settings.max_epochs + 1):
            order = shuffle_rng.permutation(len(labels))
            loss_sum = correct = 0.0
            grad_rms_sums = np.zeros(len(network.linear_layers))
            for batch, start in enumerate(batch_starts, 1):
                rows = order[start:start + settings.batch_size]
                x, y = images[rows], labels[rows]
                logits = network.forward(x)
                batch_loss = loss.forward(logits, y)
                if not math.isfinite(batch_loss):
                    raise TrainingDiverged(
                        f"Training diverged in epoch {epoch} (batch {batch} of "
                        f"{len(batch_starts)}): the loss became {batch_loss}. The step size "
                        f"{settings.step_size} is too large for this network; try a much "
                        f"smaller one (the default is {TrainingSettings.step_size}).",
                        history,
                    )
                network.backward(loss.backward())
                for index, layer in enumerate(network.linear_layers):
                    layer.weights -= settings.step_size * layer.grad_weights
                    layer.bias -= settings.step_size * layer.grad_bias
                    # vdot is the sum of squares without a temporary array.
                    grad_rms_sums[index] += np.sqrt(np.vdot(layer.grad_weights,
                                                            layer.grad_weights)
                                                    / layer.grad_weights.size)
                loss_sum += batch_loss * len(y)
                correct += np.count_nonzero(logits.argmax(axis=1) == y)
            predictions = _record_epoch(history, network, loss, data,
                                        train_loss=loss_sum / len(labels),
                                        train_accuracy=correct / len(labels),
                                        grad_rms=grad_rms_sums / len(batch_starts))
            if not collapse_noted and (collapse := describe_collapse(network, predictions)):
                history.notes.append(f"Epoch {epoch}: {collapse}")
                collapse_noted = True
            if on_epoch is not None:
                try:
                    on_epoch(history)
                except StopTraining:
                    history.stopped_early = epoch < settings.max_epochs
                    break
    return network, history


def _record_epoch(
    history: History, network: Network, loss: SoftmaxCrossEntropy, data: DigitData,
    *, train_loss: float, train_accuracy: float, grad_rms: np.ndarray,
) -> np.ndarray:
    """Evaluate on the validation part and append one epoch's figures to the history.

    Returns the (N,) predicted validation digits.
    """
    logits = network.forward(data.validation.images)
    predictions = logits.argmax(axis=1)
    history.train_loss.append(float(train_loss))
    history.train_accuracy.append(float(train_accuracy))
    history.validation_loss.append(loss.forward(logits, data.validation.labels))
    history.validation_accuracy.append(
        float(np.mean(predictions == data.validation.labels))
    )
    history.grad_rms.append(grad_rms.tolist())
    history.dead_relus.append(dead_relu_fractions(network))  # of the validation pass above
    return predictions


def describe_collapse(network: Network, predictions: np.ndarray) -> str | None:
    """A plain sentence if a ReLU network has collapsed, else None.

    predictions: (N,) the predicted digits of the network's last forward pass. Collapsed
    means one digit for every image while most ReLUs of a hidden layer output 0 for every
    image. Such "dead" units pass no gradient back, so training can hardly recover; a
    too-large step size causes it.
    """
    relus = [layer for layer in network.layers if isinstance(layer, ReLU)]
    if not relus or np.any(predictions != predictions[0]):
        return None
    dead_counts = [int(np.count_nonzero(dead_units(relu.active))) for relu in relus]
    worst = int(np.argmax(dead_counts))
    units = relus[worst].active.shape[1]
    if dead_counts[worst] * 2 < units:
        return None
    return (
        f"the network has collapsed: it predicts digit {predictions[0]} for every "
        f"validation image, and {dead_counts[worst]} of the {units} ReLUs in hidden layer "
        f"{worst + 1} output 0 for every image. Dead ReLUs pass no gradient back, so "
        "training can hardly recover. A smaller step size avoids this."
    )
