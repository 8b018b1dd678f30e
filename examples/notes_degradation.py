"""The notes' network degradation, measured: deeper plain nets fit the training set *worse*.

Three networks learn the same training set with the same optimizer, batches and epochs:

* ``plain, shallow``: ``--shallow`` blocks, each ``Linear-BN-ReLU-Linear-BN-ReLU``;
* ``plain, deep``: ``--deep`` such blocks;
* ``residual, deep``: the same ``--deep`` blocks and parameters, with an identity
  shortcut around each (``ReLU(x + BN(W2 ReLU(BN(W1 x))))``, ResNet's basic block).

::

    .venv/bin/python examples/notes_degradation.py        # about 25 s on 2 cores

The deeper plain network contains the shallow one (its extra blocks could learn the
identity), yet its *training* loss ends higher: this is not overfitting (overfitting
lowers training loss) but an optimisation difficulty, the extra layers do not find the
identity mapping. The shortcut makes the identity the default (a block only has to learn
the residual ``F(x) = H(x) - x``, zero weights give ``H(x) = x``), and the deep residual
net trains at least as well as the shallow one. Writes ``examples/out/notes_degradation.png``.
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

OUT_DIR = Path(__file__).resolve().parent / "out"


def make_spirals(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved 2-D spirals with a little noise.

    Returns
    -------
    x : ndarray of shape (n, 2), dtype float64
    y : ndarray of shape (n,), dtype int64
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    t = rng.uniform(0.05, 1.0, n)  # position along the arm
    angle = 3 * np.pi * t + 2 * np.pi * y / classes
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return x + rng.normal(0, 0.02, x.shape), y


def block_body(width: int, rng: np.random.Generator) -> nn.Sequential:
    """``Linear-BN-ReLU-Linear-BN``: the two-layer body of one block."""
    first, second = nn.Linear(width, width, rng=rng), nn.Linear(width, width, rng=rng)
    for linear in (first, second):
        nn.kaiming_normal_(linear.params["weight"], nonlinearity="relu", rng=rng)
    return nn.Sequential(first, nn.BatchNorm1d(width), nn.ReLU(), second, nn.BatchNorm1d(width))


def build(blocks: int, residual: bool, width: int, classes: int, seed: int) -> nn.Sequential:
    """Stem ``Linear(2, width)-BN-ReLU``, ``blocks`` blocks, then ``Linear(width, classes)``."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = [nn.Linear(2, width, rng=rng), nn.BatchNorm1d(width), nn.ReLU()]
    for _ in range(blocks):
        body = block_body(width, rng)
        layers += [nn.Residual(body) if residual else body, nn.ReLU()]
    layers.append(nn.Linear(width, classes, rng=rng))
    return nn.Sequential(*layers)


def train(
    model: nn.Sequential, x: np.ndarray, y: np.ndarray, args: argparse.Namespace
) -> list[float]:
    """SGD with momentum, warm-up and cosine decay; the training-set loss after each epoch.

    The loss is measured in eval mode on the whole training set: the mean of the
    mini-batch losses would mix in the noise of BatchNorm's per-batch statistics.
    """
    optimizer = nn.SGD(model, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()
    loader = nn.BatchLoader(x, y, batch_size=args.batch, rng=args.seed)
    steps = args.epochs * len(loader)
    schedule = nn.cosine_with_warmup(optimizer, warmup_steps=len(loader), total_steps=steps)
    losses = []
    for _ in range(args.epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            criterion.forward(model.forward(xb), yb)
            model.backward(criterion.backward())
            optimizer.step()
            schedule.step()
        losses.append(evaluate(model, x, y)[0])
    return losses


def evaluate(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy in eval mode (BatchNorm's running statistics)."""
    model.eval()
    logits = model.forward(x)
    model.train()
    loss = nn.CrossEntropyLoss().forward(logits, y)
    return loss, float(np.mean(logits.argmax(axis=1) == y))


def plot(curves: dict[str, list[float]], classes: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, label=name)
    ax.axhline(np.log(classes), color="grey", ls=":", label=f"chance (log {classes})")
    ax.set(
        xlabel="epoch",
        ylabel="training-set cross-entropy (eval mode)",
        yscale="log",
        title="Degradation: deeper plain nets train worse; shortcuts fix it",
    )
    # The first epochs' eval-mode losses can be huge (running statistics still catching
    # up with the weights); the story is in the end of the curves.
    lowest = min(min(losses) for losses in curves.values())
    ax.set_ylim(0.7 * lowest, 10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shallow", type=int, default=8, help="blocks of the shallow net")
    parser.add_argument("--deep", type=int, default=16, help="blocks of the deep nets")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=256, help="large: BatchNorm noise")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = make_spirals(args.samples, args.classes, args.seed)
    print(f"{args.classes} spirals, {args.samples} training points, width {args.width}")
    configs = {
        f"plain, {2 * args.shallow + 2} layers": (args.shallow, False),
        f"plain, {2 * args.deep + 2} layers": (args.deep, False),
        f"residual, {2 * args.deep + 2} layers": (args.deep, True),
    }
    curves: dict[str, list[float]] = {}
    results: dict[str, float] = {}
    for name, (blocks, residual) in configs.items():
        start = time.perf_counter()
        model = build(blocks, residual, args.width, args.classes, args.seed)
        curves[name] = train(model, x, y, args)
        loss, accuracy = evaluate(model, x, y)
        results[f"{name} loss"], results[f"{name} accuracy"] = loss, accuracy
        print(
            f"{name:22} final training loss {loss:.4f}  training accuracy {accuracy:.3f}  "
            f"({time.perf_counter() - start:.0f} s)"
        )
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / "notes_degradation.png"
    plot(curves, args.classes, path)
    print(f"training curves written to {path}")
    return results


if __name__ == "__main__":
    main()
