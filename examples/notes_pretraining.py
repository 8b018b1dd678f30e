"""The notes' "pretraining + fine-tuning", measured on a deep sigmoid network.

Two copies of the same deep sigmoid network (``--depth`` hidden layers of width
``--width``, then a Linear classifier) learn to classify small noisy images of bars and
crosses. One starts from PyTorch's default random initialisation. The other is first
pretrained greedily without labels (:func:`evaluator.nn.pretrain.pretrain_greedy`: each
hidden layer is the encoder of an autoencoder reconstructing the previous layer's
output), then the whole stack is fine-tuned. Fine-tuning uses exactly the same
optimizer (plain SGD with momentum, the optimizer of that era), batches and epochs as
the random-init run::

    .venv/bin/python examples/notes_pretraining.py        # about 10 s on 2 cores

Expect the random-init network to stall near chance for a long time: sigmoid's slope is
at most 1/4 and the default weights are small, so the first layers receive almost no
gradient (the vanishing gradient of ``examples/nn_vanishing_gradients.py``) and the
signal of the input is washed out before it reaches the classifier. The pretrained layers
already pass on what distinguishes the images, so fine-tuning starts from a useful
representation. Writes ``examples/out/notes_pretraining.png``.
"""

from __future__ import annotations

import os

# Small matrices: BLAS threads mostly add overhead on a shared 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import evaluator.nn as nn  # noqa: E402
from evaluator.nn.pretrain import pretrain_greedy  # noqa: E402

SIDE = 12  # image side, pixels
KINDS = ("horizontal bar", "vertical bar", "diagonal", "cross")
OUT_DIR = Path(__file__).resolve().parent / "out"


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy SIDE x SIDE images of one randomly placed shape each, flattened.

    Returns
    -------
    x : ndarray of shape (n, SIDE * SIDE), dtype float64
        Intensities in [0, 1]: background about 0.25, shape pixels about 0.75.
    y : ndarray of shape (n,), dtype int64, the index into ``KINDS``
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(KINDS), n)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    images = rng.normal(0.25, 0.15, (n, SIDE, SIDE))
    for k in range(n):
        length = rng.integers(5, 10)
        r, c = rng.integers(0, SIDE - length + 1, 2)  # top-left corner of the shape's box
        inside = (rows >= r) & (rows < r + length) & (cols >= c) & (cols < c + length)
        mid_r, mid_c = r + length // 2, c + length // 2
        kind = KINDS[y[k]]
        if kind == "horizontal bar":
            mask = inside & (rows == mid_r)
        elif kind == "vertical bar":
            mask = inside & (cols == mid_c)
        elif kind == "diagonal":
            mask = inside & (rows - r == cols - c)
        else:
            mask = inside & ((rows == mid_r) | (cols == mid_c))
        images[k][mask] += 0.5
    return np.clip(images, 0.0, 1.0).reshape(n, SIDE * SIDE), y


def deep_sigmoid_encoders(depth: int, width: int, seed: int) -> list[nn.Sequential]:
    """``depth`` blocks Linear + Sigmoid with PyTorch's default initialisation."""
    rng = np.random.default_rng(seed)
    sizes = [SIDE * SIDE] + [width] * depth
    return [
        nn.Sequential(nn.Linear(sizes[i], sizes[i + 1], rng=rng), nn.Sigmoid())
        for i in range(depth)
    ]


def code_spread(encoders: list[nn.Sequential], x: np.ndarray) -> str:
    """Mean standard deviation of every layer's output over ``x``, layer by layer."""
    spreads = []
    for encoder in encoders:
        x = encoder.forward(x)
        spreads.append(f"{x.std(axis=0).mean():.3f}")
    return " ".join(spreads)


def fine_tune(
    model: nn.Sequential, data: tuple[np.ndarray, ...], args: argparse.Namespace
) -> tuple[list[float], float, float]:
    """SGD with momentum on the labels; training loss per epoch, train and test accuracy."""
    x_train, y_train, x_test, y_test = data
    optimizer = nn.SGD(model, lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    loader = nn.BatchLoader(x_train, y_train, batch_size=args.batch, rng=args.seed)
    losses = []
    for _ in range(args.epochs):
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            total += criterion.forward(model.forward(xb), yb) * len(xb)
            model.backward(criterion.backward())
            optimizer.step()
        losses.append(total / len(x_train))
    train_acc = float(np.mean(model.forward(x_train).argmax(1) == y_train))
    test_acc = float(np.mean(model.forward(x_test).argmax(1) == y_test))
    return losses, train_acc, test_acc


def plot(curves: dict[str, list[float]], depth: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=name)
    ax.axhline(np.log(len(KINDS)), color="grey", ls=":", label="chance (log 4)")
    ax.set(
        xlabel="fine-tuning epoch",
        ylabel="training cross-entropy",
        title=f"{depth}-layer sigmoid net: random init vs greedy pretraining",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=6, help="hidden sigmoid layers")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs")
    parser.add_argument("--pretrain-epochs", type=int, default=10, help="per layer")
    parser.add_argument("--reconstruction", choices=["bce", "mse"], default="bce")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x_train, y_train = make_data(args.train, args.seed)
    x_test, y_test = make_data(2000, args.seed + 1)
    data = (x_train, y_train, x_test, y_test)
    print(
        f"{args.depth} sigmoid layers of width {args.width}; {args.train} training images, "
        f"{len(KINDS)} classes (chance 0.25)"
    )
    results: dict[str, float] = {}
    curves = {}
    for name in ("random init", "pretrained"):
        start = time.perf_counter()
        encoders = deep_sigmoid_encoders(args.depth, args.width, args.seed)
        if name == "pretrained":
            history = pretrain_greedy(
                encoders,
                x_train,
                reconstruction=args.reconstruction,
                epochs=args.pretrain_epochs,
                lr=1e-2,
                batch_size=32,
                rng=args.seed,
            )
            print(
                f"pretraining ({args.reconstruction}), reconstruction loss per layer, "
                "first -> last epoch: " + ", ".join(f"{h[0]:.3f}->{h[-1]:.3f}" for h in history)
            )
            print("spread of each layer's codes (mean std):", code_spread(encoders, x_train))
        head = nn.Linear(args.width, len(KINDS), rng=args.seed)
        model = nn.Sequential(*encoders, head)
        losses, train_acc, test_acc = fine_tune(model, data, args)
        curves[name] = losses
        results[f"{name} loss"] = losses[-1]
        results[f"{name} train accuracy"] = train_acc
        results[f"{name} test accuracy"] = test_acc
        print(
            f"{name:12} final training loss {losses[-1]:.3f}  train accuracy {train_acc:.3f}  "
            f"test accuracy {test_acc:.3f}  ({time.perf_counter() - start:.0f} s)"
        )
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / "notes_pretraining.png"
    plot(curves, args.depth, path)
    print(f"fine-tuning curves written to {path}")
    return results


if __name__ == "__main__":
    main()
