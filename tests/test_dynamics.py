"""The dynamics engine (energies, steppers, integrate, path weights) against analytic answers."""

import math
from dataclasses import dataclass
from typing import NamedTuple

import pytest
import torch
from scipy import stats

from thermonn.dynamics import (
    Energy,
    EulerMaruyama,
    Langevin,
    QuadraticEnergy,
    boltzmann,
    integrate,
    log_path_ratio,
    onsager_machlup_action,
    unit_heat,
)
from thermonn.machines import QuarticEnergy


def _quartic(n=5, seed=0, scale=0.3, j2=1.0, j4=1.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64) * scale
    coupling = (a + a.T).fill_diagonal_(0.0)
    bias = torch.randn(n, generator=g, dtype=torch.float64) * scale
    return QuarticEnergy(j2, j4, bias, coupling)


def _run(energy, x0, steps, *, seed, save_every=None, **langevin):
    stepper = EulerMaruyama(energy, Langevin(**langevin))
    g = torch.Generator().manual_seed(seed)
    return integrate(stepper, x0, steps=steps, save_every=save_every, generator=g)


class _Generic(Energy):
    """An energy seen only through force(): the stepper's generic (non-affine) update."""

    def __init__(self, inner):
        self.inner = inner

    def energy(self, x):
        return self.inner.energy(x)

    def force(self, x):
        return self.inner.force(x)


def test_free_particle_displacement_is_gaussian_with_variance_2_mu_kT_t():
    free = QuadraticEnergy(
        torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    )
    x0 = torch.zeros(4000, 1, dtype=torch.float64)
    out = _run(free, x0, 50, seed=1, dt=0.01, mobility=0.5, kT=2.0)
    var = 2 * 0.5 * 2.0 * 0.5  # 2 mu kT t
    assert stats.kstest(out.final[:, 0].numpy(), "norm", args=(0, math.sqrt(var))).pvalue > 0.01


@pytest.mark.parametrize("fused", [True, False])
def test_harmonic_well_matches_the_exact_euler_maruyama_stationary_law(fused):
    # x' = (1 - a) x + sqrt(2 mu kT dt) xi with a = mu k dt: variance kT / (k (1 - a / 2))
    k, mu, kT, dt = 2.0, 1.0, 0.7, 0.05
    well = QuadraticEnergy(
        torch.full((1, 1), k, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    )
    x0 = torch.zeros(4000, 1, dtype=torch.float64)
    out = _run(well if fused else _Generic(well), x0, 300, seed=2, dt=dt, mobility=mu, kT=kT)
    var = kT / (k * (1 - mu * k * dt / 2))
    assert stats.kstest(out.final[:, 0].numpy(), "norm", args=(0, math.sqrt(var))).pvalue > 0.01
    # and not the continuous-time law kT / k, which this many samples tell apart
    assert abs(out.final.var().item() - var) < abs(out.final.var().item() - kT / k)


def test_annealing_schedule_follows_the_exact_variance_recursion():
    # with kT(t) the Euler–Maruyama variance obeys v_{k+1} = (1 - a)² v_k + 2 μ kT(t_k) Δt
    k, dt, steps = 1.5, 0.02, 100
    schedule = lambda t: 2.0 * math.exp(-3.0 * t)  # noqa: E731
    well = QuadraticEnergy(
        torch.full((1, 1), k, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    )
    out = _run(well, torch.zeros(20000, 1, dtype=torch.float64), steps, seed=3, dt=dt, kT=schedule)
    v = 0.0
    for i in range(steps):
        v = (1 - k * dt) ** 2 * v + 2 * schedule(i * dt) * dt
    ks = stats.kstest(out.final[:, 0].numpy(), "norm", args=(0, math.sqrt(v)))
    assert ks.pvalue > 0.01
    # and not the law of the final temperature, which the simulation must not have reached
    settled = schedule(steps * dt) / (k * (1 - k * dt / 2))
    assert out.final.var().item() > 1.5 * settled


def test_time_dependent_energy_drags_a_particle_along_a_moving_trap():
    # a trap centred at m(t) = t, kT = 0: x_{k+1} = x_k + μΔt k (t_k − x_k), exactly
    k, dt, steps = 3.0, 0.01, 50
    precision = torch.full((1, 1), k, dtype=torch.float64)

    def trap(t):
        return QuadraticEnergy(precision, torch.tensor([t], dtype=torch.float64))

    out = _run(trap, torch.zeros(1, 1, dtype=torch.float64), steps, seed=0, dt=dt, kT=0.0)
    x = 0.0
    for i in range(steps):
        x = x + dt * k * (i * dt - x)
    assert out.final.item() == pytest.approx(x, rel=1e-12)


def test_strided_recording_keeps_every_stride_and_the_final_state():
    energy = _quartic()
    x0 = torch.zeros(7, 5, dtype=torch.float64)
    full = _run(energy, x0, 10, seed=4, save_every=1, dt=1e-2, kT=0.5)
    strided = _run(energy, x0, 10, seed=4, save_every=3, dt=1e-2, kT=0.5)
    ends = _run(energy, x0, 10, seed=4, dt=1e-2, kT=0.5)
    torch.testing.assert_close(
        strided.times, torch.tensor([0, 3, 6, 9, 10], dtype=torch.float64) * 1e-2
    )
    torch.testing.assert_close(strided.states, full.states[[0, 3, 6, 9, 10]], rtol=0, atol=0)
    torch.testing.assert_close(ends.states, full.states[[0, 10]], rtol=0, atol=0)
    assert full.states.shape == (11, 7, 5) and ends.final.shape == (7, 5)


class _Flip(NamedTuple):
    x: torch.Tensor  # 0/1 per chain


class TwoStateEnergy(Energy):
    """E(0) = 0, E(1) = gap: the smallest discrete model, enumerable."""

    def __init__(self, gap):
        self.gap = gap

    def energy(self, x):
        return self.gap * x[..., 0].to(torch.float64)

    def states(self):
        return torch.tensor([[0], [1]])


@dataclass(frozen=True)
class Metropolis:
    """A stepper written outside the package: one Metropolis flip proposal per chain per step."""

    energy: Energy
    kT: float
    dt: float = 1.0

    def init(self, x0):
        return _Flip(x0)

    def value(self, state):
        return state.x

    def step(self, state, t, generator):
        proposal = 1 - state.x
        delta = self.energy.energy(proposal) - self.energy.energy(state.x)
        u = torch.rand(delta.shape, generator=generator, dtype=torch.float64)
        accept = (u < torch.exp(-delta / self.kT)).unsqueeze(-1)
        return _Flip(torch.where(accept, proposal, state.x))


def test_a_metropolis_stepper_runs_through_the_same_driver_to_the_exact_law():
    energy, kT = TwoStateEnergy(0.8), 0.5
    _, p = boltzmann(energy, kT)
    out = integrate(
        Metropolis(energy, kT),
        torch.zeros(2000, 1, dtype=torch.int64),
        steps=200,
        save_every=10,
        generator=torch.Generator().manual_seed(5),
    )
    assert out.states.shape == (21, 2000, 1) and out.times[-1] == 200.0
    samples = out.states[5:].flatten()  # after burn-in: 16 × 2000 draws
    n1 = int(samples.sum())
    test = stats.binomtest(n1, samples.numel(), float(p[1]))
    assert test.pvalue > 0.01
    assert float(p[1]) == pytest.approx(math.exp(-0.8 / 0.5) / (1 + math.exp(-0.8 / 0.5)))


class _DoubleWell(Energy):
    """E = a Σ (x² − 1)²: only energy() is defined, the force comes from the base class."""

    def __init__(self, a):
        self.a = a

    def energy(self, x):
        return self.a * (x.square() - 1).square().sum(-1)


def test_the_default_force_is_differentiable_in_the_parameters():
    # F = −4a x (x² − 1); the pathwise gradient through Euler–Maruyama must reach a
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    x = torch.linspace(-1.5, 1.5, 7, dtype=torch.float64).reshape(7, 1)
    well = _DoubleWell(a)
    torch.testing.assert_close(well.force(x), -4 * a * x * (x.square() - 1))
    (grad,) = torch.autograd.grad(well.force(x).sum(), a)
    torch.testing.assert_close(grad, (-4 * x * (x.square() - 1)).sum())

    def final(a):
        stepper = EulerMaruyama(_DoubleWell(a), Langevin(0.05, kT=0.0))
        return integrate(stepper, x, steps=5).final.square().sum()

    (auto,) = torch.autograd.grad(final(a), a)
    eps = 1e-6
    fd = (final(a.detach() + eps) - final(a.detach() - eps)) / (2 * eps)
    assert auto.item() == pytest.approx(fd.item(), rel=1e-6)
    with torch.no_grad():  # without grad mode the force is a plain tensor
        assert not well.force(x).requires_grad


def test_boltzmann_enumeration_and_default_force_by_autograd():
    energy = _quartic()
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    expected = Energy.force(energy, x)  # the base class's −∇E by autograd
    torch.testing.assert_close(energy.force(x), expected)
    torch.testing.assert_close(energy.affine()(x), expected)
    free = QuarticEnergy(1.0, 2.0, energy.field)
    assert free.affine() is None
    torch.testing.assert_close(free.force(x), Energy.force(free, x))
    with pytest.raises(ValueError, match="states"):
        boltzmann(energy, 1.0)


def test_action_per_step_per_unit_is_one_half_on_own_trajectories():
    energy = _quartic()
    x0 = torch.zeros(2000, 5, dtype=torch.float64)
    path = _run(energy, x0, 50, seed=3, save_every=1, dt=1e-2, kT=1.5).states
    u = onsager_machlup_action(path, energy.force, Langevin(1e-2, kT=1.5))
    assert u.mean().item() / (50 * 5) == pytest.approx(0.5, abs=0.005)


def test_clamped_units_do_not_move_and_carry_no_action():
    energy = _quartic()
    mobile = torch.tensor([False, False, True, True, True])
    x0 = torch.randn(10, 5, dtype=torch.float64)
    path = _run(energy, x0, 20, seed=4, save_every=1, dt=1e-2, mobile=mobile).states
    torch.testing.assert_close(path[:, :, :2], x0[:, :2].expand(21, 10, 2))
    u_all = onsager_machlup_action(path, energy.force, Langevin(1e-2, mobile=mobile))
    u_mobile = onsager_machlup_action(
        path[..., 2:],
        lambda x: energy.force(torch.cat([x0[:, :2].expand(*x.shape[:-1], 2), x], -1))[..., 2:],
        Langevin(1e-2),
    )
    torch.testing.assert_close(u_all, u_mobile)


def test_clock_speed_scaling_is_exact_for_the_discrete_scheme():
    # (lambda V, lambda kT) run for time t / lambda: the same Euler-Maruyama steps as (V, kT) for t
    e = _quartic()
    lam = 8.0
    fast_energy = QuarticEnergy(lam * e.j2, lam * e.j4, lam * e.field, lam * e.coupling)
    x0 = torch.zeros(100, 5, dtype=torch.float64)
    slow = _run(e, x0, 40, seed=5, dt=1e-2, kT=0.5)
    fast = _run(fast_energy, x0, 40, seed=5, dt=1e-2 / lam, kT=0.5 * lam)
    torch.testing.assert_close(fast.final, slow.final, rtol=1e-10, atol=1e-12)


def _errors_against_heat(estimate, seed):
    """Mean relative error of ``estimate(path, energy, dt)`` against V(x_0) − V(x_K) (kT = 1)
    on trajectories of length 0.2 at Δt = 1e-2, 1e-3, 1e-4."""
    energy = _quartic(scale=0.5)
    errors = []
    for dt in (1e-2, 1e-3, 1e-4):
        g = torch.Generator().manual_seed(seed)
        x0 = torch.randn(200, 5, generator=g, dtype=torch.float64)
        stepper = EulerMaruyama(energy, Langevin(dt, kT=1.0))
        path = integrate(stepper, x0, steps=round(0.2 / dt), save_every=1, generator=g).states
        heat = energy.energy(path[0]) - energy.energy(path[-1])
        errors.append(((estimate(path, energy, dt) - heat).abs().mean() / heat.abs().mean()).item())
    return errors


def test_log_path_ratio_tends_to_the_heat():
    errors = _errors_against_heat(
        lambda path, e, dt: log_path_ratio(path, e.force, Langevin(dt)), seed=6
    )
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.02


def test_unit_heats_sum_to_the_potential_drop():
    errors = _errors_against_heat(lambda path, e, dt: unit_heat(path, e.force).sum(-1), seed=8)
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01


def test_action_gradient_matches_its_closed_form_and_finite_differences():
    # q_i = (Δx_i + μ ∂_i V Δt) / (2 kT) on mobile units: ∂U/∂b_i = Σ q_i and
    # ∂U/∂J_ij = Σ (q_i x_j + q_j x_i) for each bond i < j (sums over steps and batch)
    n, dt, kT = 5, 1e-2, 0.8
    e = _quartic(n)
    mobile = torch.tensor([False, True, True, True, True])
    x0 = torch.randn(30, n, dtype=torch.float64)
    langevin = Langevin(dt, kT=kT, mobile=mobile)
    path = _run(e, x0, 25, seed=7, save_every=1, dt=dt, kT=kT, mobile=mobile).states
    q = (path[1:] - path[:-1] - dt * e.force(path[:-1])) * mobile / (2 * kT)
    x = path[:-1]
    grad_b = q.sum((0, 1))
    grad_j = torch.einsum("kbi,kbj->ij", q, x)
    grad_j = grad_j + grad_j.T

    def total(upper, b):
        j = upper.triu(1) + upper.triu(1).T
        return onsager_machlup_action(path, QuarticEnergy(1.0, 1.0, b, j).force, langevin).sum()

    upper = e.coupling.triu(1).clone().requires_grad_(True)  # one parameter per bond
    b = e.field.clone().requires_grad_(True)
    auto_j, auto_b = torch.autograd.grad(total(upper, b), (upper, b))
    torch.testing.assert_close(auto_b, grad_b)
    torch.testing.assert_close(auto_j.triu(1), grad_j.triu(1))
    eps = 1e-6
    for i, j in [(0, 3), (1, 2), (2, 4)]:
        step = torch.zeros_like(upper.detach())
        step[i, j] = eps
        fd = (total(upper.detach() + step, e.field) - total(upper.detach() - step, e.field)) / (
            2 * eps
        )
        assert fd.item() == pytest.approx(grad_j[i, j].item(), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": 0.1, "kT": -1.0}, "kT"),
        ({"dt": 0.1, "mobility": 0.0}, "mobility"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Langevin(**kwargs)


def test_bad_arguments():
    stepper = EulerMaruyama(_quartic(2), Langevin(0.1))
    with pytest.raises(ValueError, match="steps"):
        integrate(stepper, torch.zeros(2, 2), steps=-1)
    with pytest.raises(ValueError, match="save_every"):
        integrate(stepper, torch.zeros(2, 2), steps=3, save_every=0)
    with pytest.raises(ValueError, match="x0"):
        integrate(stepper, torch.tensor([[float("nan"), 0.0]]), steps=1)
    with pytest.raises(TypeError, match="Energy"):
        EulerMaruyama("quartic", Langevin(0.1))  # type: ignore[arg-type]
    hot = EulerMaruyama(_quartic(2), Langevin(0.1, kT=lambda t: -1.0))
    with pytest.raises(ValueError, match="kT schedule"):
        integrate(hot, torch.zeros(2, 2), steps=1)
    returns_split = EulerMaruyama(lambda t: _quartic(2).affine(), Langevin(0.1))
    with pytest.raises(TypeError, match="returned AffineSplit"):
        integrate(returns_split, torch.zeros(2, 2), steps=1)
    with pytest.raises(ValueError, match="constant temperature"):
        onsager_machlup_action(torch.zeros(3, 2, 2), torch.zeros_like, Langevin(0.1, kT=math.exp))


def test_affine_split_takes_the_fused_path_with_the_same_values_and_gradients():
    # the fused update (one addmm per step) and the generic one must give the same path from the
    # same noise, and the same pathwise gradient (the distillation trainer differentiates it)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    coupling = ((a + a.T) / 4).fill_diagonal_(0.0).requires_grad_()
    field = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_()
    x0 = torch.randn(3, 4, generator=g, dtype=torch.float64)
    results = []
    for wrap in (lambda e: e, _Generic):
        energy = wrap(QuarticEnergy(1.0, 1.0, field, coupling))
        out = _run(energy, x0, 50, seed=1, dt=1e-2, kT=0.7).final
        grads = torch.autograd.grad(out.square().sum(), [coupling, field])
        results.append((out.detach(), *grads))
    for fused, plain in zip(*results, strict=True):
        torch.testing.assert_close(fused, plain, rtol=1e-10, atol=1e-12)
