"""The seed panel: one setting over several seeds, the interval from the student's own
summarize function (or a message when it is not written), and two settings compared seed by
seed."""

import math
import statistics
import time

import pytest
from reference import ReferenceLinear
from test_widgets_learning_rate import click_train, status_text

import digitlab
from digitlab import TrainingSettings
from digitlab.stats import compare_paired, t_critical_95
from digitlab.widgets import SeedPanel

SHORT = TrainingSettings(max_epochs=2)

pytestmark = pytest.mark.usefixtures("not_grading")


def summarize_accuracies(accuracies):
    """The test's own summary: mean, sample std, 95% t interval (the notebook's exercise)."""
    mean, std = statistics.fmean(accuracies), statistics.stdev(accuracies)
    half_width = t_critical_95(len(accuracies) - 1) * std / math.sqrt(len(accuracies))
    return mean, std, mean - half_width, mean + half_width


def summarize_unwritten(accuracies):
    raise NotImplementedError()  # what the student release's answer cell does


def seed_panel(data, summarize=summarize_accuracies, seeds=3):
    return SeedPanel(data, linear=ReferenceLinear, summarize=summarize, settings=SHORT,
                     seeds=seeds)


def test_train_runs_every_seed_and_summarises_with_the_given_function(data):
    panel = seed_panel(data)
    click_train(panel)

    (result,) = panel.results
    oracles = [digitlab.train(SHORT.replace(seed=seed), data, linear=ReferenceLinear)[1]
               for seed in range(3)]
    assert [run.settings.seed for run in result.histories] == [0, 1, 2]
    assert result.accuracies == [run.final_validation_accuracy for run in oracles]
    assert result.summary == pytest.approx(summarize_accuracies(result.accuracies))
    mean, std, low, high = result.summary
    assert f"95% interval of the mean {low:.1%} to {high:.1%}" in panel.summary.value

    spread = panel.figures["spread"].axes[0]
    assert [line.get_label() for line in spread.get_lines()][:3] == [
        f"seed {seed}: {run.final_validation_accuracy:.1%}" for seed, run in enumerate(oracles)]
    (interval_bar,) = panel.figures["intervals"].axes[0].containers  # one errorbar
    x_error = interval_bar.lines[2][0].get_segments()[0][:, 0]
    assert x_error == pytest.approx([low, high])

    recreated = eval(panel.settings_line.value, {"TrainingSettings": TrainingSettings})
    assert recreated == [run.settings for run in result.histories]
    assert panel.settings_line.value in status_text(panel)


def test_an_unwritten_summarize_gives_a_message_and_still_the_runs(data):
    panel = seed_panel(data, summarize=summarize_unwritten)
    click_train(panel)
    (result,) = panel.results
    assert result.summary is None and len(result.accuracies) == 3
    message = "Implement summarize_unwritten in the exercise above"
    assert message in status_text(panel) and message in panel.summary.value
    assert len(panel.figures["spread"].axes[0].collections) == 1  # the mean ± std band
    assert panel.figures["intervals"].axes[0].containers == []  # dots, but no interval
    assert not panel.train_button.disabled


def test_a_broken_summarize_is_named_with_its_error(data):
    panel = seed_panel(data, summarize=lambda accuracies: accuracies[:3])
    click_train(panel)
    assert panel.results[0].summary is None
    assert "failed, so there is no interval: ValueError" in status_text(panel)


def test_two_settings_over_the_same_seeds_are_compared_seed_by_seed(data):
    panel = seed_panel(data)
    click_train(panel)
    panel.controls["step_size"].value = 0.0001  # far slower: the difference excludes 0
    click_train(panel)

    first, second = panel.results
    assert [run.settings.seed for run in second.histories] == [0, 1, 2]
    assert second.settings == SHORT.replace(step_size=0.0001)
    assert panel.compare_with.value == 0  # compared with the one before
    paired = compare_paired(first.accuracies, second.accuracies, summarize_accuracies)
    assert paired.excludes_zero and paired.mean < 0
    assert str(paired) in panel.summary.value
    assert "The interval excludes 0: the first setting is better" in panel.summary.value
    assert len(panel.figures["intervals"].axes[0].containers) == 2
    pairs, gaps = panel.figures["pairs"].axes
    assert [list(line.get_ydata()) for line in pairs.get_lines()] == [
        [a, b] for a, b in zip(first.accuracies, second.accuracies, strict=True)]
    (interval,) = gaps.containers
    assert interval.lines[2][0].get_segments()[0][:, 1] == pytest.approx([paired.low,
                                                                          paired.high])

    panel.compare_with.value = None
    assert "Paired" not in panel.summary.value and "pairs" not in panel.figures
    assert len(panel.figures["intervals"].axes[0].containers) == 1


def test_results_over_different_seeds_are_not_paired(data):
    panel = seed_panel(data, seeds=2)
    click_train(panel)
    panel.seed_count.value = 3
    click_train(panel)
    assert "train both with the same seeds" in panel.summary.value
    assert "pairs" not in panel.figures


def test_an_unwritten_summarize_still_pairs_the_runs_and_says_what_to_do(data):
    panel = seed_panel(data, summarize=summarize_unwritten, seeds=2)
    click_train(panel)
    click_train(panel)
    assert panel.summary.value.count("Implement summarize_unwritten") == 3  # 2 rows, verdict
    assert len(panel.figures["pairs"].axes[1].containers) == 0  # the differences, no interval


def test_stop_keeps_no_partial_result_and_the_panel_trains_again(data):
    panel = SeedPanel(data, linear=ReferenceLinear, summarize=summarize_accuracies,
                      settings=TrainingSettings(max_epochs=1000), seeds=3)
    panel.train_button.click()
    deadline = time.monotonic() + 30
    while panel.progress.value < 1:  # stop once the first epoch is done
        assert panel.running and time.monotonic() < deadline
        time.sleep(0.01)
    panel.stop_button.click()
    assert panel.wait(30)
    assert panel.results == [] and "Stopped during seed 0" in status_text(panel)
    assert "spread" in panel.figures and not panel.train_button.disabled

    panel.controls["max_epochs"].value = 1
    click_train(panel)
    assert len(panel.results) == 1
