"""TNGD, GGN-vector products and Lanczos f(A)v against dense oracles."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from thermonn.linalg import lanczos_function
from thermonn.optim import TNGD, GGNOperator
from thermonn.train import train_minibatch

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(d, 2 * d, dtype=F64, generator=g)
    return x @ x.T / (2 * d) + 0.05 * torch.eye(d, dtype=F64)


def _apply(a: torch.Tensor, v: torch.Tensor, f) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(a)
    scale = f(values) if v.dim() == 1 else f(values).unsqueeze(-1)
    return vectors @ (scale * (vectors.T @ v))


@pytest.mark.parametrize(
    "f",
    [
        lambda lam: torch.exp(-3.0 * lam),
        lambda lam: -torch.expm1(-5.0 * lam) / lam,
        lambda lam: torch.sqrt((1 - torch.exp(-2 * lam)) / lam),
        lambda lam: 1.0 / lam,
    ],
    ids=["exp", "phi", "noise", "inverse"],
)
def test_lanczos_matches_the_eigendecomposition(f):
    a = _spd(40, 0)
    v = torch.randn(40, dtype=F64, generator=torch.Generator().manual_seed(1))
    result = lanczos_function(lambda x: a @ x, v, f, tol=1e-12, max_iter=40)
    exact = _apply(a, v, f)
    assert result.converged
    assert float((result.value - exact).norm() / exact.norm()) < 1e-9


def test_lanczos_is_exact_on_an_invariant_space():
    # three distinct eigenvalues: the Krylov space is invariant after three products
    q, _ = torch.linalg.qr(
        torch.randn(12, 12, dtype=F64, generator=torch.Generator().manual_seed(2))
    )
    a = q @ torch.diag(torch.tensor([1.0] * 4 + [2.0] * 4 + [5.0] * 4, dtype=F64)) @ q.T
    v = torch.randn(12, dtype=F64, generator=torch.Generator().manual_seed(3))
    result = lanczos_function(lambda x: a @ x, v, torch.exp, tol=1e-30, max_iter=12)
    assert result.iterations == 3 and result.converged
    assert torch.allclose(result.value, torch.linalg.matrix_exp(a) @ v, atol=1e-12)


def _classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()


def _data(n: int = 24):
    g = torch.Generator().manual_seed(4)
    return torch.randn(n, 4, dtype=F64, generator=g), torch.randint(0, 3, (n,), generator=g)


def _dense_ggn(model: nn.Module, x: torch.Tensor, loss, damping: float) -> torch.Tensor:
    """JᵀHJ + λI with J from torch.autograd.functional.jacobian and H the Hessian of the
    actual torch loss in the outputs: an oracle independent of the operator's rules."""
    params = [p.detach() for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]

    def outputs_of(*flat):
        return torch.func.functional_call(model, dict(zip(names, flat, strict=True)), (x,))

    out = outputs_of(*params)
    jac = torch.autograd.functional.jacobian(outputs_of, tuple(params))
    j = torch.cat([jj.reshape(out.numel(), -1) for jj in jac], dim=1)
    h = torch.autograd.functional.hessian(lambda o: loss(o.view_as(out)), out.reshape(-1))
    return j.T @ h @ j + damping * torch.eye(j.shape[1], dtype=F64)


@pytest.mark.parametrize("rule", ["cross_entropy", "mse", "bce_with_logits"])
def test_ggn_products_match_the_dense_ggn(rule):
    model = _classifier()
    x, y = _data()
    losses = {
        "cross_entropy": lambda o: F.cross_entropy(o, y),
        "mse": lambda o: F.mse_loss(o, torch.ones_like(o)),
        "bce_with_logits": lambda o: F.binary_cross_entropy_with_logits(o, torch.ones_like(o) / 2),
    }
    reference = _dense_ggn(model, x, losses[rule], 0.3)
    op = GGNOperator(model, (x,), output_hessian=rule, damping=0.3)
    v = torch.randn(op.size, dtype=F64, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(op.matvec(v), reference @ v, rtol=1e-10, atol=1e-12)
    assert torch.allclose(op.dense(), reference, rtol=1e-10, atol=1e-12)


def _one_step(optimizer_for, model: nn.Module, x, y) -> torch.Tensor:
    """The parameter change of one step, flat."""
    opt = optimizer_for(model)
    before = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]) - before


def _gradient(model: nn.Module, x, y) -> torch.Tensor:
    model = copy.deepcopy(model)
    F.cross_entropy(model(x), y).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def test_infinite_time_without_noise_is_exact_natural_gradient():
    model, (x, y) = _classifier(), _data()
    fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.1)
    natural = torch.linalg.solve(fisher, _gradient(model, x, y))
    for solver in ("krylov", "dense"):
        step = _one_step(
            lambda m, s=solver: TNGD(m, lr=1.0, time=math.inf, damping=0.1, solver=s, tol=1e-12),
            copy.deepcopy(model), x, y,
        )  # fmt: skip
        assert float((-step - natural).norm() / natural.norm()) < 1e-6


def test_zero_time_is_gradient_descent():
    model, (x, y) = _classifier(), _data()
    step = _one_step(lambda m: TNGD(m, lr=0.3, time=0.0), copy.deepcopy(model), x, y)
    assert torch.allclose(step, -0.3 * _gradient(model, x, y), rtol=0, atol=1e-15)


@pytest.mark.parametrize("t", [0.5, 5.0, 50.0])
def test_finite_time_is_the_exact_ou_mean(t):
    """g(t) = ∇ℓ + φ_t(F)(∇ℓ − F∇ℓ) from a cold start, φ_t(λ) = (1 − e^{−λt})/λ."""
    model, (x, y) = _classifier(), _data()
    fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.05)
    grad = _gradient(model, x, y)
    expected = grad + _apply(fisher, grad - fisher @ grad, lambda lam: -torch.expm1(-lam * t) / lam)
    step = _one_step(
        lambda m: TNGD(m, lr=1.0, time=t, damping=0.05, warm_start=False, tol=1e-12),
        copy.deepcopy(model), x, y,
    )  # fmt: skip
    assert float((-step - expected).norm() / expected.norm()) < 1e-8


def test_warm_start_continues_from_the_previous_g():
    model, (x, y) = _classifier(), _data()
    opt = TNGD(model, lr=0.5, time=2.0, damping=0.1, tol=1e-12)
    g_previous = None
    for _ in range(2):
        fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.1)
        grad = _gradient(model, x, y)
        start = grad if g_previous is None else g_previous
        expected = start + _apply(
            fisher, grad - fisher @ start, lambda lam: -torch.expm1(-2.0 * lam) / lam
        )
        before = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        g = (before - torch.cat([p.detach().reshape(-1) for p in model.parameters()])) / 0.5
        assert float((g - expected).norm() / expected.norm()) < 1e-8
        g_previous = g


def test_noise_has_the_exact_ou_covariance():
    """Cov g(t) = κ F⁻¹(I − e^{−2Ft}) over many device runs from the same state."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(10, 3, dtype=F64), torch.randint(0, 2, (10,))
    kappa, t = 0.2, 1.5
    fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.2)
    expected = _apply(
        fisher,
        torch.eye(len(fisher), dtype=F64),
        lambda lam: -kappa * torch.expm1(-2 * lam * t) / lam,
    )
    opt = TNGD(model, lr=1.0, time=t, damping=0.2, kappa=kappa, warm_start=False, tol=1e-12,
               generator=torch.Generator().manual_seed(6))  # fmt: skip
    start = [p.detach().clone() for p in model.parameters()]
    draws = []
    for _ in range(2500):
        with torch.no_grad():
            for p, s in zip(model.parameters(), start, strict=True):
                p.copy_(s)
        before = torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        draws.append(before - torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    sample = torch.cov(torch.stack(draws).T)
    # entry-wise standard error of a sample covariance: √((Σ_ii Σ_jj + Σ_ij²) / n)
    diag = torch.diagonal(expected)
    se = torch.sqrt((diag[:, None] * diag[None, :] + expected.square()) / 2500)
    assert float(((sample - expected).abs() / se).max()) < 5.0


def test_tngd_adam_is_adam_fed_with_g():
    model, (x, y) = _classifier(), _data()
    twin = copy.deepcopy(model)
    fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.1)
    opt = TNGD(
        model, lr=0.01, time=math.inf, damping=0.1, update="adam", warm_start=False, tol=1e-12
    )
    adam = torch.optim.Adam(twin.parameters(), lr=0.01)
    for _ in range(3):
        fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.1)
        natural = torch.linalg.solve(fisher, _gradient(model, x, y))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for p, g in zip(
            twin.parameters(), natural.split([p.numel() for p in twin.parameters()]), strict=True
        ):
            p.grad = g.view_as(p).clone()
        adam.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-9)


def test_gauss_newton_solves_linear_least_squares_in_one_step():
    """For a linear model and the squared error, NGD with λ → 0 and lr = 1 lands on the
    least-squares solution in one full-batch step — through the shared training loop."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(50, 4, dtype=F64, generator=g)
    y = x @ torch.randn(4, 2, dtype=F64, generator=g) + 0.1 * torch.randn(
        50, 2, dtype=F64, generator=g
    )
    model = nn.Linear(4, 2, bias=False).double()
    opt = TNGD(model, lr=1.0, time=math.inf, damping=1e-10, output_hessian="mse", tol=1e-13)
    train_minibatch(
        lambda rows: F.mse_loss(model(x[rows]), y[rows]), 50, opt,
        epochs=1, batch_size=50, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    solution = torch.linalg.lstsq(x, y).solution
    assert torch.allclose(model.weight.T, solution, atol=1e-8)


def test_state_dict_round_trip_continues_identically():
    model, (x, y) = _classifier(), _data()
    opt = TNGD(model, lr=0.1, time=3.0, damping=0.1, update="adam")
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    twin = copy.deepcopy(model)
    twin_opt = TNGD(twin, lr=0.1, time=3.0, damping=0.1, update="adam")
    twin_opt.load_state_dict(opt.state_dict())
    for m, o in ((model, opt), (twin, twin_opt)):
        loss = F.cross_entropy(m(x), y)
        o.zero_grad()
        loss.backward()
        o.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, "lr"),
        ({"time": -1.0}, "time"),
        ({"damping": -0.1}, "damping"),
        ({"kappa": -1.0}, "kappa"),
        ({"update": "rmsprop"}, "update"),
        ({"solver": "cg"}, "solver"),
        ({"output_hessian": "hinge"}, "output_hessian"),
        ({"betas": (0.9, 1.0)}, "betas"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TNGD(_classifier(), **kwargs)


def test_step_before_a_forward_pass_is_refused():
    model = _classifier()
    opt = TNGD(model)
    with pytest.raises(RuntimeError, match="forward"):
        opt.step()


def test_a_diverged_gradient_passes_through_as_nan():
    model, (x, y) = _classifier(), _data()
    opt = TNGD(model, lr=0.1)
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    next(model.parameters()).grad[0, 0] = math.inf
    opt.step()
    assert not opt.last_step.converged
    assert all(bool(torch.isnan(p).all()) for p in model.parameters())


def test_batchnorm_in_training_mode_keeps_its_running_statistics_to_the_user_forward():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()
    x, y = _data()
    opt = TNGD(model, lr=0.1, time=5.0, damping=0.1)
    loss = F.cross_entropy(model(x), y)  # the one forward that may move the statistics
    after_forward = model[1].running_mean.clone()
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert opt.last_step.converged and opt.last_step.ggn_products > 1
    assert torch.equal(model[1].running_mean, after_forward)  # GGN products did not move them


def test_a_parameter_frozen_after_construction_keeps_the_optimisers_space():
    model, (x, y) = _classifier(), _data()
    opt = TNGD(model, lr=0.1, time=2.0, damping=0.1)
    model[0].bias.requires_grad_(False)
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()  # the frozen bias has no gradient: a zero one, in the same flat space
    assert opt.last_step.converged


def test_a_singular_natural_gradient_is_refused():
    with pytest.raises(ValueError, match="damping"):
        TNGD(_classifier(), time=math.inf, damping=0.0)


def test_the_cross_entropy_rule_refuses_dense_prediction_logits():
    op = GGNOperator(nn.Conv2d(2, 3, 1).double(), (torch.randn(4, 2, 5, 5, dtype=F64),))
    with pytest.raises(ValueError, match="cross_entropy"):
        op.matvec(torch.randn(op.size, dtype=F64))


@pytest.mark.parametrize(
    ("kwargs", "error"), [({"betas": 0.9}, TypeError), ({"generator": 3}, TypeError)]
)
def test_bad_option_types_are_refused(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        TNGD(_classifier(), **kwargs)


def test_a_state_dict_carries_the_update_rule():
    model, (x, y) = _classifier(), _data()
    opt = TNGD(model, lr=0.1, update="adam")
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    other = TNGD(copy.deepcopy(model), lr=0.1, update="sgd")
    other.load_state_dict(opt.state_dict())
    assert other.param_groups[0]["update"] == "adam"


def test_a_float32_model_takes_the_float64_natural_gradient_step_to_float32_accuracy():
    model, (x, y) = _classifier(), _data()
    fisher = _dense_ggn(model, x, lambda o: F.cross_entropy(o, y), 0.1)
    natural = torch.linalg.solve(fisher, _gradient(model, x, y))
    single = copy.deepcopy(model).float()
    step = _one_step(
        lambda m: TNGD(m, lr=1.0, time=math.inf, damping=0.1, tol=1e-7), single, x.float(), y
    )
    assert step.dtype == torch.float32
    assert float((-step.double() - natural).norm() / natural.norm()) < 1e-4
