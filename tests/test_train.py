import warnings

import numpy as np
import pytest
from reference import ReferenceLinear

from digitlab import (
    History,
    Linear,
    StopTraining,
    TrainingDiverged,
    TrainingSettings,
    load_digits,
    train,
)


def run(data, **changes):
    settings = TrainingSettings(max_epochs=3).replace(**changes)
    return train(settings, data, linear=ReferenceLinear)


def test_the_same_seed_gives_the_same_history_and_another_seed_does_not(data):
    _, first = run(data, seed=4)
    _, again = run(data, seed=4)
    _, other = run(data, seed=5)
    assert first == again
    assert first.validation_loss != other.validation_loss


def test_the_history_has_every_figure_for_every_epoch(data):
    _, history = run(data, num_layers=3, max_epochs=4)
    assert history.epochs == 4
    for series in (history.train_loss, history.train_accuracy,
                   history.validation_loss, history.validation_accuracy):
        assert len(series) == 4 and all(isinstance(value, float) for value in series)
    assert np.array(history.grad_rms).shape == (4, 3)
    assert np.all(np.array(history.grad_rms) > 0)
    assert np.array(history.dead_relus).shape == (4, 2)  # two hidden ReLU layers
    assert history.settings.num_layers == 3


def test_default_settings_learn_the_digits(data):
    network, history = train(TrainingSettings(), data, linear=ReferenceLinear)
    assert history.final_validation_accuracy > 0.85
    assert history.train_loss[-1] < history.train_loss[0] / 3
    accuracy = np.mean(network.predict(data.validation.images) == data.validation.labels)
    assert accuracy == pytest.approx(history.final_validation_accuracy)


def test_a_tiny_step_barely_learns(data):
    _, history = run(data, step_size=1e-4, max_epochs=5)
    assert history.final_validation_accuracy < 0.3


@pytest.mark.parametrize("step_size", [5, 10])
def test_huge_steps_collapse_and_say_so(data, step_size):
    _, history = run(data, step_size=step_size, max_epochs=4)
    assert history.final_validation_accuracy <= 0.11
    (note,) = history.notes
    assert "collapsed" in note and "ReLUs in hidden layer 1 output 0" in note
    assert "Note: Epoch" in repr(history)


def test_a_diverging_run_raises_once_with_the_history_so_far(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may escape the training loop
        with pytest.raises(TrainingDiverged, match="loss became nan.*step size 1e\\+38"
                           ) as raised:
            run(data, step_size=1e38)
    assert isinstance(raised.value.history, History)


def test_vanishing_gradients_in_a_deep_sigmoid_network(data):
    _, history = run(data, num_layers=5, activation="sigmoid", max_epochs=2)
    first_layer, *_, last_layer = history.grad_rms[0]
    assert first_layer < last_layer / 10
    assert history.dead_relus == [[], []]  # no ReLU to die


def test_grad_rms_is_the_root_mean_square_of_each_weight_gradient(data):
    """One epoch of one batch: the recorded figure equals the RMS of the gradients the
    network held after that step, per layer, whatever the layer's size."""
    settings = TrainingSettings(num_layers=3, width=8, batch_size=len(data.train.labels),
                                max_epochs=1)
    network, history = train(settings, data, linear=ReferenceLinear)
    expected = [np.sqrt(np.mean(layer.grad_weights.astype(np.float64) ** 2))
                for layer in network.linear_layers]
    np.testing.assert_allclose(history.grad_rms[0], expected, rtol=1e-4)


def test_dead_relus_are_recorded_per_epoch_from_the_validation_images(data):
    network, history = run(data, step_size=10, max_epochs=2)
    network.forward(data.validation.images)
    (relu,) = [layer for layer in network.layers if type(layer).__name__ == "ReLU"]
    silent = [not relu.active[:, unit].any() for unit in range(relu.active.shape[1])]
    assert history.dead_relus[-1] == [sum(silent) / len(silent)]
    assert history.dead_relus[-1][0] >= 0.5  # the collapse of a huge step
    _, default = run(data, max_epochs=2)
    assert default.dead_relus == [[0.0], [0.0]]


def test_on_epoch_sees_each_epoch_and_can_stop_training(data):
    seen = []

    def stop_after_two(history):
        seen.append(history.epochs)
        if history.epochs == 2:
            raise StopTraining

    _, history = train(TrainingSettings(max_epochs=5), data, linear=ReferenceLinear,
                       on_epoch=stop_after_two)
    assert seen == [1, 2]
    assert history.epochs == 2 and history.stopped_early


def test_training_without_a_student_backward_points_to_notebook_01(data):
    with pytest.raises(NotImplementedError, match="notebook 01"):
        train(TrainingSettings(max_epochs=1), data, linear=Linear)


def test_float64_data_trains_float64_weights():
    data = load_digits(dtype=np.float64)
    network, _ = train(TrainingSettings(max_epochs=1), data, linear=ReferenceLinear)
    assert network.linear_layers[0].weights.dtype == np.float64
