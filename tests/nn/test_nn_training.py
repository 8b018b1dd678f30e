"""Training pieces against PyTorch: parameter counts, optimizers, schedules, clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import evaluator.nn as nn


def bottleneck():
    return nn.Sequential(
        nn.Conv2d(256, 64, 1, bias=False),
        nn.Conv2d(64, 64, 3, padding=1, bias=False),
        nn.Conv2d(64, 256, 1, bias=False),
    )


def test_bottleneck_parameter_counts_from_the_notes():
    plain = nn.Sequential(
        nn.Conv2d(256, 256, 3, padding=1, bias=False),
        nn.Conv2d(256, 256, 3, padding=1, bias=False),
    )
    # The notes: 1x1x256x64 + 3x3x64x64 + 1x1x64x256 = 69632 vs 3x3x256x256x2 = 1179648.
    assert nn.count_parameters(bottleneck()) == 69_632
    assert nn.count_parameters(plain) == 1_179_648
    torch_bottleneck = torch.nn.Sequential(
        torch.nn.Conv2d(256, 64, 1, bias=False),
        torch.nn.Conv2d(64, 64, 3, padding=1, bias=False),
        torch.nn.Conv2d(64, 256, 1, bias=False),
    )
    assert nn.count_parameters(bottleneck()) == sum(
        p.numel() for p in torch_bottleneck.parameters()
    )


def test_count_parameters_counts_shared_arrays_once():
    layer = nn.Linear(3, 2)
    assert nn.count_parameters([layer, layer]) == 8
    assert nn.count_parameters(nn.WeightNorm(nn.Linear(3, 2))) == 2 + 6 + 2  # g, v, bias


def test_gradients_accumulate_until_zero_grad(rng):
    layer = nn.Linear(3, 2, rng=0)
    x = rng.standard_normal((4, 3))
    layer.forward(x)
    layer.backward(np.ones((4, 2)))
    once = layer.grads["weight"].copy()
    layer.forward(x)
    layer.backward(np.ones((4, 2)))
    np.testing.assert_allclose(layer.grads["weight"], 2 * once)
    layer.zero_grad()
    assert not layer.grads["weight"].any()


def make_models(seed=0):
    ours = nn.Sequential(nn.Linear(4, 5, rng=seed), nn.Tanh(), nn.Linear(5, 2, rng=seed + 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    theirs = theirs.double()
    with torch.no_grad():
        for (_, owner, key), param in zip(
            ours.named_parameters(), theirs.parameters(), strict=True
        ):
            param.copy_(torch.from_numpy(owner.params[key]))
    return ours, theirs


OPTIMIZERS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), OPTIMIZERS, ids=lambda v: str(v))
def test_optimizer_steps_match_torch(close, rng, name, kwargs):
    ours, theirs = make_models()
    opt = getattr(nn, name)(ours, **kwargs)
    t_opt = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    loss, t_loss = nn.MSELoss(), torch.nn.MSELoss()
    for step in range(6):
        x, y = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
        opt.zero_grad()
        t_opt.zero_grad()
        loss.forward(ours.forward(x), y)
        ours.backward(loss.backward())
        t_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
        t_opt.step()
        for (pname, owner, key), param in zip(
            ours.named_parameters(), theirs.parameters(), strict=True
        ):
            close(owner.params[key], param.detach().numpy(), f"step {step}: {pname}")


def torch_optimizer(lr=0.5):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def our_optimizer(lr=0.5):
    return nn.SGD(nn.Linear(1, 1), lr=lr)


@pytest.mark.parametrize(
    ("make", "make_torch"),
    [
        (lambda o: nn.StepLR(o, 3, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
        (
            lambda o: nn.CosineAnnealingLR(o, T_max=10),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
        ),
        (
            lambda o: nn.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        ),
        (
            lambda o: nn.LinearLR(o, 0.1, 1.0, 4),
            lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 4),
        ),
        (
            lambda o: nn.cosine_with_warmup(o, warmup_steps=3, total_steps=12, eta_min=0.001),
            lambda o: torch.optim.lr_scheduler.SequentialLR(
                o,
                [
                    torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, 3),
                    torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=9, eta_min=0.001),
                ],
                milestones=[3],
            ),
        ),
    ],
    ids=["step", "cosine", "cosine-eta-min", "linear", "warmup-cosine"],
)
def test_schedules_match_torch(close, make, make_torch):
    opt, t_opt = our_optimizer(), torch_optimizer()
    sched, t_sched = make(opt), make_torch(t_opt)
    ours, theirs = [opt.lr], [t_opt.param_groups[0]["lr"]]
    # Well past T_max: both continue the cosine periodically.
    for _ in range(30):
        t_opt.step()
        sched.step()
        t_sched.step()
        ours.append(opt.lr)
        theirs.append(t_opt.param_groups[0]["lr"])
    close(np.array(ours), np.array(theirs), "learning rates")
    assert sched.get_last_lr() == [opt.lr]


def test_cosine_schedule_ends_at_eta_min_and_halves_midway():
    opt = our_optimizer(lr=1.0)
    sched = nn.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    lrs = [opt.lr]
    for _ in range(10):
        sched.step()
        lrs.append(opt.lr)
    assert lrs[0] == 1.0 and lrs[5] == pytest.approx(0.5) and lrs[10] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def model_with_grads(rng):
    ours, theirs = make_models()
    for (_, owner, key), param in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        grad = rng.standard_normal(owner.params[key].shape) * 3
        owner.grads[key][...] = grad
        param.grad = torch.from_numpy(grad.copy())
    return ours, theirs


@pytest.mark.parametrize(
    ("max_norm", "norm_type"), [(1.0, 2.0), (100.0, 2.0), (2.0, 1.0), (0.5, math.inf)]
)
def test_clip_grad_norm_matches_torch(close, rng, max_norm, norm_type):
    ours, theirs = model_with_grads(rng)
    total = nn.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    close(np.array(total), t_total.numpy(), "total norm")
    for (name, owner, key), param in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        close(owner.grads[key], param.grad.numpy(), name)


def test_clip_grad_value_matches_torch(close, rng):
    ours, theirs = model_with_grads(rng)
    nn.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 1.5)
    for (name, owner, key), param in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        close(owner.grads[key], param.grad.numpy(), name)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalties_match_torch_autograd(close, rng, kind):
    ours, theirs = make_models()
    ours.zero_grad()
    coeff = 0.03
    value = getattr(nn, f"{kind}_penalty")(ours, coeff)
    weights = [p for p in theirs.parameters() if p.ndim >= 2]  # weights only, no biases
    power = 1 if kind == "l1" else 2
    t_value = coeff * sum((w.abs() ** power).sum() for w in weights)
    t_value.backward()
    close(np.array(value), t_value.detach().numpy(), "penalty")
    for (name, owner, key), param in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        expected = param.grad.numpy() if param.grad is not None else np.zeros(param.shape)
        close(owner.grads[key], expected, name)


def test_l2_penalty_equals_sgd_weight_decay_of_twice_the_coefficient(rng):
    a, _ = make_models()
    b, _ = make_models()
    opt_a, opt_b = nn.SGD(a, lr=0.1), nn.SGD([b[0], b[2]], lr=0.1, weight_decay=0.02)
    x = rng.standard_normal((3, 4))
    for model in (a, b):
        model.zero_grad()
        model.forward(x)
        model.backward(np.ones((3, 2)))
    nn.l2_penalty(a, 0.01, weights_only=False)
    opt_a.step()
    opt_b.step()
    for (name, owner_a, key), (_, owner_b, _) in zip(
        a.named_parameters(), b.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(
            owner_a.params[key], owner_b.params[key], rtol=1e-12, err_msg=name
        )


@pytest.mark.parametrize(
    ("batch_size", "mode", "batches"),
    [(None, "batch", 1), (10, "batch", 1), (1, "stochastic", 10), (4, "mini-batch", 3)],
)
def test_batch_loader_modes(batch_size, mode, batches):
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    loader = nn.BatchLoader(x, y, batch_size=batch_size, rng=0)
    assert loader.mode == mode
    assert len(loader) == batches
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb[:, 0] // 2, yb)  # rows stay aligned
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(10))  # one epoch visits every sample once


def test_batch_loader_is_seeded_and_reshuffles_each_epoch():
    def epochs(seed):
        loader = nn.BatchLoader(np.arange(50), batch_size=50, rng=seed)
        return [next(iter(loader))[0].tolist() for _ in range(2)]

    first, second = epochs(3)
    assert first != second
    assert epochs(3) == [first, second]
    loader = nn.BatchLoader(np.arange(10), batch_size=4, drop_last=True, shuffle=False)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize(
    ("ours", "mode", "nonlinearity", "distribution"),
    [
        (nn.kaiming_normal_, "fan_in", "relu", "normal"),
        (nn.kaiming_normal_, "fan_out", "relu", "normal"),
        (nn.kaiming_uniform_, "fan_in", "leaky_relu", "uniform"),
    ],
)
def test_he_initialisation_statistics(ours, mode, nonlinearity, distribution):
    shape = (64, 32, 3, 3)
    w = ours(np.empty(shape), mode=mode, nonlinearity=nonlinearity, rng=0)
    t_w = torch.empty(shape)
    getattr(torch.nn.init, f"kaiming_{distribution}_")(t_w, mode=mode, nonlinearity=nonlinearity)
    fan = 32 * 9 if mode == "fan_in" else 64 * 9
    std = torch.nn.init.calculate_gain(nonlinearity) / math.sqrt(fan)
    assert w.std() == pytest.approx(std, rel=0.03)
    assert w.std() == pytest.approx(float(t_w.std()), rel=0.05)
    assert abs(w.mean()) < 0.05 * std


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_xavier_initialisation_statistics(distribution):
    shape = (128, 96)
    w = getattr(nn, f"xavier_{distribution}_")(np.empty(shape), gain=2.0, rng=0)
    t_w = torch.empty(shape)
    getattr(torch.nn.init, f"xavier_{distribution}_")(t_w, gain=2.0)
    std = 2.0 * math.sqrt(2.0 / (128 + 96))
    assert w.std() == pytest.approx(std, rel=0.03)
    assert w.std() == pytest.approx(float(t_w.std()), rel=0.05)


def test_initialisers_are_seeded():
    a = nn.kaiming_normal_(np.empty((8, 4)), rng=7)
    np.testing.assert_array_equal(a, nn.kaiming_normal_(np.empty((8, 4)), rng=7))
    assert not np.array_equal(a, nn.kaiming_normal_(np.empty((8, 4)), rng=8))
    np.testing.assert_array_equal(
        nn.Conv2d(3, 4, 3, rng=1).params["weight"], nn.Conv2d(3, 4, 3, rng=1).params["weight"]
    )


def test_default_layer_init_matches_torchs_bound():
    conv = nn.Conv2d(16, 32, 3, rng=0)
    bound = 1 / math.sqrt(16 * 9)  # torch: kaiming_uniform_(a=sqrt(5)) and the bias bound
    for key in ("weight", "bias"):
        values = conv.params[key]
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound


def test_calculate_gain_matches_torch():
    for name, param in [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert nn.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )


def test_mini_batch_training_learns_a_separable_problem():
    data_rng = np.random.default_rng(0)
    x = data_rng.standard_normal((200, 2))
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 8, rng=1), nn.ReLU(), nn.Linear(8, 2, rng=2))
    loss = nn.CrossEntropyLoss()
    opt = nn.SGD(model, lr=0.2, momentum=0.9)
    first = loss.forward(model.forward(x), labels)
    for _ in range(10):
        for xb, yb in nn.BatchLoader(x, labels, batch_size=20, rng=3):
            opt.zero_grad()
            loss.forward(model.forward(xb), yb)
            model.backward(loss.backward())
            opt.step()
    final = loss.forward(model.forward(x), labels)
    accuracy = (model.forward(x).argmax(axis=1) == labels).mean()
    assert final < 0.25 * first
    assert accuracy > 0.95
