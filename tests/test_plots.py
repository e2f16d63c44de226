import io
import statistics
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from reference import ReferenceLinear

from digitlab import History, TrainingSettings, train
from digitlab.plots import (
    activation_slopes,
    backprop_chain,
    compare_curves,
    compare_runs,
    confusion_matrix,
    describe_settings,
    digit_gallery,
    final_accuracies,
    gradient_rms,
    gradient_rms_heatmap,
    learning_curves,
    png_bytes,
    seed_pairs,
    seed_spread,
)
from digitlab.stats import compare_paired


def make_history(rng: np.random.Generator, epochs: int = 6, **changes) -> History:
    """A History of seeded random numbers, shaped like one that train() returns."""
    settings = TrainingSettings(**changes)

    def series():
        return rng.uniform(0.05, 0.95, epochs).tolist()

    return History(
        settings,
        train_loss=series(), train_accuracy=series(),
        validation_loss=series(), validation_accuracy=series(),
        grad_rms=rng.uniform(1e-4, 1, (epochs, settings.num_layers)).tolist(),
    )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


CHANCE_LABEL = "chance (10%)"


def lines_by_label(ax):
    """The lines of the runs drawn on ax, by label, without the chance line."""
    return {line.get_label(): line for line in ax.get_lines()
            if line.get_label() != CHANCE_LABEL}


def assert_honest_scale(ax, quantity):
    """Accuracy from 0 to 100% with a horizontal chance line at 10%; loss on a log axis."""
    if quantity.endswith("accuracy"):
        assert ax.get_ylim() == (0, 1)
        (chance,) = [line for line in ax.get_lines() if line.get_label() == CHANCE_LABEL]
        np.testing.assert_array_equal(chance.get_ydata(), [0.1, 0.1])
        assert ax.get_yscale() == "linear"
    else:
        assert ax.get_yscale() == "log"
        assert ax.get_ylabel().endswith("(log scale)")


def legend_labels(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_a_settings_title_names_every_setting():
    settings = TrainingSettings(step_size=0.1)
    assert describe_settings(settings) == "2 layers x 16, relu, step 0.1, batch 32, seed 0"
    assert describe_settings(settings.replace(num_layers=1)).startswith("1 layer, relu")


def test_learning_curves_draw_the_train_and_validation_lists_per_epoch(rng):
    history = make_history(rng, step_size=0.1)
    fig = learning_curves(history)
    loss_ax, accuracy_ax = fig.axes
    for ax, quantity in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
        lines = lines_by_label(ax)
        assert set(lines) == {"train", "validation"}
        for part, line in lines.items():
            np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4, 5, 6])
            np.testing.assert_array_equal(line.get_ydata(), getattr(history, f"{part}_{quantity}"))
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel().startswith(quantity)
        assert_honest_scale(ax, quantity)
    assert fig.get_suptitle() == "2 layers x 16, relu, step 0.1, batch 32, seed 0"
    assert [text.get_text() for text in fig.texts] == [fig.get_suptitle()]  # no note box


def test_learning_curves_show_a_collapse_note_on_the_figure(data):
    _, history = train(TrainingSettings(step_size=5, max_epochs=1), data, linear=ReferenceLinear)
    assert history.notes, "a step size of 5 should collapse the default network"
    text = " ".join(text.get_text() for text in learning_curves(history).texts)
    assert "collapsed" in " ".join(text.split())  # the note is wrapped over lines


def test_learning_curves_say_when_a_run_stopped_early(rng):
    history = make_history(rng, epochs=3, max_epochs=30)
    history.stopped_early = True
    fig = learning_curves(history)
    texts = [text.get_text() for text in fig.texts]
    assert texts == [fig.get_suptitle(), "Note: Stopped early after epoch 3 of 30."]


def test_compare_runs_labels_each_run_by_the_settings_that_differ(rng):
    histories = [make_history(rng, step_size=step) for step in (1e-4, 0.1, 5)]
    fig = compare_runs(histories, metric="train_loss")
    (ax,) = [ax for ax in fig.axes if ax.get_legend()]
    assert legend_labels(ax) == ["step 0.0001", "step 0.1", "step 5"]
    for history, line in zip(histories, ax.get_lines(), strict=True):
        np.testing.assert_array_equal(line.get_ydata(), history.train_loss)
    assert ax.get_title() == "Train loss\n2 layers x 16, relu, batch 32, seed 0"
    assert ax.get_ylabel() == "train loss (log scale)"
    assert_honest_scale(ax, "train_loss")


def test_compare_runs_takes_given_labels_and_names_identical_runs_by_number(rng):
    histories = [make_history(rng), make_history(rng)]
    assert legend_labels(compare_runs(histories).axes[0]) == ["run 1", "run 2", CHANCE_LABEL]
    fig = compare_runs(histories, labels=["mine", "theirs"])
    assert legend_labels(fig.axes[0]) == ["mine", "theirs", CHANCE_LABEL]
    assert_honest_scale(fig.axes[0], "validation_accuracy")
    with pytest.raises(ValueError, match="one label per history: 1 labels for 2"):
        compare_runs(histories, labels=["mine"])


def test_compare_curves_overlay_each_run_on_one_axes_per_metric(rng):
    histories = [make_history(rng, step_size=step) for step in (1e-4, 0.01, 5)]
    fig = compare_curves(histories)
    loss_ax, accuracy_ax = fig.axes
    for ax, metric in ((loss_ax, "train_loss"), (accuracy_ax, "validation_accuracy")):
        runs = lines_by_label(ax)
        assert list(runs) == ["step 0.0001", "step 0.01", "step 5"]
        for history, line in zip(histories, runs.values(), strict=True):
            np.testing.assert_array_equal(line.get_ydata(), getattr(history, metric))
        assert ax.get_xlabel() == "epoch"
        assert ax.get_ylabel().startswith(metric.replace("_", " "))
        assert_honest_scale(ax, metric)
        styles = {(line.get_linestyle(), line.get_marker()) for line in runs.values()}
        assert len(styles) == 3
    assert legend_labels(accuracy_ax) == ["step 0.0001", "step 0.01", "step 5", CHANCE_LABEL]
    assert loss_ax.get_legend() is None  # one legend for both axes
    assert fig.get_suptitle() == "3 runs\n2 layers x 16, relu, batch 32, seed 0"
    with pytest.raises(ValueError, match="metric must be one of"):
        compare_curves(histories, metrics=["loss"])


def test_the_gradient_heatmap_shows_log10_rms_layers_by_epochs(rng):
    history = make_history(rng, epochs=4, num_layers=3, activation="sigmoid")
    history.grad_rms[0][0] = 0.0  # a layer of dead units: shown, not an error
    fig = gradient_rms_heatmap(history)
    ax = fig.axes[0]
    (heatmap,) = ax.get_images()
    logs = np.asarray(heatmap.get_array())
    rms = np.array(history.grad_rms)
    assert logs.shape == (3, 4)  # layers x epochs
    np.testing.assert_allclose(logs[:, 1:], np.log10(rms[1:].T))
    assert np.isfinite(logs[0, 0]) and logs[0, 0] < -300
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        "layer 1 (input side)", "layer 2", "layer 3 (output)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "linear layer")
    assert fig.axes[1].get_ylabel() == "log10 RMS gradient per weight"  # the colour bar
    assert ax.get_title().startswith("RMS gradient per weight")
    assert "3 layers x 16, sigmoid" in ax.get_title()


def test_gradient_rms_draws_one_line_per_layer_on_a_log_axis_named_by_its_measure(rng):
    history = make_history(rng, num_layers=5, activation="sigmoid")
    ax = gradient_rms(history).axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "RMS gradient per weight (log scale)"
    assert legend_labels(ax) == [
        "layer 1 (input side)", "layer 2", "layer 3", "layer 4", "layer 5 (output)",
    ]
    rms = np.array(history.grad_rms)
    for layer, line in enumerate(ax.get_lines()):
        np.testing.assert_array_equal(line.get_ydata(), rms[:, layer])
    assert "sqrt(mean(grad_weights²))" in ax.get_title()
    assert "5 layers x 16, sigmoid" in ax.get_title()


def test_activation_slopes_draw_the_layers_own_values_and_the_quarter_bound():
    fig = activation_slopes(reach=3)
    values_ax, slopes_ax = fig.axes
    values, slopes = lines_by_label(values_ax), lines_by_label(slopes_ax)
    assert set(values) == {"σ(z)", "ReLU(z)"}
    assert set(slopes) == {"σ′(z)", "ReLU′(z)", "1/4, the largest σ′"}
    z = values["σ(z)"].get_xdata()
    assert (z.min(), z.max()) == (-3, 3)
    sigma = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(values["σ(z)"].get_ydata(), sigma)
    np.testing.assert_allclose(values["ReLU(z)"].get_ydata(), np.maximum(z, 0))
    np.testing.assert_allclose(slopes["σ′(z)"].get_ydata(), sigma * (1 - sigma))
    np.testing.assert_array_equal(slopes["ReLU′(z)"].get_ydata(), (z > 0).astype(float))
    assert slopes["σ′(z)"].get_ydata().max() == pytest.approx(0.25)
    np.testing.assert_array_equal(slopes["1/4, the largest σ′"].get_ydata(), [0.25, 0.25])
    assert {ax.get_xlabel() for ax in fig.axes} == {"z, the unit's input"}
    assert all(ax.get_ylabel() for ax in fig.axes)
    with pytest.raises(ValueError, match="reach must be a positive number"):
        activation_slopes(reach=0)


def figure_text(fig):
    return " ".join(text.get_text() for ax in fig.axes for text in ax.texts)


def test_the_chain_shows_every_layer_its_shape_and_where_the_factors_multiply():
    settings = TrainingSettings(num_layers=5, activation="sigmoid")
    rms = [3.2e-5, 1.8e-4, 1.1e-3, 5.0e-3, 2.8e-2]
    fig = backprop_chain(settings, rms)
    text = figure_text(fig)
    for shape in ("W1: 784×16", "W2: 16×16", "W4: 16×16", "W5: 16×10", "(N, 784)"):
        assert shape in text
    assert "W6" not in text
    assert text.count("× σ′(z) ≤ 1/4") == 4  # one slope factor per hidden layer
    for k in range(1, 6):
        assert f"∂L/∂W{k} = a{k - 1}ᵀ δ{k}" in text
    assert "passes δ5 W5ᵀ down" in text and "passes δ1" not in text  # nothing below layer 1
    for value in ("RMS 3.2e-05", "RMS 2.8e-02"):
        assert value in text
    assert "(1/4)⁴ = 0.0039" in text and "bound is on the slopes" in text
    assert "5 layers x 16, sigmoid" in fig.axes[0].get_title()


def test_a_relu_chain_names_its_slopes_and_needs_one_rms_per_layer():
    settings = TrainingSettings(num_layers=3, activation="relu")
    text = figure_text(backprop_chain(settings))
    assert text.count("× ReLU′(z): 0 or 1") == 2 and "σ" not in text
    assert "RMS" not in text  # none given
    with pytest.raises(ValueError, match="one RMS gradient per linear layer: 2 for 3"):
        backprop_chain(settings, [0.1, 0.2])


def test_seed_spread_draws_each_run_and_a_band_of_mean_plus_minus_the_sample_std(rng):
    histories = [make_history(rng, seed=seed) for seed in range(4)]
    ax = seed_spread(histories).axes[0]
    runs = np.array([history.validation_accuracy for history in histories])
    mean = runs.mean(axis=0)
    std = np.array([statistics.stdev(epoch) for epoch in runs.T])  # the sample std, n - 1

    np.testing.assert_allclose(lines_by_label(ax)["mean"].get_ydata(), mean)
    (band,) = ax.collections
    vertices = band.get_paths()[0].vertices
    for epoch, (low, high) in enumerate(zip(mean - std, mean + std, strict=True), 1):
        at_epoch = vertices[np.isclose(vertices[:, 0], epoch), 1]
        np.testing.assert_allclose([at_epoch.min(), at_epoch.max()], [low, high])
    finals = [f"seed {seed}: {runs[seed, -1]:.1%}" for seed in range(4)]
    assert legend_labels(ax) == [*finals, "mean ± 1 sample std", "mean"]
    assert ax.get_title().endswith(f"final validation accuracy: mean {runs[:, -1].mean():.1%}, "
                                   f"sample std {statistics.stdev(runs[:, -1]):.1%}")


def test_seed_spread_bands_the_epochs_every_run_finished(rng):
    histories = [make_history(rng, seed=0, epochs=5), make_history(rng, seed=1, epochs=3)]
    lines = lines_by_label(seed_spread(histories, metric="validation_loss").axes[0])
    assert len(lines["mean"].get_ydata()) == 3
    assert len(lines[f"seed 0: {histories[0].validation_loss[-1]:.3g}"].get_ydata()) == 5


def test_seed_spread_refuses_runs_that_differ_in_more_than_the_seed(rng):
    histories = [make_history(rng, seed=0), make_history(rng, seed=1, step_size=0.1)]
    with pytest.raises(ValueError, match="differ only in their seed.*step 0.01, seed 0"):
        seed_spread(histories)


def test_final_accuracies_draw_a_dot_per_seed_and_the_given_intervals():
    settings = [TrainingSettings(), TrainingSettings(num_layers=5, seed=3)]
    accuracies = [[0.88, 0.87, 0.89], [0.84, 0.86, 0.85]]
    ax = final_accuracies(settings, accuracies, [(0.86, 0.90), None]).axes[0]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    for row, (line, values) in enumerate(zip(dots, accuracies, strict=True)):
        np.testing.assert_array_equal(line.get_xdata(), values)
        np.testing.assert_allclose(np.mean(line.get_ydata()), row)
    (interval,) = ax.containers  # the second row has no interval
    np.testing.assert_allclose(interval.lines[2][0].get_segments()[0][:, 0], [0.86, 0.90])
    assert [label.get_text() for label in ax.get_yticklabels()] == ["2 layers x 16",
                                                                    "5 layers x 16"]
    assert ax.get_title() == "Final accuracy over 3 seeds\nrelu, step 0.01, batch 32"
    assert ax.get_xlabel() == "final validation accuracy"
    assert legend_labels(ax) == ["final accuracy of one seed", "95% interval of the mean"]
    with pytest.raises(ValueError, match="one row of settings, accuracies and interval"):
        final_accuracies(settings, accuracies, [None])


def test_the_gallery_shows_each_image_and_marks_wrong_predictions(data):
    images = data.validation.images[:12]
    labels = data.validation.labels[:12]
    predictions = labels.copy()
    predictions[[2, 7]] = (labels[[2, 7]] + 1) % 10
    fig = digit_gallery(images, labels, predictions, columns=5)
    assert len(fig.axes) == 12
    for image, ax in zip(images, fig.axes, strict=True):
        (shown,) = [artist for artist in ax.get_children() if isinstance(artist, AxesImage)]
        np.testing.assert_array_equal(shown.get_array(), image.reshape(28, 28))
    marked = [index for index, ax in enumerate(fig.axes) if "✗" in ax.get_title()]
    assert marked == [2, 7]
    assert fig.axes[2].get_title() == f"pred {predictions[2]} ✗\ntrue {labels[2]}"
    assert fig.axes[0].get_title() == f"pred {labels[0]}\ntrue {labels[0]}"
    assert fig.get_suptitle() == "12 images, 2 predicted wrong (✗)"


def test_the_gallery_shows_at_most_max_images_and_says_so(data):
    fig = digit_gallery(data.validation.images[:30], max_images=8)
    assert len(fig.axes) == 8
    assert fig.get_suptitle() == "8 of 30 images"
    assert fig.axes[0].get_title() == ""


def test_the_confusion_matrix_shows_and_annotates_the_counts():
    labels = [0, 0, 1, 2, 2, 2]
    predictions = [0, 1, 1, 2, 0, 2]
    ax = confusion_matrix(labels, predictions).axes[0]
    (heatmap,) = ax.get_images()
    counts = np.asarray(heatmap.get_array())
    assert counts.sum() == 6 and counts[2, 2] == 2 and counts[2, 0] == 1
    annotations = {(text.get_position(), text.get_text()) for text in ax.texts}
    assert annotations == {((0, 0), "1"), ((1, 0), "1"), ((1, 1), "1"), ((2, 2), "2"),
                           ((0, 2), "1")}  # (x = predicted, y = true), zeros left blank
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted digit", "true digit")
    assert ax.get_title() == "Confusion matrix: 6 images, 66.7% correct"


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda h: compare_runs([]), "at least one History"),
        (lambda h: learning_curves((None, h)), "train\\(\\) returns \\(network, history\\)"),
        (lambda h: learning_curves(History(h.settings)), "no finished epoch"),
        (lambda h: compare_runs([h], metric="accuracy"), "metric must be one of"),
        (lambda h: digit_gallery(np.zeros((3, 28, 28))), r"images must be \(N, 784\)"),
        (lambda h: digit_gallery(np.zeros((3, 784)), labels=[1, 2]), "labels has 2 entries"),
    ],
)
def test_bad_input_is_rejected_with_the_reason(rng, call, words):
    with pytest.raises((TypeError, ValueError), match=words):
        call(make_history(rng))


def test_every_figure_saves_as_png_and_shows_inline_in_jupyter(rng):
    history = make_history(rng, num_layers=3)
    history.notes.append("Epoch 2: something to note.")
    others = [history, make_history(rng, num_layers=3, seed=1)]
    labels = rng.integers(0, 10, 20)
    figures = [
        learning_curves(history), compare_runs(others), compare_curves(others),
        gradient_rms(history), gradient_rms_heatmap(history), activation_slopes(),
        backprop_chain(history.settings, history.grad_rms[0]),
        seed_spread(others), final_accuracies([history.settings], [[0.8, 0.9]], [(0.7, 1.0)]),
        digit_gallery(rng.random((20, 784)), labels, labels[::-1]),
        confusion_matrix(labels, labels[::-1]),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        png = io.BytesIO()
        fig.savefig(png, format="png")
        assert png.getvalue().startswith(b"\x89PNG")
        # Without pyplot, Jupyter shows a figure as a picture only through _repr_png_.
        assert fig._repr_png_().startswith(b"\x89PNG")
        assert png_bytes(fig).startswith(b"\x89PNG")


def test_the_linear_layer_diagram_shows_every_array_with_its_shape():
    """Forward and backward of one layer: each array and each gradient named with its shape,
    forward and backward told apart by line style as well as colour."""
    from digitlab.plots import linear_layer_diagram

    fig = linear_layer_diagram()

    texts = [" ".join(text.get_text().split()) for text in fig.axes[0].texts]
    for array, shape in [("input x", "(N, in)"), ("weights W", "(in, out)"),
                         ("bias b", "(1, out)"), ("output", "(N, out)"),
                         ("\\partial$output", "(N, out)"), ("\\partial x$", "(N, in)"),
                         ("self.grad_weights", "(in, out)"), ("self.grad_bias", "(1, out)")]:
        assert any(array in text and shape in text for text in texts), (array, texts)
    styles = {line.get_linestyle() for line in fig.axes[0].get_legend().get_lines()}
    assert len(styles) == 2
    assert "forward" in fig.axes[0].get_title() and "backward" in fig.axes[0].get_title()
    assert png_bytes(fig).startswith(b"\x89PNG")


def test_seed_spread_of_one_run_draws_no_band_and_no_std(rng):
    """One run has no sample std (n - 1 = 0): no band, no NaN, no warning, as the seed panel
    draws it while the first seed trains."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = seed_spread([make_history(rng, seed=0)]).axes[0]
    assert len(ax.collections) == 0
    assert "std" not in ax.get_title() and "mean" in ax.get_title()


def test_seed_pairs_joins_each_seed_and_draws_the_differences_and_the_interval():
    settings = (TrainingSettings(), TrainingSettings(step_size=0.02, seed=4))
    first, second = [0.883, 0.887, 0.876], [0.889, 0.901, 0.886]
    comparison = compare_paired(first, second, lambda values: (np.mean(values), 0.0, 0.004,
                                                               0.013))
    fig = seed_pairs(settings, (first, second), comparison)
    pairs, gaps = fig.axes
    for seed, line in enumerate(pairs.get_lines()):
        np.testing.assert_allclose(line.get_ydata(), [first[seed], second[seed]])
    assert [label.get_text() for label in pairs.get_xticklabels()] == ["step 0.01", "step 0.02"]
    dots = [line for line in gaps.get_lines() if line.get_label().startswith("seed ")]
    np.testing.assert_allclose([line.get_ydata()[0] for line in dots],
                               np.subtract(second, first))
    assert len({(line.get_marker(), line.get_color()) for line in dots}) == 3
    (interval,) = gaps.containers
    np.testing.assert_allclose(interval.lines[2][0].get_segments()[0][:, 1], [0.004, 0.013])
    assert fig.get_suptitle() == (
        "step 0.02 against step 0.01, paired over 3 seeds\n2 layers x 16, relu, batch 32\n"
        "95% interval of the mean difference: +0.4 to +1.3 points, excludes 0")
    assert "no difference" in legend_labels(gaps)


def test_seed_pairs_without_a_comparison_draws_the_differences_only():
    settings = (TrainingSettings(), TrainingSettings(num_layers=5))
    fig = seed_pairs(settings, ([0.88, 0.87], [0.85, 0.86]), None)
    assert len(fig.axes[1].containers) == 0 and "interval" not in fig.get_suptitle()
    with pytest.raises(ValueError, match="over the same seeds"):
        seed_pairs(settings, ([0.88, 0.87], [0.85]), None)
