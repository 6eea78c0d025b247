"""Second law, fluctuation–dissipation, Crooks/Bennett and the monitors, each against an exact
answer: they pass where the law holds and fail on deliberately broken systems."""

import math

import pytest
import torch

from thermonn.dynamics import (
    Energy,
    EulerMaruyama,
    HeatFlow,
    Langevin,
    Metropolis,
    QuadraticEnergy,
    graph_laplacian,
    integrate,
)
from thermonn.estimators import (
    bennett_acceptance_ratio,
    check_bar,
    check_crooks,
    check_entropy_production,
    check_equipartition,
    check_fluctuation_dissipation,
    crooks_fit,
    free_energy_trace,
    gaussian_log_density,
    jarzynski_trace,
    order_parameter_trace,
    protocol_work,
    temperature_equilibration,
    virial_temperature,
)
from thermonn.machines import IsingModel

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")


def _well(stiffness, centre=0.0, n=1):
    return QuadraticEnergy(
        torch.diag(torch.tensor(stiffness, dtype=F64).expand(n)),
        torch.full((n,), centre, dtype=F64),
    )


def _run(energy, x0, *, dt, steps, kT=1.0, every=1, seed=0):
    stepper = EulerMaruyama(energy, Langevin(dt, kT=kT))
    g = torch.Generator().manual_seed(seed)
    return integrate(stepper, x0, steps=steps, save_every=every, generator=g)


def _gaussian(n, dim, std, seed, mean=0.0):
    g = torch.Generator().manual_seed(seed)
    return mean + std * torch.randn(n, dim, generator=g, dtype=F64)


# --- entropy production ------------------------------------------------------------------------


def test_entropy_production_of_a_dragged_trap_is_its_exact_mean():
    # a trap of stiffness k dragged at speed v from equilibrium: the lag l(t) = (v/k)(1 − e^{−kt}),
    # the variance stays kT/k (Δs_sys = 0) and ⟨Δs_tot⟩ = (⟨W⟩ − ⟨ΔU⟩)/kT with
    # ⟨W⟩ = k v ∫ l dt and ⟨ΔU⟩ = k l(t_f)²/2
    k, v, t_f, dt = 2.0, 1.5, 1.0, 1e-3
    drag = lambda t: _well(k, v * min(t, t_f))  # noqa: E731
    path = _run(drag, _gaussian(4000, 1, k**-0.5, 0), dt=dt, steps=round(t_f / dt), seed=1)
    lag = (v / k) * (1 - math.exp(-k * t_f))
    exact = k * v * (v / k) * (t_f - (1 - math.exp(-k * t_f)) / k) - 0.5 * k * lag**2
    result = check_entropy_production(path.states, path.times, drag, 1.0)
    assert result.passed and result.measured > 10 * result.error, str(result)
    assert abs(result.measured - exact) < 4 * result.error
    # the same with the exact densities p_t = N(v t − l(t), kT/k) at the two ends
    lag_at = lambda t: (v / k) * (1 - math.exp(-k * t))  # noqa: E731

    def log_p(x, t):
        return -0.5 * k * (x[:, 0] - v * t + lag_at(t)) ** 2 + 0.5 * math.log(k / (2 * math.pi))

    exact_density = check_entropy_production(path.states, path.times, drag, 1.0, log_density=log_p)
    assert abs(exact_density.measured - exact) < 4 * exact_density.error


@pytest.mark.parametrize("kT_bath", [0.5, 1.5])
def test_entropy_production_is_negative_with_the_wrong_noise_amplitude(kT_bath):
    # equilibrium at kT = 1 relaxing in a bath whose noise belongs to kT': kept at kT = 1 the books
    # show ⟨Δs_tot⟩ = ½ (ln r + 1 − r) < 0 per degree of freedom, r = kT'/kT
    well = _well(1.0, n=2)
    x0 = _gaussian(4000, 2, 1.0, 2)
    path = _run(well, x0, dt=0.01, steps=300, kT=kT_bath, seed=3)
    bad = check_entropy_production(path.states, path.times, lambda t: well, 1.0)
    r = kT_bath
    assert not bad.passed, str(bad)
    assert bad.measured == pytest.approx(math.log(r) + 1 - r, abs=4 * bad.error + 0.01)
    # the honest bath produces none (equilibrium) and passes
    honest = _run(well, x0, dt=0.01, steps=300, kT=1.0, seed=3)
    good = check_entropy_production(honest.states, honest.times, lambda t: well, 1.0)
    assert good.passed and abs(good.measured) < 4 * good.error + 0.01, str(good)


# --- fluctuation–dissipation -------------------------------------------------------------------


class _Tilted(Energy):
    """V − f·x, the base energy under a constant force f (optionally plus a swirl ω(−x₂, x₁))."""

    def __init__(self, base, f, swirl=0.0):
        self.base, self.f, self.swirl = base, f, swirl

    def energy(self, x):
        return self.base.energy(x) - (x * self.f).sum(-1)

    def force(self, x):
        rotation = torch.stack([-x[..., 1], x[..., 0]], -1) if self.swirl else 0.0
        return self.base.force(x) + self.f + self.swirl * rotation


def _fdt_pair(base, f, *, kT, dt, chains, t_end=20.0, swirl=0.0, seed=4):
    """Unperturbed and perturbed runs from the same equilibrium states with the same noise."""
    n = len(f)
    x0 = _gaussian(chains, n, math.sqrt(kT), seed)
    steps, every = round(t_end / dt), max(1, round(0.1 / dt))

    def tilted(force):  # V − f·x of a quadratic is the well shifted by A⁻¹f (the fast path)
        if swirl:
            return _Tilted(base, force, swirl)
        return QuadraticEnergy(
            base.precision, base.mean + torch.linalg.solve(base.precision, force)
        )

    runs = [
        _run(tilted(force), x0, dt=dt, steps=steps, kT=kT, every=every, seed=seed + 1)
        for force in (torch.zeros_like(f), f)
    ]
    return runs[0].states, runs[1].states


def test_fdt_holds_for_langevin_dynamics_and_resolves_euler_maruyamas_effective_temperature():
    f = torch.tensor([0.2], dtype=F64)
    well = _well(1.0)
    u, p = _fdt_pair(well, f, kT=1.0, dt=0.005, chains=2000)
    assert check_fluctuation_dissipation(u, p, f, 1.0).passed
    # at a coarse step the exact discrete law is R = ΔC / kT_EM, kT_EM = kT / (1 − μkΔt/2):
    # the check resolves the 2.6 % discretisation effect and passes at kT_EM
    dt = 0.05
    u, p = _fdt_pair(well, f, kT=1.0, dt=dt, chains=8000)
    naive = check_fluctuation_dissipation(u, p, f, 1.0)
    exact = check_fluctuation_dissipation(u, p, f, 1.0 / (1 - dt / 2))
    assert exact.passed, str(exact)
    assert not naive.passed
    ratio = naive.measured / naive.expected  # R / (ΔC/kT) at the worst lag: 1 − μkΔt/2 exactly
    assert abs(ratio - (1 - dt / 2)) < 4 * naive.error / naive.expected


def test_fdt_fails_with_the_wrong_noise_amplitude():
    f = torch.tensor([0.2, -0.1], dtype=F64)
    u, p = _fdt_pair(_well(1.0, n=2), f, kT=1.3, dt=0.01, chains=1000)  # books kept at kT = 1
    bad = check_fluctuation_dissipation(u, p, f, 1.0)
    assert not bad.passed and abs(bad.measured / bad.expected - 1 / 1.3) < 0.05, str(bad)


def test_fdt_catches_a_swirl_that_equipartition_misses():
    # a rotation in an isotropic trap keeps the Boltzmann law (equipartition holds) but breaks
    # detailed balance: the response is f²[k − e^{−kt}(k cos ωt − ω sin ωt)]/(k² + ω²), not
    # (C(0) − C(t))/kT = (f²/k)(1 − e^{−kt} cos ωt)
    f = torch.tensor([0.2, 0.0], dtype=F64)
    u, p = _fdt_pair(_well(1.0, n=2), f, kT=1.0, dt=0.01, chains=1000, swirl=1.0)
    assert check_equipartition(u[-1], _well(1.0, n=2), 1.0, slack=0.01).passed
    bad = check_fluctuation_dissipation(u, p, f, 1.0)
    assert not bad.passed, str(bad)
    k, w, t = 1.0, 1.0, torch.arange(len(u), dtype=F64) * 0.1
    exact = 0.04 * (k - torch.exp(-k * t) * (k * torch.cos(w * t) - w * torch.sin(w * t))) / 2
    measured = ((p - u) @ f).mean(1)
    torch.testing.assert_close(measured, exact, atol=2e-3, rtol=0.02)


# --- Crooks and Bennett ------------------------------------------------------------------------


def _works(protocol, *, kT_bath=1.0, chains=3000, seed=5, t_f=1.0, dt=2e-3):
    """Forward works from the start's equilibrium, reverse works from the end's (at kT = 1)."""
    out = []
    for i, energy_at in enumerate((protocol, lambda t: protocol(t_f - t))):
        start = energy_at(0.0)
        std = (1.0 / torch.diag(start.precision)).sqrt()
        x0 = _gaussian(chains, 1, 1.0, seed + 10 * i) * std + start.mean
        path = _run(energy_at, x0, dt=dt, steps=round(t_f / dt), kT=kT_bath, seed=seed + 10 * i + 1)
        out.append(protocol_work(path.states, path.times, energy_at))
    return out


DRAG = lambda t: _well(2.0, centre=1.5 * min(t, 1.0))  # noqa: E731  ΔF = 0
SQUEEZE = lambda t: _well(1.0 + 3.0 * min(t, 1.0))  # noqa: E731  ΔF = ½ kT ln(k₁/k₀) = ln 2


@pytest.mark.parametrize(("protocol", "delta_f"), [(DRAG, 0.0), (SQUEEZE, 0.5 * math.log(4.0))])
def test_crooks_and_bar_recover_the_exact_free_energy_of_a_trap(protocol, delta_f):
    forward, reverse = _works(protocol)
    assert float(forward.mean()) > delta_f + 0.1 > delta_f - 0.1 > float(-reverse.mean())  # 2nd law
    crooks = check_crooks(forward, reverse, 1.0)
    assert crooks.passed, str(crooks)
    bar = check_bar(forward, reverse, 1.0, delta_f)
    assert bar.passed and bar.error < 0.03, str(bar)
    fit = crooks_fit(forward, reverse, 1.0)
    assert abs(fit.crossing - delta_f) < 4 * fit.crossing_error
    for jarzynski in (fit.jarzynski_forward, fit.jarzynski_reverse):
        assert abs(jarzynski.delta_f - delta_f) < 4 * jarzynski.error + 0.01


def test_crooks_and_bar_fail_with_the_wrong_noise_amplitude():
    forward, reverse = _works(SQUEEZE, kT_bath=1.5)  # equilibrium starts at kT = 1, bath at 1.5
    assert not check_crooks(forward, reverse, 1.0).passed
    assert not check_bar(forward, reverse, 1.0, 0.5 * math.log(4.0)).passed


def test_bar_and_crooks_errors_are_the_spread_of_repeated_estimates():
    # Gaussian works obeying Crooks exactly: W_F ~ N(ΔF + σ²/2, σ²), W_R ~ N(−ΔF + σ²/2, σ²)
    g = torch.Generator().manual_seed(6)
    delta_f, sigma, n = 0.7, 1.5, 400
    bars, crossings, slopes, errors = [], [], [], []
    for _ in range(200):
        wf = delta_f + sigma**2 / 2 + sigma * torch.randn(n, generator=g, dtype=F64)
        wr = -delta_f + sigma**2 / 2 + sigma * torch.randn(n // 2, generator=g, dtype=F64)
        fit = crooks_fit(wf, wr, 1.0)
        bars.append(fit.bar.delta_f)
        crossings.append(fit.crossing)
        slopes.append(fit.slope)
        errors.append((fit.bar.error, fit.crossing_error, fit.slope_error))
    mean_errors = torch.tensor(errors).mean(0)
    for values, error, exact in zip(
        (bars, crossings, slopes), mean_errors, (0.7, 0.7, 1.0), strict=True
    ):
        spread = torch.tensor(values)
        assert float(spread.std()) == pytest.approx(float(error), rel=0.15)
        assert abs(float(spread.mean()) - exact) < 4 * float(error) / math.sqrt(200) + 0.01
    assert bennett_acceptance_ratio(wf, wr, 2.0).delta_f == pytest.approx(
        2.0 * bennett_acceptance_ratio(wf / 2.0, wr / 2.0, 1.0).delta_f
    )


# --- monitors ----------------------------------------------------------------------------------


def test_free_energy_of_a_relaxing_trap_is_the_exact_discrete_one_and_decreases():
    # Euler–Maruyama in ½kx² is x ← a x + σξ, a = 1 − kΔt: m_j = m₀ aʲ, v_j = v∞ + (v₀ − v∞) a^{2j},
    # v∞ = σ²/(1 − a²), so F_j = ½k(m_j² + v_j) − ½ kT ln(2πe v_j) exactly
    k, dt, kT, every = 2.0, 0.01, 1.0, 10
    x0 = _gaussian(8000, 1, 0.2, 7, mean=1.5)
    path = _run(_well(k), x0, dt=dt, steps=300, kT=kT, every=every, seed=8)
    trace = free_energy_trace(path.states, path.times, _well(k), kT)
    a, s2 = 1 - k * dt, 2 * kT * dt
    v_inf = s2 / (1 - a * a)
    j = torch.arange(len(path.times), dtype=F64) * every
    m, v = 1.5 * a**j, v_inf + (0.04 - v_inf) * a ** (2 * j)
    exact = 0.5 * k * (m * m + v) - 0.5 * kT * torch.log(2 * math.pi * math.e * v)
    assert bool(((trace.free_energy - exact).abs() < 4 * trace.error + 2e-3).all())
    assert bool((trace.free_energy.diff() < 4 * trace.error[1:]).all())  # never rises
    assert float(trace.free_energy[0] - trace.free_energy[-1]) > 2.0
    # it ends at the equilibrium −kT ln Z = −½ kT ln(2π kT/k)
    assert float(trace.free_energy[-1]) == pytest.approx(
        -0.5 * kT * math.log(2 * math.pi * kT / k), abs=4 * float(trace.error[-1]) + 0.01
    )
    # the Gaussian log density's mean is minus the Gaussian entropy
    x = path.states[-1]
    assert float(-gaussian_log_density(x).mean()) == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e * float(x.var(unbiased=False)))
    )


def test_jarzynski_trace_follows_the_free_energy_of_a_squeezed_trap():
    k_at = lambda t: 1.0 + 3.0 * min(t, 1.0)  # noqa: E731
    x0 = _gaussian(3000, 1, 1.0, 9)
    path = _run(lambda t: _well(k_at(t)), x0, dt=2e-3, steps=500, every=1, seed=10)
    trace = jarzynski_trace(path.states, path.times, lambda t: _well(k_at(t)), 1.0)
    exact = torch.tensor([0.5 * math.log(k_at(t)) for t in path.times.tolist()], dtype=F64)
    assert bool(((trace.free_energy - exact).abs() <= 4 * trace.error + 0.01).all())
    assert float(trace.free_energy[0]) == 0.0 and float(trace.free_energy[-1]) > 0.6


def test_two_bodies_equilibrate_at_the_exact_rate():
    # C₁ dT₁/dt = −Dκ(T₁ − T₂), C₂ dT₂/dt = −Dκ(T₂ − T₁): T_i − T̄ ∝ e^{−t/τ}, 1/τ = Dκ(1/C₁ + 1/C₂)
    c = torch.tensor([1.0, 3.0], dtype=F64)
    kappa, d, dt = 0.5, 2.0, 0.01
    lap = graph_laplacian(torch.tensor([0]), torch.tensor([1]), kappa, 2)
    flow = HeatFlow(lap, d, dt=dt, capacity=c)
    t0 = torch.tensor([[2.0, 0.0]], dtype=F64)
    out = integrate(flow, t0, steps=700, save_every=1)
    result = temperature_equilibration(out.states, out.times, tolerance=1e-3, capacity=c)
    tau = 1.0 / (d * kappa * (1 / c[0] + 1 / c[1]))
    assert result.relaxation_time == pytest.approx(float(tau), rel=1e-9)
    torch.testing.assert_close(result.reference, torch.full((701,), 0.5, dtype=F64))
    settles = float(tau) * math.log(1.5 / 1e-3)  # |T₁ − T̄| = (C₂/ΣC)·2·e^{−t/τ} = 1.5 e^{−t/τ}
    assert settles <= result.equilibrated_at < settles + dt + 1e-9
    # against a bath: the plain mean is not T̄, and a tolerance never reached gives None
    shallow = temperature_equilibration(out.states, out.times, tolerance=1e-9, target=0.5)
    assert shallow.equilibrated_at is None and shallow.relaxation_time == pytest.approx(float(tau))


def test_virial_temperatures_of_a_langevin_ensemble_relax_to_the_bath():
    # from x = 0 in ½kx²: T(t) = k⟨x²⟩ = kT(1 − e^{−2μkt}) up to O(Δt), τ = 1/(2μk)
    k = 1.5
    well = _well(k, n=2)
    path = _run(well, torch.zeros(8000, 2, dtype=F64), dt=2e-3, steps=1500, every=25, seed=11)
    temps = virial_temperature(path.states, well)
    assert temps.shape == (61, 2)
    # the tolerance sits far above the sampling noise √2 kT/√8000 ≈ 0.016 of each T_i
    result = temperature_equilibration(temps, path.times, tolerance=0.25, target=1.0)
    assert result.relaxation_time == pytest.approx(1 / (2 * k), rel=0.1)
    assert result.equilibrated_at == pytest.approx(math.log(4) / (2 * k), abs=0.06)
    assert check_equipartition(path.states[-1], well, 1.0, slack=0.01).passed


def test_magnetisation_of_free_spins_under_metropolis_is_the_exact_two_state_relaxation():
    # one spin in a field h, one Metropolis proposal per sweep: up→down accepted with e^{−2βh},
    # down→up always, so m_t = m_eq + (−e^{−2βh})^t (m₀ − m_eq), m_eq = tanh(βh)
    h, kT = 0.4, 1.0
    model = IsingModel.lattice((8, 8), coupling=0.0, field=h, dtype=F64)
    s0 = -torch.ones(200, 64, dtype=F64)
    g = torch.Generator().manual_seed(12)
    out = integrate(Metropolis(model, kT), s0, steps=12, save_every=1, generator=g)
    trace = order_parameter_trace(out.states, out.times, "magnetisation")
    m_eq, rho = math.tanh(h / kT), -math.exp(-2 * h / kT)
    exact = torch.tensor([m_eq + rho**t * (-1 - m_eq) for t in range(13)], dtype=F64)
    assert bool(((trace.mean - exact).abs() <= 4 * trace.error + 1e-12).all())
    assert float(trace.mean[1]) > 0.0 > float(trace.mean[0])  # the overshoot of ρ < 0


def test_kuramoto_order_of_diffusing_phases_decays_as_exp_minus_d_t():
    # free phases: ⟨e^{iθ}⟩ = e^{−Dt}, D = μkT (Euler–Maruyama is exact for a free particle)
    free = QuadraticEnergy(torch.zeros(1, 1, dtype=F64), torch.zeros(1, dtype=F64))
    x0 = torch.zeros(40 * 500, 1, dtype=F64)
    path = _run(free, x0, dt=0.01, steps=100, kT=0.5, every=10, seed=13)
    phases = path.states.reshape(len(path.times), 40, 500)  # 40 chains of 500 oscillators
    trace = order_parameter_trace(phases, path.times, "kuramoto")
    exact = torch.exp(-0.5 * path.times)
    assert bool(((trace.mean - exact).abs() <= 4 * trace.error + 2e-3).all())
    custom = order_parameter_trace(phases, path.times, lambda th: th.cos().mean(-1))
    assert custom.name == "<lambda>" and float(custom.mean[0]) == 1.0


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_names_the_argument():
    x = torch.zeros(3, 4, 1, dtype=F64)
    times = torch.arange(3, dtype=F64)
    w = torch.randn(10, dtype=F64)
    well = _well(1.0)
    with pytest.raises(ValueError, match="kT"):
        check_entropy_production(x, times, lambda t: well, 0.0)
    with pytest.raises(ValueError, match="trajectory"):
        check_entropy_production(x[:, :, 0], times, lambda t: well, 1.0)
    with pytest.raises(ValueError, match="samples"):
        check_entropy_production(x, times, lambda t: well, 1.0)  # a point-like ensemble
    with pytest.raises(ValueError, match="unperturbed, perturbed"):
        check_fluctuation_dissipation(x, x[:2], torch.ones(1, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="force"):
        check_fluctuation_dissipation(x, x, torch.ones(2, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="lags"):
        check_fluctuation_dissipation(x, x, torch.ones(1, dtype=F64), 1.0, lags=[5])
    with pytest.raises(ValueError, match="forward_work"):
        bennett_acceptance_ratio(w[:1], w, 1.0)
    with pytest.raises(ValueError, match="reverse_work"):
        check_crooks(w, torch.tensor([1.0, float("nan")]), 1.0)
    with pytest.raises(ValueError, match="overlapping"):
        crooks_fit(w.abs() + 10.0, w.abs(), 1.0)  # W_F > 10 > −W_R: no crossing
    with pytest.raises(ValueError, match="delta_f"):
        check_bar(w, w, 1.0, float("inf"))
    with pytest.raises(ValueError, match="tolerance"):
        temperature_equilibration(x[:, 0], times, tolerance=0.0)
    with pytest.raises(ValueError, match="capacity"):
        temperature_equilibration(x[:, 0], times, tolerance=0.1, capacity=torch.zeros(1))
    with pytest.raises(ValueError, match="temperatures, times"):
        temperature_equilibration(x[:, 0], times[:2], tolerance=0.1)
    with pytest.raises(ValueError, match="order: expected one of"):
        order_parameter_trace(x, times, "energy")
    with pytest.raises(TypeError, match="order"):
        order_parameter_trace(x, times, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trajectory"):
        virial_temperature(x[0], well)
    with pytest.raises(ValueError, match="kT"):
        free_energy_trace(x, times, well, -1.0)
