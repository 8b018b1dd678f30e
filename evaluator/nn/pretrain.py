"""Greedy layer-wise pretraining with autoencoders, the notes' first remedy for vanishing gradients.

Before deep nets trained well from random weights, they were initialised one layer at a
time without labels (Hinton et al., 2006; Bengio et al., 2007): train the first layer as
the encoder of an autoencoder that reconstructs the input, freeze it, feed the data
through it, train the second layer to reconstruct *those* codes, and so on. Each layer
starts from weights that preserve the information in its input instead of from noise;
supervised fine-tuning of the whole stack (with a classifier on top) follows.

:func:`pretrain_greedy` does the unsupervised part; fine-tuning is an ordinary training
loop over ``Sequential(*encoders, head)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from .data import BatchLoader
from .init import RNGLike, make_rng
from .layers import Linear
from .losses import BCEWithLogitsLoss, Loss, MSELoss
from .module import Array, Module
from .optim import Adam

Reconstruction = Literal["bce", "mse"]


def pretrain_greedy(
    encoders: Sequence[Module],
    x: Array,
    *,
    reconstruction: Reconstruction | Sequence[Reconstruction] = "bce",
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    rng: RNGLike = None,
) -> list[list[float]]:
    """Train each encoder as half of an autoencoder on the codes of the ones before it.

    For encoder ``k``: its input ``x_k`` is ``x`` for ``k = 0`` and otherwise the output
    of encoder ``k - 1`` on ``x_{k-1}`` (computed once, in eval mode, after that encoder
    finished training). A fresh ``Linear`` decoder maps the code back to ``x_k``; encoder
    and decoder minimise the reconstruction loss with Adam for ``epochs`` passes over
    shuffled mini-batches. The decoders are discarded; earlier encoders are not changed
    by later stages.

    Parameters
    ----------
    encoders : sequence of Module
        Each maps ``(N, features_in)`` to ``(N, features_out)``, e.g.
        ``Sequential(Linear(64, 32), Sigmoid())``; trained in place.
    x : ndarray of shape (N, features), float32 or float64
        Unlabelled training inputs, in the encoders' dtype.
    reconstruction : {"bce", "mse"} or a sequence of them, one per encoder
        ``"bce"``: a sigmoid decoder and the cross-entropy between reconstruction and
        input, for inputs in [0, 1] such as pixel intensities and sigmoid codes (the
        classic choice for stacked sigmoid autoencoders). ``"mse"``: a linear decoder and
        the squared error, for real-valued inputs.
    epochs : int
        Passes over the data per layer.
    batch_size : int
        Samples per update (all of them if larger than N).
    lr : float
        Adam learning rate.
    rng : int, Generator or None
        Seeds the decoders' initialisation and the batch order.

    Returns
    -------
    list of list of float
        ``losses[k][e]``: mean reconstruction loss of layer ``k`` over epoch ``e``.

    Raises
    ------
    ValueError
        If ``encoders`` is empty, ``x`` is not a non-empty 2-D array, ``epochs`` or
        ``batch_size`` is below 1, an encoder does not return ``(N, features)``, or a
        ``"bce"`` layer gets inputs outside [0, 1].

    Notes
    -----
    Sigmoid codes lie in (0, 1), so ``"bce"`` suits every layer after the first. It also
    matters in practice: on the six-layer net of ``examples/notes_pretraining.py``,
    linear decoders with squared error let the codes' spread shrink from layer to layer
    (mean standard deviation 0.07 after the first layer, 0.001 after the sixth) and
    fine-tuning stayed at chance, while sigmoid decoders with cross-entropy kept it
    (0.24 to 0.27) and fine-tuning learnt the task.
    """
    if not encoders:
        raise ValueError("pretrain_greedy: expected at least one encoder")
    for index, encoder in enumerate(encoders):
        if not isinstance(encoder, Module):
            raise TypeError(
                f"pretrain_greedy: encoder {index} must be a Module, got {type(encoder).__name__}"
            )
    inputs = np.asarray(x)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(f"pretrain_greedy: expected x of shape (N, features), got {inputs.shape}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"pretrain_greedy: epochs and batch_size must be >= 1, got {epochs} and {batch_size}"
        )
    kinds = [reconstruction] * len(encoders) if isinstance(reconstruction, str) else reconstruction
    if len(kinds) != len(encoders) or any(kind not in ("bce", "mse") for kind in kinds):
        raise ValueError(
            "pretrain_greedy: reconstruction must be 'bce', 'mse' or one of them per encoder "
            f"({len(encoders)}), got {reconstruction!r}"
        )
    generator = make_rng(rng)
    history = []
    for index, (encoder, kind) in enumerate(zip(encoders, kinds, strict=True)):
        if kind == "bce" and not (inputs.min() >= 0 and inputs.max() <= 1):
            raise ValueError(
                f"pretrain_greedy: the inputs of layer {index} span [{inputs.min():.3g}, "
                f"{inputs.max():.3g}]; reconstruction 'bce' needs values in [0, 1] (scale "
                "them, or use 'mse')"
            )
        history.append(
            _train_autoencoder(index, encoder, inputs, kind, epochs, batch_size, lr, generator)
        )
        inputs = _encode(index, encoder, inputs, batch_size)
    return history


def _train_autoencoder(
    index: int,
    encoder: Module,
    inputs: Array,
    kind: Reconstruction,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
) -> list[float]:
    """Fit ``encoder`` + a new decoder to reconstruct ``inputs``; mean loss per epoch.

    The decoder is a Linear layer; for ``"bce"`` its outputs are logits and the sigmoid
    sits inside the loss (``BCEWithLogitsLoss`` with the inputs as soft targets).
    """
    features = inputs.shape[1]
    encoder.eval()  # a one-sample probe of the code size; eval mode suits BatchNorm
    code = _check_code(index, encoder, encoder.forward(inputs[:1]), inputs[:1].shape)
    encoder.train()
    decoder = Linear(code.shape[1], features, dtype=inputs.dtype, rng=rng)
    optimizer = Adam([encoder, decoder], lr=lr)
    criterion: Loss = BCEWithLogitsLoss() if kind == "bce" else MSELoss()
    loader = BatchLoader(inputs, batch_size=min(batch_size, len(inputs)), rng=rng)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for (batch,) in loader:
            optimizer.zero_grad()
            reconstruction = decoder.forward(encoder.forward(batch))
            total += criterion.forward(reconstruction, batch) * len(batch)
            encoder.backward(decoder.backward(criterion.backward()))
            optimizer.step()
        losses.append(total / len(inputs))
    return losses


def _encode(index: int, encoder: Module, inputs: Array, batch_size: int) -> Array:
    """The codes of a trained encoder (eval mode), computed in batches: (N, code)."""
    encoder.eval()
    codes = [encoder.forward(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    encoder.train()
    return _check_code(index, encoder, np.concatenate(codes), inputs.shape)


def _check_code(index: int, encoder: Module, code: Array, input_shape: tuple[int, ...]) -> Array:
    if code.ndim != 2 or code.shape[0] != input_shape[0]:
        raise ValueError(
            f"pretrain_greedy: encoder {index} ({encoder.label()}) maps {input_shape} to "
            f"{code.shape}; expected ({input_shape[0]}, features)"
        )
    return code
