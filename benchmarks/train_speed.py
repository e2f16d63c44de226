"""How fast digitlab's numpy training runs next to the same model in PyTorch (CPU).

Both sides train a 784 -> 16 -> 10 ReLU network on the bundled digits (float32, 3,000
training and 1,000 validation images) with plain minibatch SGD, from the same initial
weights, and do the same bookkeeping every epoch: train loss and accuracy gathered from the
minibatches, mean gradient norms, and a validation pass giving loss and accuracy.

Each side runs in its own subprocess of this script, so that its thread count is fixed
before numpy or torch is imported and its peak memory is its own. digitlab.train itself
limits numpy's BLAS to one thread (benchmarks/blas_threads.py says why).

    .venv/bin/python benchmarks/train_speed.py [--epochs 50] [--batch-size 200] [--repeats 3]

This prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_VERSION = "2.13.0"
INSTALL_TORCH = f".venv/bin/pip install torch=={TORCH_VERSION}"
# Every library that may start a thread pool: numpy's OpenBLAS, torch's MKL and OpenMP.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs per timed run")
    parser.add_argument("--batch-size", type=int, default=200, help="images per SGD step")
    parser.add_argument("--step-size", type=float, default=0.1, help="SGD learning rate")
    parser.add_argument("--width", type=int, default=16, help="hidden layer width")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and shuffling")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--warmup-epochs", type=int, default=2,
                        help="an untimed run of this many epochs first")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for torch (digitlab.train uses one BLAS thread)")
    parser.add_argument("--side", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace):
    """digitlab's TrainingSettings for this run; the torch side reads the same object."""
    from digitlab import TrainingSettings

    return TrainingSettings(
        num_layers=2, width=args.width, activation="relu", step_size=args.step_size,
        batch_size=args.batch_size, max_epochs=args.epochs, seed=args.seed,
    )


def time_runs(run_once, args: argparse.Namespace) -> tuple[list[float], float]:
    """Warm up, then time `repeats` full runs.

    run_once(epochs) trains from scratch and returns the final validation accuracy.
    Returns the seconds of every timed run and the final accuracy of the last one.
    """
    run_once(args.warmup_epochs)
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        accuracy = run_once(args.epochs)
        seconds.append(time.perf_counter() - start)
    return seconds, accuracy


def peak_rss_mb() -> float:
    """This process's peak resident memory so far; Linux reports ru_maxrss in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the numpy side


def run_numpy_side(args: argparse.Namespace) -> dict:
    """Time digitlab.train with the reference backward; runs inside its own subprocess."""
    import numpy as np

    import digitlab

    sys.path.insert(0, str(REPO / "tests"))
    from reference import ReferenceLinear  # the correct backward never ships in digitlab

    data = digitlab.load_digits(seed=0, dtype=np.float32)
    settings = settings_from(args)
    base_rss = peak_rss_mb()

    def run_once(epochs: int) -> float:
        _, history = digitlab.train(settings.replace(max_epochs=epochs), data,
                                    linear=ReferenceLinear)
        return history.validation_accuracy[-1]

    seconds, accuracy = time_runs(run_once, args)
    rss = peak_rss_mb()
    # tracemalloc slows numpy down, so it gets its own untimed run after the timed ones.
    tracemalloc.start()
    run_once(args.epochs)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {
        "version": f"numpy {np.__version__}", "seconds": seconds, "accuracy": accuracy,
        "train_size": len(data.train), "validation_size": len(data.validation),
        "base_rss_mb": base_rss, "peak_rss_mb": rss, "traced_peak_mb": traced_peak,
    }


# ---------------------------------------------------------------- the torch side


def initial_weights(settings, dtype) -> list[tuple]:
    """(weights (in, out), bias (1, out)) of every layer of digitlab's starting network.

    digitlab.train draws its initial weights from the first of two generators spawned from
    settings.seed; building the network the same way gives the same start.
    """
    import numpy as np

    from digitlab import build_network

    init_rng, _ = np.random.default_rng(settings.seed).spawn(2)
    network = build_network(settings.num_layers, settings.width, settings.activation,
                            init_rng, dtype=dtype)
    return [(layer.weights, layer.bias) for layer in network.linear_layers]


def build_torch_model(torch, start: list[tuple]):
    """784 -> width -> 10 with ReLU, holding copies of the digitlab weights in `start`."""
    first, second = (torch.nn.Linear(*weights.shape) for weights, _ in start)
    with torch.no_grad():
        for layer, (weights, bias) in zip((first, second), start, strict=True):
            # torch keeps a Linear's weight as (out, in), digitlab as (in, out).
            layer.weight.copy_(torch.from_numpy(weights).T)
            layer.bias.copy_(torch.from_numpy(bias).reshape(-1))
    return torch.nn.Sequential(first, torch.nn.ReLU(), second)


def train_torch(torch, settings, data, start: list[tuple]) -> list[float]:
    """Train like digitlab.train does and return the validation accuracy of every epoch.

    The per-batch work mirrors digitlab's loop: the loss as a Python float with a
    divergence check, a correct-prediction count, and each layer's gradient norm.
    """
    functional = torch.nn.functional
    model = build_torch_model(torch, start)
    linears = [model[0], model[2]]
    optimiser = torch.optim.SGD(model.parameters(), lr=settings.step_size)
    generator = torch.Generator().manual_seed(settings.seed)
    # from_numpy shares memory, so no conversion happens inside the loop.
    images, labels = torch.from_numpy(data.train.images), torch.from_numpy(data.train.labels)
    val_images = torch.from_numpy(data.validation.images)
    val_labels = torch.from_numpy(data.validation.labels)
    batch_starts = range(0, len(labels), settings.batch_size)
    train_loss, train_accuracy, val_loss, val_accuracy, grad_norms = [], [], [], [], []
    for _ in range(settings.max_epochs):
        order = torch.randperm(len(labels), generator=generator)
        loss_sum = correct = 0.0
        grad_norm_sums = torch.zeros(len(linears))
        for start_row in batch_starts:
            rows = order[start_row:start_row + settings.batch_size]
            x, y = images[rows], labels[rows]
            logits = model(x)
            loss = functional.cross_entropy(logits, y)
            batch_loss = loss.item()
            if not math.isfinite(batch_loss):
                raise ArithmeticError(f"torch training diverged: loss {batch_loss}")
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                for index, layer in enumerate(linears):
                    grad_norm_sums[index] += torch.linalg.vector_norm(layer.weight.grad)
            loss_sum += batch_loss * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
        train_loss.append(loss_sum / len(labels))
        train_accuracy.append(correct / len(labels))
        grad_norms.append((grad_norm_sums / len(batch_starts)).tolist())
        with torch.no_grad():
            val_logits = model(val_images)
            val_loss.append(functional.cross_entropy(val_logits, val_labels).item())
            val_accuracy.append((val_logits.argmax(dim=1) == val_labels).float().mean().item())
    return val_accuracy


def run_torch_side(args: argparse.Namespace) -> dict:
    """Time the same training in PyTorch; runs inside its own subprocess."""
    try:
        import torch
    except ImportError as error:
        return {"missing": str(error)}
    import numpy as np

    import digitlab

    torch.set_num_threads(args.threads)
    data = digitlab.load_digits(seed=0, dtype=np.float32)
    settings = settings_from(args)
    start = initial_weights(settings, np.float32)
    base_rss = peak_rss_mb()

    def run_once(epochs: int) -> float:
        return train_torch(torch, settings.replace(max_epochs=epochs), data, start)[-1]

    seconds, accuracy = time_runs(run_once, args)
    return {
        "version": f"torch {torch.__version__}", "seconds": seconds, "accuracy": accuracy,
        "threads": torch.get_num_threads(), "base_rss_mb": base_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


# ---------------------------------------------------------------- the parent


def measure(side: str, argv: list[str], threads: int) -> dict:
    """Run one side in a fresh subprocess and return the dict it printed as JSON."""
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--side", side]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"The {side} side failed (exit code {result.returncode}).")
    return json.loads(result.stdout.strip().splitlines()[-1])


def describe(name: str, figures: dict, epochs: int) -> str:
    """One table row: ms per epoch of the best run, the spread, accuracy and memory."""
    seconds = figures["seconds"]
    best_ms, worst_ms = (1000 * s / epochs for s in (min(seconds), max(seconds)))
    traced = figures.get("traced_peak_mb")
    traced_text = f", tracemalloc peak {traced:.1f} MB" if traced is not None else ""
    return (
        f"{name:<6}{best_ms:8.1f} ms  (slowest run {worst_ms:5.1f})  "
        f"val acc {figures['accuracy']:.4f}  peak RSS {figures['peak_rss_mb']:6.1f} MB "
        f"({figures['base_rss_mb']:.1f} before training{traced_text})"
    )


def report(args: argparse.Namespace, numpy_figures: dict, torch_figures: dict) -> None:
    """Print the comparison."""
    print(
        f"784 -> {args.width} -> 10 ReLU, {args.epochs} epochs, batch {args.batch_size}, "
        f"step {args.step_size}, {numpy_figures['train_size']} train / "
        f"{numpy_figures['validation_size']} validation images, float32, "
        f"{args.threads} torch threads, 1 BLAS thread for numpy"
    )
    runs = "run" if args.repeats == 1 else "runs"
    print(f"warm-up {args.warmup_epochs} epochs, then the best of {args.repeats} {runs}; "
          f"{numpy_figures['version']}, {torch_figures.get('version', 'no torch')}")
    print("        per epoch")
    print(describe("numpy", numpy_figures, args.epochs))
    if "missing" in torch_figures:
        print(f"torch   not measured: PyTorch is not importable ({torch_figures['missing']}).")
        print(f"        Install it with `{INSTALL_TORCH}` (this machine has a local CPU wheel).")
        return
    print(describe("torch", torch_figures, args.epochs))
    if not torch_figures["version"].startswith(f"torch {TORCH_VERSION}"):
        print(f"note: the reference figures use torch {TORCH_VERSION}.")
    ratio = min(torch_figures["seconds"]) / min(numpy_figures["seconds"])
    print(f"numpy is {ratio:.2f}x PyTorch's speed (torch time / numpy time)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.side is not None:
        # Measure this checkout's digitlab, whichever one the venv has installed.
        sys.path.insert(0, str(REPO))
        run = run_numpy_side if args.side == "numpy" else run_torch_side
        print(json.dumps(run(args)))
        return
    # One side at a time, so that neither competes with the other for the cores.
    numpy_figures = measure("numpy", argv, args.threads)
    torch_figures = measure("torch", argv, args.threads)
    report(args, numpy_figures, torch_figures)


if __name__ == "__main__":
    main()
