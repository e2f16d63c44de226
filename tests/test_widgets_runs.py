"""The pure bookkeeping behind the panels: run labels and the overlap verdict."""

import pytest

from digitlab import History, TrainingSettings
from digitlab.widgets.runs import intervals_overlap, overlap_sentence, run_label


def test_a_run_label_gives_the_accuracy_the_epochs_and_the_settings_line():
    settings = TrainingSettings(step_size=0.0001, max_epochs=30)
    history = History(settings, train_loss=[2.3, 2.2], train_accuracy=[0.1, 0.2],
                      validation_loss=[2.3, 2.2], validation_accuracy=[0.1, 0.2314])
    assert run_label(3, history) == f"3. 23.1% (2 epochs) {settings!r}"
    history.stopped_early = True
    assert run_label(3, history) == f"3. 23.1% (2 epochs, stopped early) {settings!r}"


@pytest.mark.parametrize("first, second, overlap", [
    ((0.80, 0.85), (0.84, 0.90), True),
    ((0.84, 0.90), (0.80, 0.85), True),   # the order does not matter
    ((0.80, 0.85), (0.85, 0.90), True),   # touching ends share a point
    ((0.80, 0.90), (0.82, 0.84), True),   # one inside the other
    ((0.80, 0.84), (0.85, 0.90), False),
    ((0.85, 0.90), (0.80, 0.84), False),
])
def test_intervals_overlap_when_they_share_a_point(first, second, overlap):
    assert intervals_overlap(first, second) is overlap


def test_the_overlap_sentence_gives_the_verdict_and_both_intervals():
    assert overlap_sentence((0.877, 0.887), (0.845, 0.858)) == (
        "The 95% intervals do not overlap (87.7% to 88.7% and 84.5% to 85.8%): the difference "
        "is larger than what the seed alone does.")
    assert overlap_sentence((0.877, 0.887), (0.880, 0.890)).startswith(
        "The 95% intervals overlap (87.7% to 88.7% and 88.0% to 89.0%): these seeds cannot "
        "tell the two settings apart")
