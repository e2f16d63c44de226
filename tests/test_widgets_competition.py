"""The competition helper: validation accuracy, confusion matrix, misclassified digits, and
a valid submission.csv from the last finished run."""

import numpy as np
import pytest
from reference import ReferenceLinear
from test_widgets_learning_rate import click_train, status_text

from digitlab import TrainingSettings
from digitlab.competition import check_submission, read_submission
from digitlab.metrics import confusion_counts
from digitlab.widgets import CompetitionPanel

pytestmark = pytest.mark.usefixtures("not_grading")


def test_a_run_shows_accuracy_confusion_and_mistakes_then_writes_a_valid_file(data, tmp_path):
    path = tmp_path / "submission.csv"
    panel = CompetitionPanel(data, linear=ReferenceLinear, path=path,
                             settings=TrainingSettings(max_epochs=2))
    assert panel.write_button.disabled and panel.write_button.description.startswith("Write")
    panel.controls["width"].value = 32
    click_train(panel)

    expected = TrainingSettings(width=32, max_epochs=2)
    assert panel.history.settings == expected
    assert f"final validation accuracy {panel.history.final_validation_accuracy:.1%}" in (
        status_text(panel))
    predicted = panel.network.predict(data.validation.images)
    (heatmap,) = panel.figures["confusion"].axes[0].get_images()
    np.testing.assert_array_equal(np.asarray(heatmap.get_array()),
                                  confusion_counts(data.validation.labels, predicted))
    wrong = int(np.count_nonzero(predicted != data.validation.labels))
    assert panel.figures["mistakes"].get_suptitle().startswith(f"20 of {wrong} images")

    panel.write_button.click()
    assert check_submission(path, len(data.test_images)) == []
    np.testing.assert_array_equal(read_submission(path, len(data.test_images)),
                                  panel.network.predict(data.test_images))
    assert f"Wrote 1000 predictions to {path}" in status_text(panel)
    assert "It is valid." in status_text(panel) and repr(expected) in status_text(panel)


def test_nothing_is_written_before_a_run_has_finished(data, tmp_path):
    path = tmp_path / "submission.csv"
    panel = CompetitionPanel(data, linear=ReferenceLinear, path=path)
    panel.write()
    assert not path.exists() and "Train a network first" in status_text(panel)
