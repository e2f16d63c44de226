"""The pure bookkeeping behind the panels: run labels."""

from digitlab import History, TrainingSettings
from digitlab.widgets.runs import run_label


def test_a_run_label_gives_the_accuracy_the_epochs_and_the_settings_line():
    settings = TrainingSettings(step_size=0.0001, max_epochs=30)
    history = History(settings, train_loss=[2.3, 2.2], train_accuracy=[0.1, 0.2],
                      validation_loss=[2.3, 2.2], validation_accuracy=[0.1, 0.2314])
    assert run_label(3, history) == f"3. 23.1% (2 epochs) {settings!r}"
    history.stopped_early = True
    assert run_label(3, history) == f"3. 23.1% (2 epochs, stopped early) {settings!r}"
