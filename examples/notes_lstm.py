"""The notes' long-range dependency, measured: an LSTM remembers, a plain tanh RNN forgets.

The task: the first step of each sequence shows one of ``CLASSES`` marker tokens; the
following ``--steps - 1`` steps are random distractor tokens. The label is the class of
the first token, read from the hidden state after the *last* step, so the network has
to carry one piece of information across the whole sequence (chance: 1 / CLASSES)::

    .venv/bin/python examples/notes_lstm.py            # about 40 s on 2 cores
    .venv/bin/python examples/notes_lstm.py --steps 60 --seed 3

Both models (``RNN`` and ``LSTM`` from :mod:`evaluator.nn.recurrent`, same hidden size,
a Linear classifier on the last hidden state) train with the same Adam settings and
gradient clipping on the same batches. The RNN's gradient from the last step to the
first is a product of ``steps`` Jacobians ``diag(1 - h^2) W_hh`` and vanishes; the
LSTM's cell state is updated additively, so the gradient travels back through the
forget gates, and the first token stays learnable.

That path only carries the signal if the forget gates start open: with PyTorch's
default initialisation ``f`` starts near 0.5 and ``0.5**steps`` vanishes as fast as the
RNN's product. The LSTM therefore uses the *chrono* initialisation (Tallec & Ollivier,
2018): forget-gate biases ``log(U(1, steps - 1))``, input-gate biases their negatives,
so the units start with memory time-scales spread up to the sequence length.
``--lstm-init default`` keeps PyTorch's initialisation to see the difference.
Writes ``examples/out/notes_lstm.png``.
"""

from __future__ import annotations

import os

# The matrices here are tiny (batch x 4*hidden): BLAS threads only add overhead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import evaluator.nn as nn  # noqa: E402
from evaluator.nn.recurrent import LSTM, RNN  # noqa: E402

CLASSES = 4  # marker tokens 0..3, the labels
DISTRACTORS = 6  # tokens CLASSES..CLASSES+5 fill the rest of the sequence
VOCAB = CLASSES + DISTRACTORS
OUT_DIR = Path(__file__).resolve().parent / "out"


def make_batch(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One-hot sequences (steps, n, VOCAB) float64 and their labels (n,) int64."""
    labels = rng.integers(0, CLASSES, n)
    tokens = rng.integers(CLASSES, VOCAB, (steps, n))
    tokens[0] = labels
    return np.eye(VOCAB)[tokens], labels


class SequenceClassifier(nn.Module):
    """A recurrent layer, then a Linear on its last hidden state: (T, N, V) -> (N, C)."""

    def __init__(self, recurrent: LSTM | RNN, rng: np.random.Generator) -> None:
        super().__init__()
        self.recurrent = recurrent
        self.head = nn.Linear(recurrent.hidden_size, CLASSES, rng=rng)
        self._out_shape: tuple[int, ...] | None = None

    def children(self) -> list[nn.Module]:
        return [self.recurrent, self.head]

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = self.recurrent.forward(x)  # (T, N, H)
        self._out_shape = out.shape
        return self.head.forward(out[-1])

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self._out_shape is None:
            raise RuntimeError("SequenceClassifier: backward() called before forward()")
        dout = np.zeros(self._out_shape)  # only the last step feeds the loss
        dout[-1] = self.head.backward(grad)
        return self.recurrent.backward(dout)


def chrono_init(lstm: LSTM, max_lag: int, rng: np.random.Generator) -> None:
    """Forget biases ``log(U(1, max_lag - 1))``, input biases their negatives (Tallec 2018).

    A forget gate of bias ``b`` keeps ``sigmoid(b)`` of its cell per step, a memory of
    about ``1 + exp(b)`` steps; the uniform draw spreads those from 2 to ``max_lag``.
    """
    hidden = lstm.hidden_size
    forget = np.log(rng.uniform(1.0, max_lag - 1.0, hidden))
    bias_ih, bias_hh = lstm.params["bias_ih_l0"], lstm.params["bias_hh_l0"]
    bias_ih[:hidden], bias_hh[:hidden] = -forget, 0.0  # input gate (block 0)
    bias_ih[hidden : 2 * hidden], bias_hh[hidden : 2 * hidden] = forget, 0.0  # forget gate


def train(
    model: SequenceClassifier, args: argparse.Namespace, seed: int
) -> tuple[list[float], float]:
    """Adam on fresh random batches; returns the loss per step and the test accuracy."""
    rng = np.random.default_rng(seed)  # same batches for both models
    optimizer = nn.Adam(model, lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for _ in range(args.iterations):
        x, y = make_batch(args.batch, args.steps, rng)
        optimizer.zero_grad()
        losses.append(criterion.forward(model.forward(x), y))
        model.backward(criterion.backward())
        nn.clip_grad_norm_(model, 1.0)
        optimizer.step()
    x, y = make_batch(2000, args.steps, np.random.default_rng(seed + 1))
    accuracy = float(np.mean(model.forward(x).argmax(axis=1) == y))
    return losses, accuracy


def plot(curves: dict[str, list[float]], steps: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, losses in curves.items():
        smooth = np.convolve(losses, np.ones(20) / 20, mode="valid")
        ax.plot(smooth, label=name)
    ax.axhline(np.log(CLASSES), color="grey", ls=":", label="chance (log 4)")
    ax.set(
        xlabel="iteration",
        ylabel="training loss (20-step mean)",
        title=f"Remember the first token over {steps} steps",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="sequence length")
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--lstm-init", choices=["chrono", "default"], default="chrono")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(
        f"first-token memory over {args.steps} steps, {CLASSES} classes (chance 0.25), "
        f"LSTM init {args.lstm_init}, seed {args.seed}"
    )
    results: dict[str, float] = {}
    curves = {}
    for name, cls in (("tanh RNN", RNN), ("LSTM", LSTM)):
        rng = np.random.default_rng(args.seed)
        recurrent = cls(VOCAB, args.hidden, rng=rng)
        if isinstance(recurrent, LSTM) and args.lstm_init == "chrono":
            chrono_init(recurrent, args.steps, rng)
        model = SequenceClassifier(recurrent, rng)
        start = time.perf_counter()
        losses, accuracy = train(model, args, seed=args.seed + 100)
        final = float(np.mean(losses[-50:]))
        curves[name] = losses
        results[f"{name} loss"], results[f"{name} accuracy"] = final, accuracy
        print(
            f"{name:9} final training loss {final:.3f}  test accuracy {accuracy:.3f}  "
            f"({time.perf_counter() - start:.0f} s)"
        )
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / "notes_lstm.png"
    plot(curves, args.steps, path)
    print(f"loss curves written to {path}")
    return results


if __name__ == "__main__":
    main()
