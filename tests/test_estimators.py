"""Estimators against analytic answers."""

import math

import pytest
import torch

from thermonn.estimators import integrated_autocorrelation, spin_observables


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_integrated_autocorrelation_of_an_ar1_process(phi):
    # x_t = φ x_{t−1} + ε_t: ρ(t) = φ^t, τ_int = (1 + φ) / (1 − φ)
    g = torch.Generator().manual_seed(0)
    n, chains = 20000, 16
    eps = torch.randn(n, chains, generator=g, dtype=torch.float64)
    x = torch.empty_like(eps)
    x[0] = eps[0] / math.sqrt(1 - phi * phi)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + eps[t]
    result = integrated_autocorrelation(x)
    exact = (1 + phi) / (1 - phi)
    assert result.tau == pytest.approx(exact, rel=0.08)
    assert result.ess == pytest.approx(n * chains / result.tau) and result.reliable


def test_spin_observables_of_known_samples():
    e = torch.tensor([[-8.0, -6.0], [-8.0, -4.0], [-6.0, -6.0]])
    m = torch.tensor([[1.0, -0.5], [0.75, 0.5], [-1.0, 0.25]])
    obs = spin_observables(e, m, n=4, kT=2.0)
    assert obs.energy == pytest.approx(e.mean().item() / 4)
    a = m.abs()
    assert obs.abs_magnetisation == pytest.approx(a.mean().item())
    assert obs.heat_capacity == pytest.approx(e.var(unbiased=False).item() / (4 * 4.0))
    m2 = a.square().mean().item()
    assert obs.susceptibility == pytest.approx(4 * (m2 - a.mean().item() ** 2) / 2.0)
    assert obs.binder == pytest.approx(1 - a.pow(4).mean().item() / (3 * m2 * m2))
    chain_means = (e / 4).mean(0)
    assert obs.energy_error == pytest.approx(chain_means.std().item() / math.sqrt(2))


def test_bad_samples():
    with pytest.raises(ValueError, match="constant"):
        integrated_autocorrelation(torch.ones(10, 2))
    with pytest.raises(ValueError, match="samples"):
        integrated_autocorrelation(torch.tensor([1.0]))
    with pytest.raises(ValueError, match="shapes"):
        spin_observables(torch.zeros(3, 2), torch.zeros(3, 1), n=4, kT=1.0)
    with pytest.raises(ValueError, match="kT"):
        spin_observables(torch.zeros(3, 2), torch.zeros(3, 2), n=4, kT=0.0)


def test_binder_crossing_of_scaling_curves():
    # U_L(T) = ⅓ (1 − tanh((T − T_c) L)): every size passes ⅓ at T_c, slopes grow with L
    from thermonn.estimators import binder_crossing

    tc = 2.2691853
    grid = torch.linspace(2.1, 2.45, 15, dtype=torch.float64)
    curve = lambda size: ((1 - torch.tanh((grid - tc) * size)) / 3).tolist()  # noqa: E731
    assert binder_crossing(grid.tolist(), curve(8), curve(16)) == pytest.approx(tc, abs=2e-3)
    with pytest.raises(ValueError, match="cross"):
        binder_crossing([1.0, 2.0], [0.5, 0.4], [0.3, 0.2])
    with pytest.raises(ValueError, match="increasing"):
        binder_crossing([2.0, 1.0], [0.5, 0.4], [0.3, 0.2])


def test_finite_size_fit_recovers_the_scaling_law():
    from thermonn.estimators import finite_size_fit

    sizes = [8, 12, 16, 24, 32, 48, 64]
    estimates = [2.269 + 0.8 * s ** (-1 / 1.2) for s in sizes]
    fit = finite_size_fit(sizes, estimates)
    assert fit.critical_temperature == pytest.approx(2.269, abs=1e-6)
    assert fit.nu == pytest.approx(1.2, rel=1e-4) and fit.amplitude == pytest.approx(0.8, rel=1e-4)
    fixed = finite_size_fit(sizes[:2], estimates[:2], nu=1.2)
    assert fixed.critical_temperature == pytest.approx(2.269, abs=1e-9)
    with pytest.raises(ValueError, match="sizes"):
        finite_size_fit([8, 16], [2.3, 2.28])


@pytest.mark.slow
def test_the_binder_crossing_of_l16_and_l32_is_within_half_a_percent_of_onsagers_tc():
    from thermonn.dynamics import SwendsenWang, integrate
    from thermonn.estimators import binder_crossing
    from thermonn.machines import IsingModel, onsager

    temperatures = [2.21, 2.23, 2.25, 2.27, 2.29, 2.31, 2.33]
    curves = []
    for size in (16, 32):
        model, binder = IsingModel.lattice((size, size)), []
        for kT in temperatures:
            out = integrate(
                SwendsenWang(model, kT), torch.ones(32, model.n), steps=800, save_every=1,
                generator=torch.Generator().manual_seed(size),
            )  # fmt: skip
            s = out.states[100:]
            binder.append(spin_observables(model.energy(s), s.mean(-1), n=model.n, kT=kT).binder)
        curves.append(binder)
    tc = onsager(1.0).critical_temperature
    assert binder_crossing(temperatures, *curves) == pytest.approx(tc, rel=5e-3)
