"""Figures from Histories and predictions: learning curves, run overlays, RMS gradients per
weight (lines or heatmap), the activations and their slopes, the backpropagation chain, seed
spread, digit galleries and confusion matrices.

Curves never mislead by their scale: accuracy runs from 0 to 100% with a labelled chance
line, and loss is drawn on a log axis.

Every function returns a new matplotlib.figure.Figure built without pyplot: no global
state, nothing to close, and it works headless. Jupyter shows it inline when it is the value
of a cell (see new_figure). matplotlib is imported by the first figure drawn, not by this
module: the lab's notebooks import their plots at the top, and a graded run that draws
nothing (heavy experiments are skipped under nbgrader) never imports it.
Every plot stays readable without colour: the Okabe-Ito palette (safe for colour-blind
readers) plus a distinct line style and marker for each series.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from digitlab.data.splits import CLASSES, IMAGE_SIDE, PIXELS
from digitlab.history import History
from digitlab.layers import ReLU, Sigmoid
from digitlab.metrics import as_digits, confusion_counts
from digitlab.settings import TrainingSettings
from digitlab.stats import PairedComparison, as_points, paired_differences

if TYPE_CHECKING:  # annotations only: matplotlib loads with the first figure (new_figure)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe-Ito, ordered so that neighbouring series differ most; yellow is faint on white, so last.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
WRONG = PALETTE[1]
_SERIES_STYLES = {
    "color": PALETTE,
    "linestyle": ["-", "--", ":", "-."] * 2,
    "marker": ["o", "s", "^", "D", "v", "P", "X", "*"],
}
METRICS = ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy")
CHANCE = 1 / CLASSES  # the accuracy of guessing one digit for every image
GRADIENT_MEASURE = "RMS gradient per weight"
_GRADIENT_TITLE = (f"{GRADIENT_MEASURE}, sqrt(mean(grad_weights²)), per layer\n"
                   "(mean over each epoch's minibatches)")


def new_figure(**options) -> Figure:
    """matplotlib.figure.Figure(**options) that Jupyter shows as a picture even when pyplot
    was never imported.

    Jupyter learns to draw Figures only when pyplot loads its inline backend; until then
    a plain Figure shows as the text "<Figure size 700x450 with 1 Axes>".
    """
    return _inline_figure_class()(**options)


@functools.cache
def _inline_figure_class() -> type[Figure]:
    """The Figure subclass behind new_figure, made (and matplotlib imported) on first use."""
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        def _repr_png_(self) -> bytes:
            return png_bytes(self)

    return InlineFigure


def png_bytes(fig: Figure) -> bytes:
    """The figure as a PNG file's bytes, e.g. for an ipywidgets.Image."""
    png = io.BytesIO()
    fig.savefig(png, format="png")
    return png.getvalue()


def describe_settings(settings: TrainingSettings) -> str:
    """A title line such as "2 layers x 16, relu, step 0.1, batch 32, seed 0"."""
    return ", ".join(_aspects(settings))


def learning_curves(history: History) -> Figure:
    """Loss (left, log axis) and accuracy (right, 0-100% with the chance line) per epoch,
    train against validation.

    The title states the settings. The history's notes (such as a collapse) and an early
    stop are printed under the plots, so they travel with the figure.
    """
    _check_histories([history])
    fig = new_figure(figsize=(10, 4), layout="constrained")
    for ax, quantity in zip(fig.subplots(1, 2), ("loss", "accuracy"), strict=True):
        _epoch_axes(ax, quantity)
        for part in ("train", "validation"):
            _plot_epochs(ax, getattr(history, f"{part}_{quantity}"), part)
        _honest_scale(ax, quantity)
        ax.set_title(quantity.capitalize())
        ax.legend()
    fig.suptitle(describe_settings(history.settings))
    notes = list(history.notes)
    if history.stopped_early:
        notes.append(
            f"Stopped early after epoch {history.epochs} of {history.settings.max_epochs}."
        )
    if notes:
        _add_notes(fig, notes)
    return fig


def compare_runs(
    histories: Sequence[History],
    metric: str = "validation_accuracy",
    labels: Sequence[str] | None = None,
) -> Figure:
    """One metric of several runs on one axes: accuracy on 0-100% with the chance line, loss
    on a log axis, so that neither a jitter at chance nor one huge loss misleads.

    metric: one of METRICS. labels: one per history; by default, the settings in which the
    runs differ (e.g. "step 0.0001", "step 5"), while the title states those they share.
    """
    histories = _check_histories(histories)
    _check_metric(metric)
    shared, differing = _split_settings([history.settings for history in histories])
    if labels is None:
        labels = differing
    elif len(labels) != len(histories):
        raise ValueError(f"Give one label per history: {len(labels)} labels for "
                         f"{len(histories)} histories.")
    fig = new_figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.subplots()
    _draw_runs(ax, histories, metric, labels)
    ax.set_title(_title(_metric_name(metric).capitalize(), shared))
    _legend_outside(ax)
    return fig


def compare_curves(
    histories: Sequence[History],
    metrics: Sequence[str] = ("train_loss", "validation_accuracy"),
) -> Figure:
    """Several runs side by side: one axes per metric, every run on each, one legend.

    metrics: some of METRICS. Each run is labelled by the settings in which the runs differ,
    and the title states those they share, as in compare_runs.
    """
    histories = _check_histories(histories)
    for metric in metrics:
        _check_metric(metric)
    shared, labels = _split_settings([history.settings for history in histories])
    fig = new_figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        _draw_runs(ax, histories, metric, labels)
        ax.set_title(_metric_name(metric).capitalize())
    _legend_outside(axes[-1])
    fig.suptitle(_title(f"{len(histories)} runs", shared))
    return fig


def gradient_rms(history: History) -> Figure:
    """Each linear layer's RMS gradient per weight, per epoch, on a log axis.

    history.grad_rms: (epochs, linear layers), input side first: sqrt(mean(grad_weights**2))
    of each layer, so a 784 x 16 layer and a 16 x 10 layer compare. Vanishing gradients, as
    in a deep sigmoid network, show as lines far apart: the input side learns slowest.
    """
    _check_histories([history])
    rms = np.array(history.grad_rms)
    fig = new_figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.subplots()
    _epoch_axes(ax, f"{GRADIENT_MEASURE} (log scale)")
    ax.set_yscale("log")
    layers = rms.shape[1]
    for index, layer_rms in enumerate(rms.T):
        _plot_epochs(ax, layer_rms, _layer_name(index, layers))
    ax.set_title(_title(_GRADIENT_TITLE, [describe_settings(history.settings)]))
    _legend_outside(ax)
    return fig


def gradient_rms_heatmap(history: History) -> Figure:
    """Each linear layer's RMS gradient per weight, per epoch, as a heatmap of log10(RMS).

    history.grad_rms: (epochs, linear layers), input side first. Rows are layers (input
    side at the top), columns epochs. A vanishing gradient shows as rows that are far
    darker than the output layer's. The colour map (viridis) also reads in greyscale, and
    the colour bar gives the scale in powers of ten.
    """
    from matplotlib.ticker import MaxNLocator
    _check_histories([history])
    rms = np.array(history.grad_rms)
    # log10 of 0 (a layer with dead units only) would be -inf; the smallest float is clearer.
    logs = np.log10(np.maximum(rms, np.finfo(float).tiny)).T
    epochs, layers = rms.shape
    fig = new_figure(figsize=(8.5, 1.2 + 0.45 * layers), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(logs, cmap="viridis", aspect="auto", interpolation="nearest",
                      extent=(0.5, epochs + 0.5, layers - 0.5, -0.5))
    fig.colorbar(image, ax=ax, label=f"log10 {GRADIENT_MEASURE}")
    ax.set_yticks(range(layers), [_layer_name(index, layers) for index in range(layers)])
    ax.set_xlabel("epoch")
    ax.set_ylabel("linear layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(_title(_GRADIENT_TITLE, [describe_settings(history.settings)]))
    return fig


def activation_slopes(reach: float = 4.0) -> Figure:
    """σ and ReLU (left) and their slopes σ′ and ReLU′ (right) for z from -reach to reach.

    The values come from the package's own Sigmoid and ReLU layers: forward(z), then the
    backward of ones, which is the slope. The right panel marks σ′'s largest value, 1/4
    at z = 0, the bound behind a deep sigmoid network's vanishing gradient.
    """
    if not reach > 0:
        raise ValueError(f"reach must be a positive number (the largest |z| drawn); "
                         f"got {reach!r}.")
    z = np.linspace(-reach, reach, 801)[np.newaxis, :]  # (1, 801): one example, 801 units
    fig = new_figure(figsize=(10, 4), layout="constrained")
    values, slopes = fig.subplots(1, 2)
    for ax in (values, slopes):
        ax.set_prop_cycle(**_SERIES_STYLES)
        ax.set_xlabel("z, the unit's input")
        ax.grid(alpha=0.3)
    for layer, name in ((Sigmoid(), "σ"), (ReLU(), "ReLU")):
        values.plot(z[0], layer.forward(z)[0], label=f"{name}(z)", markevery=100)
        slopes.plot(z[0], layer.backward(np.ones_like(z))[0], label=f"{name}′(z)",
                    markevery=100)
    values.set_ylim(-0.2, 2.2)  # ReLU keeps rising; the sigmoid's whole range is 0 to 1
    values.set(ylabel="activation", title="The activations")
    slopes.set_ylim(-0.05, 1.1)
    slopes.axhline(0.25, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2,
                   label="1/4, the largest σ′")
    slopes.set(ylabel="slope, d activation / dz", title="Their slopes: the factors backward "
                                                        "multiplies by")
    for ax in (values, slopes):
        ax.legend(loc="upper left")
    fig.suptitle("Sigmoid and ReLU: σ′ ≤ 1/4 everywhere, ReLU′ is 1 wherever the unit is "
                 "active and 0 elsewhere")
    return fig


def backprop_chain(settings: TrainingSettings,
                   grad_rms: Sequence[float] | None = None) -> Figure:
    """The network of `settings` as a chain of boxes, showing where backpropagation
    multiplies.

    The forward pass runs left to right along the top row. The error signal δ runs back
    along the bottom row: each activation multiplies it elementwise by its slope (σ′ ≤ 1/4,
    or ReLU′, 0 or 1), and each linear layer k takes its weight gradient a_(k-1)ᵀ δ_k and
    passes δ_k W_kᵀ down. grad_rms: one figure per linear layer (input side first), such
    as a History's grad_rms[0], written under each layer.
    """
    sizes = [PIXELS] + [settings.width] * (settings.num_layers - 1) + [CLASSES]
    layers = settings.num_layers
    if grad_rms is not None and len(grad_rms) != layers:
        raise ValueError(f"Give one RMS gradient per linear layer: {len(grad_rms)} for "
                         f"{layers} layers.")
    slope = ("σ′(z) ≤ 1/4" if settings.activation == "sigmoid" else "ReLU′(z): 0 or 1")
    symbol = "σ" if settings.activation == "sigmoid" else "ReLU"
    boxes = [("input x", f"(N, {PIXELS})", None)]
    for k in range(1, layers + 1):
        boxes.append((f"Linear {k}", f"W{k}: {sizes[k - 1]}×{sizes[k]}", k))
        if k < layers:
            boxes.append((symbol, f"(N, {sizes[k]})", None))
    boxes.append(("softmax +", "cross-entropy", None))

    fig = new_figure(figsize=(1.25 * len(boxes) + 0.5, 4.6), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_xlim(-0.6, len(boxes) - 0.4)
    ax.set_ylim(-2.9, 1.1)
    arrow = {"arrowstyle": "-|>", "color": "black", "linewidth": 1.2}
    for x, (name, shape, k) in enumerate(boxes):
        linear = k is not None
        ax.text(x, 0, f"{name}\n{shape}", ha="center", va="center", fontsize=9,
                fontweight="bold" if linear else "normal",
                bbox={"boxstyle": "round,pad=0.4", "linewidth": 1.2,
                      "facecolor": "#DCEBF7" if linear else "white",
                      "edgecolor": PALETTE[0] if linear else "0.3"})
        if x:
            ax.annotate("", xy=(x - 0.42, 0), xytext=(x - 0.58, 0), arrowprops=arrow)
            ax.annotate("", xy=(x - 0.8, -1.2), xytext=(x - 0.2, -1.2),
                        arrowprops=arrow | {"color": WRONG})
        if linear:
            note = f"∂L/∂W{k} = a{k - 1}ᵀ δ{k}"
            if k > 1:
                note += f"\npasses δ{k} W{k}ᵀ down"
            if grad_rms is not None:
                note += f"\nRMS {grad_rms[k - 1]:.1e}"
            ax.text(x, -1.55, note, ha="center", va="top", fontsize=8.5)
        elif name == symbol:
            ax.text(x, -1.55, f"× {slope}", ha="center", va="top", fontsize=8.5,
                    color=WRONG, fontweight="bold")
    ax.text(-0.5, 0.75, f"forward: a0 = x, zk = a(k-1) Wk + bk, ak = {symbol}(zk)",
            fontsize=9, va="center")
    ax.text(-0.5, -0.9, "backward: the error signal δk = ∂L/∂zk at each linear layer's "
            "output, from the loss down to layer 1", fontsize=9, va="center", color=WRONG)
    hidden = layers - 1
    summary = (f"From the loss to layer 1, δ is multiplied by {hidden} matrices Wᵀ and "
               f"{hidden} slopes {slope.split(':')[0].split(' ≤')[0]}.")
    if settings.activation == "sigmoid":
        power = str(hidden).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
        summary += (f" The slopes alone are at most (1/4){power} = {0.25 ** hidden:.2g}; "
                    "the Wᵀ factors can shrink or grow δ further, so that bound is on the "
                    "slopes, not on the whole gradient.")
    else:
        summary += (" Through active units the slopes are 1, so δ keeps its size there and "
                    "the Wᵀ factors decide; a dead unit passes nothing.")
    ax.text(-0.5, -2.85, textwrap.fill(summary, width=int(14 * len(boxes))), fontsize=9,
            va="bottom")
    ax.set_title(_title("Backpropagation through the chain: where the factors multiply",
                        [describe_settings(settings)]
                        + (["RMS gradient per weight in epoch 1"]
                           if grad_rms is not None else [])))
    return fig


def seed_spread(histories: Sequence[History], metric: str = "validation_accuracy") -> Figure:
    """Runs that differ only in their seed: each as a thin line, their mean as a thick line
    with a band of ± one sample standard deviation, and each run's final value in the legend
    and the title.

    metric: one of METRICS. The standard deviation is the sample one (ddof=1: divided by
    n - 1, as notebook 04 teaches), taken over the epochs that every run finished. A single
    run has no spread to show, so it gets the mean line only.
    """
    histories = _check_histories(histories)
    _check_metric(metric)
    shared, labels = _split_settings([history.settings for history in histories])
    if len({history.settings.replace(seed=0, max_epochs=1) for history in histories}) > 1:
        raise ValueError("seed_spread needs runs that differ only in their seed, but these "
                         "differ in more: " + "; ".join(labels))
    common = min(history.epochs for history in histories)
    runs = np.array([getattr(history, metric)[:common] for history in histories])
    finals = np.array([getattr(history, metric)[-1] for history in histories])

    fig = new_figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.subplots()
    _epoch_axes(ax, metric)
    for history, label in zip(histories, labels, strict=True):
        series = getattr(history, metric)
        # The marker sits on the final value only, so the end points can be told apart.
        _plot_epochs(ax, series, f"{label}: {_format(metric, series[-1])}",
                     markevery=[-1], linewidth=0.8)
    epochs = np.arange(1, common + 1)
    mean = runs.mean(axis=0)
    name = _metric_name(metric)
    summary = f"\nfinal {name}: mean {_format(metric, finals.mean())}"
    if len(histories) > 1:
        std = runs.std(axis=0, ddof=1)
        ax.fill_between(epochs, mean - std, mean + std, color="0.5", alpha=0.25, linewidth=0,
                        label="mean ± 1 sample std")
        summary += f", sample std {_format(metric, finals.std(ddof=1))}"
    ax.plot(epochs, mean, color="black", linestyle="-", marker="none", linewidth=2.5,
            label="mean")
    ax.set_title(_title(f"{name.capitalize()} over {len(histories)} seeds", shared) + summary)
    _legend_outside(ax)
    return fig


def final_accuracies(
    settings: Sequence[TrainingSettings],
    accuracies: Sequence[Sequence[float]],
    intervals: Sequence[tuple[float, float] | None],
) -> Figure:
    """Final accuracies of one or more settings, each trained over several seeds.

    settings: one per row (their seed is ignored); accuracies: per row, the (n,) final
    accuracies of its n seeds, each drawn as a dot; intervals: per row, the (low, high) of
    a 95% interval of the mean, drawn as a bar with end caps, or None to draw none. The
    intervals are given, not computed here: the lab has students compute them.
    """
    from matplotlib.ticker import PercentFormatter
    if not len(settings) == len(accuracies) == len(intervals) >= 1:
        raise ValueError(f"Give one row of settings, accuracies and interval per setting; got "
                         f"{len(settings)}, {len(accuracies)} and {len(intervals)}.")
    shared, labels = _split_settings([each.replace(seed=0) for each in settings])
    shared = [phrase for phrase in shared if not phrase.startswith("seed ")]
    if len(settings) == 1:
        labels = [""]  # the title states the settings; "run 1" would say nothing
    fig = new_figure(figsize=(8.5, 1.6 + 0.7 * len(settings)), layout="constrained")
    ax = fig.subplots()
    rows = np.arange(len(settings))
    for row, values, interval in zip(rows, accuracies, intervals, strict=True):
        # Seeds side by side at slightly different heights, so equal values stay visible.
        jitter = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else [0.0]
        ax.plot(values, row + np.asarray(jitter), linestyle="none", marker="o",
                color=PALETTE[row % len(PALETTE)], markersize=6,
                label="final accuracy of one seed" if row == 0 else None)
        if interval is not None:
            ax.errorbar(sum(interval) / 2, row - 0.3, xerr=(interval[1] - interval[0]) / 2,
                        color="black", capsize=6, linewidth=2, marker="|", markersize=12,
                        label="95% interval of the mean" if row == 0 else None)
    ax.set_yticks(rows, labels)
    ax.set_ylim(len(settings) - 0.5, -0.7)  # first row at the top
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_xlabel("final validation accuracy")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(_title(f"Final accuracy over {max(len(values) for values in accuracies)} seeds",
                        shared))
    _legend_outside(ax)
    return fig


def seed_pairs(
    settings: tuple[TrainingSettings, TrainingSettings],
    accuracies: tuple[Sequence[float], Sequence[float]],
    comparison: PairedComparison | None,
) -> Figure:
    """Two settings over the same seeds, compared seed by seed.

    settings: (first, second), their seeds ignored. accuracies: (first's, second's), each
    (n,) final validation accuracies, entry i from seed i. comparison: their
    stats.compare_paired, whose interval is drawn and stated, or None to draw none.
    Left, each seed's two results joined by a line: lines that run parallel show what a
    seed does to both settings alike. Right, the per-seed differences (second minus first)
    with the 95% interval of their mean beside a line at 0, which it excludes or not.
    """
    from matplotlib.ticker import FuncFormatter, PercentFormatter
    differences = paired_differences(*accuracies)
    shared, labels = _split_settings([each.replace(seed=0) for each in settings])
    shared = [phrase for phrase in shared if not phrase.startswith("seed ")]
    seeds = len(differences)
    fig = new_figure(figsize=(10, 4.8), layout="constrained")
    pairs, gaps = fig.subplots(1, 2, gridspec_kw={"width_ratios": (3, 2)})
    for ax in (pairs, gaps):
        ax.set_prop_cycle(**_SERIES_STYLES)
        ax.grid(axis="y", alpha=0.3)
    for seed, (first, second) in enumerate(zip(*accuracies, strict=True)):
        pairs.plot([0, 1], [first, second], markersize=7, label=f"seed {seed}")
    pairs.set_xticks([0, 1], labels)
    pairs.set_xlim(-0.3, 1.3)
    pairs.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=1))
    pairs.set_ylabel("final validation accuracy")
    pairs.set_title("Each seed's two runs, joined")

    for seed, difference in enumerate(differences):
        gaps.plot([seed / max(1, seeds - 1) * 0.4 - 0.2], [difference], linestyle="none",
                  markersize=7, label=f"seed {seed}")
    gaps.axhline(0, color="black", linestyle=":", linewidth=1.2, label="no difference")
    verdict = ""
    if comparison is not None:
        below, above = comparison.mean - comparison.low, comparison.high - comparison.mean
        gaps.errorbar(0.5, comparison.mean, yerr=[[below], [above]],
                      color="black", capsize=8, linewidth=2, marker="_", markersize=16,
                      label="mean, 95% interval")
        verdict = (f"\n95% interval of the mean difference: {as_points(comparison.low)} to "
                   f"{as_points(comparison.high)} points, "
                   + ("excludes 0" if comparison.excludes_zero else "includes 0"))
    gaps.set_xticks([])
    gaps.set_xlim(-0.4, 0.8)
    gaps.yaxis.set_major_formatter(FuncFormatter(lambda value, _: as_points(value)))
    gaps.set_ylabel(f"difference, percentage points\n({labels[1]} minus {labels[0]})")
    gaps.set_title("Difference per seed")
    gaps.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.suptitle(_title(f"{labels[1]} against {labels[0]}, paired over {seeds} seeds", shared)
                 + verdict)
    return fig


def digit_gallery(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    predictions: Sequence[int] | np.ndarray | None = None,
    *,
    columns: int = 10,
    max_images: int = 50,
    settings: TrainingSettings | None = None,
) -> Figure:
    """The first max_images images as 28x28 greyscale pictures, `columns` to a row.

    images: (N, 784), one flattened image per row. labels, predictions: (N,) digits 0-9.
    With both, a wrong prediction reads "pred 3 ✗ / true 5" under a thick frame, so it
    stands out without colour. settings: the network behind the predictions, for the title.
    """
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != PIXELS or not len(images):
        raise ValueError(f"images must be (N, {PIXELS}) with N >= 1, one flattened "
                         f"{IMAGE_SIDE}x{IMAGE_SIDE} image per row; got shape {images.shape}.")
    if columns < 1 or max_images < 1:
        raise ValueError(f"columns and max_images must be >= 1, got {columns} and {max_images}.")
    if labels is not None:
        labels = as_digits("labels", labels, length=len(images))
    if predictions is not None:
        predictions = as_digits("predictions", predictions, length=len(images))

    shown = min(len(images), max_images)
    columns = min(columns, shown)
    rows = math.ceil(shown / columns)
    fig = new_figure(figsize=(1.1 * columns, 1.3 * rows + 0.5), layout="constrained")
    both = labels is not None and predictions is not None
    wrong_count = 0
    for index in range(shown):
        ax = fig.add_subplot(rows, columns, index + 1)
        ax.imshow(images[index].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
        caption = []
        if predictions is not None:
            caption.append(f"pred {predictions[index]}")
        if labels is not None:
            caption.append(f"true {labels[index]}")
        wrong = both and labels[index] != predictions[index]
        if wrong:
            wrong_count += 1
            caption[0] += " ✗"
            ax.spines[:].set(color=WRONG, linewidth=3)
        ax.set_title("\n".join(caption), fontsize=9, color=WRONG if wrong else "black",
                     fontweight="bold" if wrong else "normal")
    title = f"{shown} of {len(images)} images" if shown < len(images) else f"{shown} images"
    if both:
        title += f", {wrong_count} predicted wrong (✗)"
    fig.suptitle(_title(title, [describe_settings(settings)] if settings else []))
    return fig


def confusion_matrix(
    labels: Sequence[int] | np.ndarray,
    predictions: Sequence[int] | np.ndarray,
    *,
    settings: TrainingSettings | None = None,
) -> Figure:
    """How often each true digit was predicted as each digit, as an annotated heatmap.

    labels, predictions: (N,) digits 0-9. Rows are true digits, columns predicted digits;
    the counts are confusion_counts(labels, predictions), and blank cells are 0.
    settings: the network behind the predictions, for the title.
    """
    counts = confusion_counts(labels, predictions)
    fig = new_figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")  # one hue, light to dark: readable in greyscale
    fig.colorbar(image, ax=ax, label="images (blank cell = 0)")
    for (true, predicted), count in np.ndenumerate(counts):
        if count:
            dark = count > counts.max() / 2
            ax.text(predicted, true, str(count), ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
    ax.set_xticks(range(CLASSES))
    ax.set_yticks(range(CLASSES))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    total = counts.sum()
    ax.set_title(_title(f"Confusion matrix: {total} images, "
                        f"{np.trace(counts) / total:.1%} correct",
                        [describe_settings(settings)] if settings else []))
    return fig


def _aspects(settings: TrainingSettings) -> list[str]:
    """The settings as short phrases: the architecture, activation, step, batch and seed."""
    architecture = (f"{settings.num_layers} layers x {settings.width}"
                    if settings.num_layers > 1 else "1 layer")
    return [architecture, settings.activation, f"step {settings.step_size:g}",
            f"batch {settings.batch_size}", f"seed {settings.seed}"]


def _split_settings(settings: list[TrainingSettings]) -> tuple[list[str], list[str]]:
    """(the phrases all runs share, one label per run of the phrases in which they differ).

    A run whose settings equal all the others' is labelled "run 1", "run 2", ...
    """
    rows = [_aspects(each) for each in settings]
    differs = [len(set(column)) > 1 for column in zip(*rows, strict=True)]
    shared = [phrase for phrase, varies in zip(rows[0], differs, strict=True) if not varies]
    labels = [
        ", ".join(phrase for phrase, varies in zip(row, differs, strict=True) if varies)
        or f"run {number}"
        for number, row in enumerate(rows, 1)
    ]
    return shared, labels


def _title(what: str, settings_phrases: list[str]) -> str:
    """`what`, with the settings on a second line when there are any."""
    return "\n".join([what, ", ".join(settings_phrases)]) if settings_phrases else what


def _check_histories(histories: Sequence[History]) -> list[History]:
    histories = list(histories)
    if not histories:
        raise ValueError("Give at least one History; got none.")
    for number, history in enumerate(histories, 1):
        if not isinstance(history, History):
            raise TypeError(f"History {number} is a {type(history).__name__}, not a History. "
                            "(train() returns (network, history): pass the history.)")
        if not history.epochs:
            raise ValueError(f"History {number} has no finished epoch yet: "
                             f"{describe_settings(history.settings)}.")
    return histories


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")


def _metric_name(metric: str) -> str:
    """"validation_accuracy" -> "validation accuracy"."""
    return metric.replace("_", " ")


def _format(metric: str, value: float) -> str:
    return f"{value:.1%}" if metric.endswith("accuracy") else f"{value:.3g}"


def _epoch_axes(ax: Axes, quantity: str) -> None:
    """Label ax for `quantity` (a metric or a plain name) per epoch; accuracy as percent."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter
    ax.set_prop_cycle(**_SERIES_STYLES)
    ax.set_xlabel("epoch")
    ax.set_ylabel(_metric_name(quantity))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if quantity.endswith("accuracy"):
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.grid(alpha=0.3)


def _draw_runs(ax: Axes, histories: list[History], metric: str, labels: Sequence[str]) -> None:
    """One line per history of `metric` on ax, labelled, on an honest scale."""
    _epoch_axes(ax, metric)
    for history, label in zip(histories, labels, strict=True):
        _plot_epochs(ax, getattr(history, metric), label)
    _honest_scale(ax, metric)


def _honest_scale(ax: Axes, quantity: str) -> None:
    """Accuracy on the whole 0-100% range with a labelled chance line, so that a collapsed
    run jittering between 9% and 11% looks flat, as it is; loss on a log axis, so that one
    run's huge first epoch (25 at step 10) does not flatten every other line.
    """
    if quantity.endswith("accuracy"):
        ax.set_ylim(0, 1)
        ax.axhline(CHANCE, color="0.35", linestyle=(0, (1, 2)), linewidth=1.2,
                   label=f"chance ({CHANCE:.0%})")
    else:
        ax.set_yscale("log")
        ax.set_ylabel(f"{ax.get_ylabel()} (log scale)")
        _plain_log_labels(ax)


def _plain_log_labels(ax: Axes) -> None:
    """Label ax's log y axis 0.5, 1, 2 rather than 5×10⁻¹, 10⁰, 2×10⁰: every power of ten,
    and 2, 3 and 5 times one when matplotlib would label minor ticks (few decades shown)."""
    from matplotlib.ticker import FuncFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    chooser = ax.yaxis.get_minor_formatter()

    def minor(value: float, position: int) -> str:
        leading = round(value / 10 ** math.floor(math.log10(value)))
        return f"{value:g}" if leading in (2, 3, 5) and chooser(value, position) else ""

    ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def _plot_epochs(ax: Axes, values: Sequence[float], label: str, *,
                 markevery: int | list[int] | None = None, **style) -> None:
    """values: (epochs,), drawn against epochs 1, 2, ... with about ten markers."""
    epochs = np.arange(1, len(values) + 1)
    if markevery is None:
        markevery = max(1, len(values) // 10)
    ax.plot(epochs, values, label=label, markersize=5, markevery=markevery, **style)


def _legend_outside(ax: Axes) -> None:
    """A legend right of the axes, where it cannot hide a line."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)


def _layer_name(index: int, layers: int) -> str:
    """"layer 1 (input side)", "layer 2", ..., "layer 5 (output)"."""
    if layers == 1:
        return "layer 1 (input and output)"
    position = {0: " (input side)", layers - 1: " (output)"}.get(index, "")
    return f"layer {index + 1}{position}"


def _add_notes(fig: Figure, notes: list[str]) -> None:
    """Print notes in a box under the axes, growing the figure to make room."""
    text = "\n".join(textwrap.fill(f"Note: {note}", width=130) for note in notes)
    lines = text.count("\n") + 1
    extra = 0.2 * lines + 0.3  # inches
    height = fig.get_figheight() + extra
    fig.set_figheight(height)
    fig.text(0.01, 0.01, text, ha="left", va="bottom", fontsize=9,
             bbox={"facecolor": "#FFF4DC", "edgecolor": WRONG, "boxstyle": "round"})
    # Constrained layout ignores figure text, so keep the axes above the box.
    fig.get_layout_engine().set(rect=(0, extra / height, 1, 1 - extra / height))


# --- Diagrams of the lesson (notebook 01) ---------------------------------------------------

FORWARD, BACKWARD = PALETTE[0], PALETTE[1]


def linear_layer_diagram() -> Figure:
    """One linear layer, forward (top row, left to right) and backward (bottom row, right to
    left), with the shape of every array: x (N, in), W (in, out), b (1, out), output (N, out),
    and the three gradients backward produces. Shapes only, no formula for a gradient.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch
    fig = new_figure(figsize=(11, 5.6), layout="constrained")
    ax = fig.subplots()
    ax.set(xlim=(0, 12.4), ylim=(-1.6, 6.1), aspect="equal")
    ax.axis("off")
    boxes = {  # name: (centre x, centre y, width, height, text, colour)
        "x": (1.4, 4.3, 2.4, 1.1, "input x\n(N, in)", FORWARD),
        "layer": (5.6, 2.9, 3.8, 3.8, "Linear layer\noutput = x W + b\n\nweights W  (in, out)\n"
                  "bias b  (1, out)\n\nforward keeps x\nin self.input", "#000000"),
        "output": (9.8, 4.3, 2.4, 1.1, "output\n(N, out)", FORWARD),
        "loss": (11.75, 4.3, 1.0, 1.1, "loss\nL", "#000000"),
        "grad": (9.8, 1.5, 2.4, 1.3, "grad = $\\partial L / \\partial$output\n(N, out)",
                 BACKWARD),
        "returned": (1.4, 1.5, 2.4, 1.3, "returned:\n$\\partial L / \\partial x$\n(N, in)",
                     BACKWARD),
        "grad_weights": (4.4, -0.75, 2.9, 1.3,
                         "self.grad_weights\n$\\partial L / \\partial W$\n(in, out)", BACKWARD),
        "grad_bias": (7.6, -0.75, 2.6, 1.3, "self.grad_bias\n$\\partial L / \\partial b$\n(1, out)",
                      BACKWARD),
    }
    for x, y, width, height, text, colour in boxes.values():
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                    boxstyle="round,pad=0.05", facecolor="white",
                                    edgecolor=colour, linewidth=2))
        ax.text(x, y, text, ha="center", va="center", fontsize=10)
    arrows = [  # (from, to, colour, line style): forward solid, backward dashed
        ((2.65, 4.3), (3.65, 4.3), FORWARD, "-"), ((7.55, 4.3), (8.55, 4.3), FORWARD, "-"),
        ((11.05, 4.3), (11.2, 4.3), FORWARD, "-"), ((11.75, 3.7), (11.05, 2.0), BACKWARD, "--"),
        ((8.55, 1.5), (7.55, 1.5), BACKWARD, "--"), ((3.65, 1.5), (2.65, 1.5), BACKWARD, "--"),
        ((5.0, 0.95), (4.6, 0.0), BACKWARD, "--"), ((6.5, 0.95), (7.3, 0.0), BACKWARD, "--"),
    ]
    for start, end, colour, style in arrows:
        ax.annotate("", end, start, arrowprops={"arrowstyle": "-|>", "color": colour,
                                                "linestyle": style, "linewidth": 2,
                                                "mutation_scale": 18})
    ax.legend(handles=[Line2D([], [], color=FORWARD, linewidth=2, label="forward(x): the output"),
                       Line2D([], [], color=BACKWARD, linewidth=2, linestyle="--",
                              label="backward(grad): the gradients")],
              loc="upper left", frameon=False)
    ax.set_title("One linear layer on a batch of N examples: forward (top) and backward "
                 "(bottom), with every shape")
    return fig
