"""Greedy layer-wise autoencoder pretraining: what each layer learns from, and checks."""

from __future__ import annotations

import numpy as np
import pytest

import evaluator.nn as nn
from evaluator.nn.pretrain import pretrain_greedy


class Recorder(nn.Sequential):
    """A Sequential that remembers every training-mode input it was given."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.seen: list[np.ndarray] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        if self.training:
            self.seen.append(x.copy())
        return super().forward(x)


def sigmoid_stack(sizes: list[int], seed: int, dtype=np.float64) -> list[nn.Sequential]:
    rng = np.random.default_rng(seed)
    return [
        Recorder(nn.Linear(a, b, dtype=dtype, rng=rng), nn.Sigmoid())
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def blobs(n: int, features: int, seed: int) -> np.ndarray:
    """Inputs in [0, 1] with structure to learn: noisy copies of three prototypes."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0.1, 0.9, (3, features))
    x = prototypes[rng.integers(0, 3, n)] + rng.normal(0, 0.05, (n, features))
    return np.clip(x, 0, 1)


def test_a_linear_autoencoder_reaches_the_pca_reconstruction_error(rng):
    # Squared error with a linear encoder and decoder is minimised by projecting onto
    # the top principal components: the residual is the sum of the other eigenvalues.
    n, features, code = 400, 6, 2
    scales = np.array([3.0, 2.0, 0.5, 0.3, 0.2, 0.1])
    x = (rng.standard_normal((n, features)) * scales) @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    x += 1.5  # an offset the biases must absorb
    eigenvalues = np.linalg.eigvalsh(np.cov(x, rowvar=False, bias=True))  # ascending
    pca_mse = eigenvalues[: features - code].sum() / features

    encoder = nn.Linear(features, code, rng=0)
    history = pretrain_greedy(
        [encoder], x, reconstruction="mse", epochs=150, batch_size=400, lr=0.05, rng=0
    )
    assert history[0][-1] == pytest.approx(pca_mse, rel=0.02)
    assert history[0][0] > 2 * pca_mse  # it started far from there


def test_each_layer_learns_from_the_frozen_codes_of_the_layer_before():
    x = blobs(96, 8, seed=1)
    encoders = sigmoid_stack([8, 5, 4, 3], seed=2)
    pretrain_greedy(encoders, x, epochs=2, batch_size=32, rng=3)

    expected_input = x
    for encoder in encoders:
        seen = np.concatenate(encoder.seen)  # training inputs, in shuffled order
        assert seen.shape == (2 * len(x), expected_input.shape[1])
        # Every training input is a row of the previous (final, frozen) encoder's output.
        order = np.lexsort(seen.T)
        np.testing.assert_array_equal(
            seen[order], np.repeat(expected_input[np.lexsort(expected_input.T)], 2, axis=0)
        )
        encoder.eval()
        expected_input = encoder.forward(expected_input)


def test_training_lowers_every_layers_reconstruction_loss():
    x = blobs(300, 10, seed=4)
    history = pretrain_greedy(
        sigmoid_stack([10, 8, 6, 4], seed=5), x, epochs=15, batch_size=30, lr=1e-2, rng=6
    )
    assert len(history) == 3 and all(len(h) == 15 for h in history)
    for layer, losses in enumerate(history):
        assert losses[-1] < 0.97 * losses[0], f"layer {layer}: {losses[0]} -> {losses[-1]}"


def test_the_same_seed_gives_the_same_weights():
    x = blobs(64, 6, seed=7)
    runs = []
    for _ in range(2):
        encoders = sigmoid_stack([6, 4, 3], seed=8)
        pretrain_greedy(encoders, x, epochs=2, batch_size=16, rng=9)
        runs.append([e[0].params["weight"].copy() for e in encoders])
    for first, second in zip(*runs, strict=True):
        np.testing.assert_array_equal(first, second)


def test_float32_encoders_train_in_float32():
    x = blobs(64, 6, seed=10).astype(np.float32)
    encoders = sigmoid_stack([6, 4, 3], seed=11, dtype=np.float32)
    history = pretrain_greedy(encoders, x, epochs=2, batch_size=16, rng=12)
    assert all(np.isfinite(h).all() for h in history)
    assert all(e[0].params["weight"].dtype == np.float32 for e in encoders)


def test_mixed_reconstruction_per_layer():
    # Real-valued inputs: squared error first, cross-entropy on the sigmoid codes after.
    x = np.random.default_rng(13).normal(0, 2, (64, 6))
    history = pretrain_greedy(
        sigmoid_stack([6, 4, 3], seed=14), x, reconstruction=["mse", "bce"], epochs=2, rng=15
    )
    assert len(history) == 2


@pytest.mark.parametrize(
    ("encoders", "x", "kwargs", "error", "match"),
    [
        ([], np.zeros((4, 3)), {}, ValueError, "at least one encoder"),
        ([object()], np.zeros((4, 3)), {}, TypeError, "encoder 0 must be a Module"),
        ([nn.Linear(3, 2)], np.zeros(3), {}, ValueError, r"x of shape \(N, features\)"),
        ([nn.Linear(3, 2)], np.zeros((4, 3)), {"epochs": 0}, ValueError, "epochs"),
        ([nn.Linear(3, 2)], np.full((4, 3), 2.0), {}, ValueError, r"layer 0.*\[0, 1\]"),
        ([nn.Linear(3, 2)], np.zeros((4, 3)), {"reconstruction": "l1"}, ValueError, "'bce'"),
        (
            [nn.Linear(3, 2), nn.Linear(2, 2)],
            np.zeros((4, 3)),
            {"reconstruction": ["bce"]},
            ValueError,
            "one of them per encoder",
        ),
        (
            [nn.Sequential(nn.Linear(3, 4), nn.Flatten(0))],
            np.zeros((4, 3)),
            {},
            ValueError,
            r"encoder 0 \(Sequential.*maps \(1, 3\) to \(4,\)",
        ),
    ],
)
def test_errors_say_what_and_where(encoders, x, kwargs, error, match):
    with pytest.raises(error, match=match):
        pretrain_greedy(encoders, x, **kwargs)


def test_cross_entropy_on_codes_outside_0_1_names_the_layer():
    first = nn.Linear(3, 2)
    first.params["weight"][:] = 0.0
    first.params["bias"][:] = -1.0  # codes of -1; lr=0 keeps them there
    with pytest.raises(ValueError, match=r"inputs of layer 1 span \[-1, -1\]"):
        pretrain_greedy([first, nn.Linear(2, 2)], np.zeros((4, 3)), lr=0.0)
