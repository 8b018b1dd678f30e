"""Shared helpers for the evaluator.nn tests: compare a NumPy layer with PyTorch.

In the spirit of tinygrad's ``helper_test_op``: one call runs the same input through our
layer and the torch reference (parameters copied across), then compares the output, the
gradient of every input and the gradient of every parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from evaluator.nn import Module

REL_TOL = 1e-6


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """CS231n's elementwise relative error ``max(|x - y| / max(1e-8, |x| + |y|))``."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert x.shape == y.shape, f"shapes differ: {x.shape} vs {y.shape}"
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def assert_close(ours: np.ndarray, theirs: np.ndarray, what: str, tol: float = REL_TOL) -> None:
    err = rel_error(ours, theirs)
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol:g}"


def copy_params_to_torch(
    ours: Module, theirs: torch.nn.Module, names: dict[str, str] | None = None
) -> dict[str, torch.nn.Parameter]:
    """Copy every parameter of ``ours`` into ``theirs``; return ``our name -> torch param``.

    ``names`` maps our parameter names to torch's where they differ.
    """
    torch_params = dict(theirs.named_parameters())
    mapping = {}
    for name, owner, key in ours.named_parameters():
        torch_name = (names or {}).get(name, name)
        assert torch_name in torch_params, f"torch has no parameter {torch_name!r}"
        param = torch_params[torch_name]
        assert tuple(param.shape) == owner.params[key].shape, f"{name}: shapes differ"
        with torch.no_grad():
            param.copy_(torch.from_numpy(owner.params[key].copy()))
        mapping[name] = param
    ours_count = sum(1 for _ in ours.named_parameters())
    assert ours_count == len(torch_params), (
        f"parameter sets differ: ours {[n for n, _, _ in ours.named_parameters()]}, "
        f"torch {list(torch_params)}"
    )
    return mapping


def compare_with_torch(
    ours: Module,
    theirs: torch.nn.Module | Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    names: dict[str, str] | None = None,
    seed: int = 0,
    tol: float = REL_TOL,
) -> None:
    """Forward and backward through both; compare output, input grads and param grads."""
    if isinstance(theirs, torch.nn.Module):
        theirs = theirs.double()
        torch_params = copy_params_to_torch(ours, theirs, names)
    else:
        torch_params = {}
    t_inputs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    y = ours.forward(*inputs)
    ty = theirs(*t_inputs)
    assert y.dtype == np.float64
    assert_close(y, ty.detach().numpy(), "output", tol)
    upstream = np.random.default_rng(seed).standard_normal(y.shape)
    ours.zero_grad()
    dx = ours.backward(upstream)
    ty.backward(torch.from_numpy(upstream))
    dxs = dx if isinstance(dx, tuple) else (dx,)
    assert len(dxs) == len(inputs)
    for i, (ours_dx, t_in) in enumerate(zip(dxs, t_inputs, strict=True)):
        assert_close(ours_dx, t_in.grad.numpy(), f"grad of input {i}", tol)
    for name, owner, key in ours.named_parameters():
        assert_close(owner.grads[key], torch_params[name].grad.numpy(), f"grad of {name}", tol)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def torch_compare() -> Callable[..., None]:
    """:func:`compare_with_torch`, as a fixture so test modules need no import path."""
    return compare_with_torch


@pytest.fixture
def close() -> Callable[..., None]:
    """:func:`assert_close`: elementwise relative error at most 1e-6 by default."""
    return assert_close
