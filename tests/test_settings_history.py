import numpy as np
import pytest

from digitlab import History, TrainingSettings


def test_settings_repr_recreates_the_settings():
    settings = TrainingSettings(num_layers=5, activation="sigmoid", step_size=0.1, seed=7)
    assert eval(repr(settings)) == settings  # noqa: S307 - the repr is meant to be pasted


def test_settings_replace_changes_only_what_is_named():
    settings = TrainingSettings().replace(step_size=5)
    assert settings.step_size == 5
    assert settings.replace(step_size=TrainingSettings.step_size) == TrainingSettings()


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"step_size": 0}, "step_size must be a positive number"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"max_epochs": 2.5}, "max_epochs must be a whole number"),
        ({"activation": "tanh"}, "activation must be one of ['relu', 'sigmoid']"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
    ],
)
def test_invalid_settings_are_rejected_with_the_reason(changes, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        TrainingSettings(**changes)


def test_history_round_trips_through_json():
    history = History(
        TrainingSettings(seed=3),
        train_loss=[2.0, 1.0], train_accuracy=[0.5, 0.7],
        validation_loss=[2.1, 1.2], validation_accuracy=[0.4, 0.6],
        grad_rms=[[0.3, 0.2], [0.2, 0.1]], dead_relus=[[0.25], [0.5]], notes=["something"],
        stopped_early=True,
    )
    assert History.from_json(history.to_json()) == history
    assert history.epochs == 2 and history.final_validation_accuracy == 0.6
    assert "stopped early" in repr(history) and "Note: something" in repr(history)


def test_empty_history_says_it_has_no_epochs():
    history = History(TrainingSettings())
    assert "no epochs yet" in repr(history)
    with pytest.raises(ValueError, match="no finished epoch"):
        history.final_validation_accuracy  # noqa: B018 - the property access is the test


def test_numpy_numbers_become_plain_python_numbers():
    settings = TrainingSettings(width=np.int64(32), step_size=np.float32(0.5))
    assert type(settings.width) is int and type(settings.step_size) is float
    assert History.from_json(History(settings).to_json()).settings == settings
