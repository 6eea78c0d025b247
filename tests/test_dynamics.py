"""Langevin engine and path weights against analytic answers."""

import math
from functools import partial

import pytest
import torch
from scipy import stats

from thermonn.dynamics import (
    log_path_ratio,
    onsager_machlup_action,
    quartic_action_grad,
    simulate_langevin,
    unit_heat,
)
from thermonn.functional.potentials import quartic_force, quartic_potential


def _machine(n=5, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64) * scale
    coupling = (a + a.T).fill_diagonal_(0.0)
    bias = torch.randn(n, generator=g, dtype=torch.float64) * scale
    return coupling, bias


def test_free_particle_displacement_is_gaussian_with_variance_2_mu_kT_t():
    g = torch.Generator().manual_seed(1)
    x0 = torch.zeros(4000, 1, dtype=torch.float64)
    out = simulate_langevin(
        x0, torch.zeros_like, steps=50, dt=0.01, mobility=0.5, kT=2.0, generator=g
    )
    var = 2 * 0.5 * 2.0 * 0.5  # 2 mu kT t
    assert stats.kstest(out.final[:, 0].numpy(), "norm", args=(0, math.sqrt(var))).pvalue > 0.01


def test_harmonic_well_matches_the_exact_euler_maruyama_stationary_law():
    # x' = (1 - a) x + sqrt(2 mu kT dt) xi with a = mu k dt: variance kT / (k (1 - a / 2))
    k, mu, kT, dt = 2.0, 1.0, 0.7, 0.05
    g = torch.Generator().manual_seed(2)
    x0 = torch.zeros(4000, 1, dtype=torch.float64)
    out = simulate_langevin(x0, lambda x: -k * x, steps=300, dt=dt, mobility=mu, kT=kT, generator=g)
    var = kT / (k * (1 - mu * k * dt / 2))
    assert stats.kstest(out.final[:, 0].numpy(), "norm", args=(0, math.sqrt(var))).pvalue > 0.01
    # and not the continuous-time law kT / k, which this many samples tell apart
    assert abs(out.final.var().item() - var) < abs(out.final.var().item() - kT / k)


def test_action_per_step_per_unit_is_one_half_on_own_trajectories():
    coupling, bias = _machine()
    force = partial(quartic_force, j2=1.0, j4=1.0, bias=bias, coupling=coupling)
    g = torch.Generator().manual_seed(3)
    x0 = torch.zeros(2000, 5, dtype=torch.float64)
    path = simulate_langevin(x0, force, steps=50, dt=1e-2, kT=1.5, record=True, generator=g).path
    u = onsager_machlup_action(path, force, dt=1e-2, kT=1.5)
    assert u.mean().item() / (50 * 5) == pytest.approx(0.5, abs=0.005)


def test_clamped_units_do_not_move_and_carry_no_action():
    coupling, bias = _machine()
    force = partial(quartic_force, j2=1.0, j4=1.0, bias=bias, coupling=coupling)
    mobile = torch.tensor([False, False, True, True, True])
    x0 = torch.randn(10, 5, dtype=torch.float64)
    path = simulate_langevin(
        x0,
        force,
        steps=20,
        dt=1e-2,
        mobile=mobile,
        record=True,
        generator=torch.Generator().manual_seed(4),
    ).path
    torch.testing.assert_close(path[:, :, :2], x0[:, :2].expand(21, 10, 2))
    u_all = onsager_machlup_action(path, force, dt=1e-2, mobile=mobile)
    u_mobile = onsager_machlup_action(
        path[..., 2:],
        lambda x: force(torch.cat([x0[:, :2].expand(*x.shape[:-1], 2), x], -1))[..., 2:],
        dt=1e-2,
    )
    torch.testing.assert_close(u_all, u_mobile)


def test_clock_speed_scaling_is_exact_for_the_discrete_scheme():
    # (lambda V, lambda kT) run for time t / lambda: the same Euler-Maruyama steps as (V, kT) for t
    coupling, bias = _machine()
    force = partial(quartic_force, j2=1.0, j4=1.0, bias=bias, coupling=coupling)
    lam = 8.0
    x0 = torch.zeros(100, 5, dtype=torch.float64)
    slow = simulate_langevin(
        x0, force, steps=40, dt=1e-2, kT=0.5, generator=torch.Generator().manual_seed(5)
    )
    fast = simulate_langevin(
        x0,
        lambda x: lam * force(x),
        steps=40,
        dt=1e-2 / lam,
        kT=0.5 * lam,
        generator=torch.Generator().manual_seed(5),
    )
    torch.testing.assert_close(fast.final, slow.final, rtol=1e-10, atol=1e-12)


def _errors_against_heat(estimate, seed):
    """Mean relative error of ``estimate(path, force, dt)`` against V(x_0) − V(x_K) (kT = 1) on
    trajectories of length 0.2 at Δt = 1e-2, 1e-3, 1e-4."""
    coupling, bias = _machine(scale=0.5)
    force = partial(quartic_force, j2=1.0, j4=1.0, bias=bias, coupling=coupling)
    energy = partial(quartic_potential, j2=1.0, j4=1.0, bias=bias, coupling=coupling)
    errors = []
    for dt in (1e-2, 1e-3, 1e-4):
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(200, 5, generator=g, dtype=torch.float64)
        path = simulate_langevin(
            x0, force, steps=round(0.2 / dt), dt=dt, kT=1.0, record=True, generator=g
        ).path
        heat = energy(path[0]) - energy(path[-1])
        errors.append(((estimate(path, force, dt) - heat).abs().mean() / heat.abs().mean()).item())
    return errors


def test_log_path_ratio_tends_to_the_heat():
    errors = _errors_against_heat(lambda path, f, dt: log_path_ratio(path, f, dt=dt), seed=6)
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02


def test_analytic_action_gradient_matches_autograd_and_finite_differences():
    n, j2, j4, dt, kT = 5, 1.0, 1.0, 1e-2, 0.8
    coupling, bias = _machine(n)
    mobile = torch.tensor([False, True, True, True, True])
    force = partial(quartic_force, j2=j2, j4=j4, bias=bias, coupling=coupling)
    x0 = torch.randn(30, n, dtype=torch.float64)
    path = simulate_langevin(
        x0,
        force,
        steps=25,
        dt=dt,
        kT=kT,
        mobile=mobile,
        record=True,
        generator=torch.Generator().manual_seed(7),
    ).path
    grad_b, grad_j = quartic_action_grad(
        path, coupling, bias, j2=j2, j4=j4, dt=dt, kT=kT, mobile=mobile
    )

    upper = coupling.triu(1).clone().requires_grad_(True)  # one parameter per bond
    b = bias.clone().requires_grad_(True)

    def total(upper: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        j = upper.triu(1) + upper.triu(1).T
        f = partial(quartic_force, j2=j2, j4=j4, bias=b, coupling=j)
        return onsager_machlup_action(path, f, dt=dt, kT=kT, mobile=mobile).sum()

    auto_j, auto_b = torch.autograd.grad(total(upper, b), (upper, b))
    torch.testing.assert_close(grad_b, auto_b)
    torch.testing.assert_close(grad_j.triu(1), auto_j.triu(1))
    eps = 1e-6
    for i, j in [(0, 3), (1, 2), (2, 4)]:
        step = torch.zeros_like(upper.detach())
        step[i, j] = eps
        fd = (total(upper.detach() + step, bias) - total(upper.detach() - step, bias)) / (2 * eps)
        assert fd.item() == pytest.approx(grad_j[i, j].item(), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": 0.1, "kT": -1.0}, "kT"),
        ({"dt": 0.1, "mobility": 0.0}, "mobility"),
        ({"dt": 0.1, "steps": -1}, "steps"),
    ],
)
def test_bad_arguments(kwargs, match):
    options = {"steps": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_langevin(torch.zeros(2, 2), torch.zeros_like, **options)
    with pytest.raises(ValueError, match="x0"):
        simulate_langevin(torch.tensor([float("nan")]), torch.zeros_like, steps=1, dt=0.1)


def test_unit_heats_sum_to_the_potential_drop():
    errors = _errors_against_heat(lambda path, f, dt: unit_heat(path, f).sum(-1), seed=8)
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01


def test_affine_force_takes_the_fused_path_with_the_same_values_and_gradients():
    # F(x) = x M + c − 4x³ as an AffineForce (one addmm per step) and as a plain callable
    # (generic update) must give the same path from the same noise, and the same pathwise
    # gradient with respect to the parameters (the distillation trainer differentiates it)
    from thermonn.dynamics import AffineForce

    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    matrix = (-(a @ a.T) / 4).requires_grad_()
    offset = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    x0 = torch.randn(3, 4, generator=g, dtype=torch.float64)

    def cube(x):
        return x.pow(3)

    affine = AffineForce(matrix, offset, local=cube, local_scale=-4.0)
    results = []
    for force in (affine, lambda x: offset + x @ matrix - 4.0 * x.pow(3)):
        out = simulate_langevin(
            x0, force, steps=50, dt=1e-2, kT=0.7, generator=torch.Generator().manual_seed(1)
        ).final
        grads = torch.autograd.grad(out.square().sum(), [matrix, offset])
        results.append((out.detach(), *grads))
    for fused, plain in zip(*results, strict=True):
        torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(affine(x0), offset + x0 @ matrix - 4.0 * x0.pow(3))
