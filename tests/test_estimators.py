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
