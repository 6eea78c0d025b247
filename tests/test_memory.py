"""The OU memory cell's moments against Euler–Maruyama's exact discrete-time moments."""

import math

import pytest
import torch

from thermonn.nn import OUMemory


def test_memory_moments_match_the_discrete_ou_formulas():
    gamma, kT, dt, steps, u = 2.0, 0.5, 0.01, 150, 1.2
    cell = OUMemory(3, gamma=gamma, kT=kT, dt=dt)
    inputs = torch.full((steps, 20000, 3), u, dtype=torch.float64)
    m = cell(inputs, generator=torch.Generator().manual_seed(0))
    assert m.shape == (steps + 1, 20000, 3)
    a = 1 - gamma * dt
    for k in (10, 50, 150):
        mean = (u / gamma) * (1 - a**k)
        var = 2 * gamma * kT * dt * (1 - a ** (2 * k)) / (1 - a**2)
        assert float(m[k].mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / 60000))
        assert float(m[k].var()) == pytest.approx(var, rel=0.03)
    # the continuum: N(u/γ, kT) within Euler–Maruyama's O(γΔt) bias
    assert float(m[-1].var()) == pytest.approx(kT, rel=0.03 + gamma * dt)


def test_noiseless_memory_is_a_leaky_integrator_and_is_differentiable():
    cell = OUMemory(1, gamma=1.0, kT=0.0, dt=0.1)
    u = torch.zeros(5, 1, 1, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        u[0] = 1.0
    m = cell(u)
    # m_1 = Δt u_0, then decays by a = 0.9 per step
    torch.testing.assert_close(
        m[1:, 0, 0].detach(), 0.1 * 0.9 ** torch.arange(5, dtype=torch.float64)
    )
    m[-1].sum().backward()
    torch.testing.assert_close(
        u.grad[:, 0, 0], 0.1 * 0.9 ** torch.arange(4, -1, -1, dtype=torch.float64)
    )


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="gamma"):
        OUMemory(2, gamma=0.0)
    with pytest.raises(ValueError, match="dt"):
        OUMemory(2, gamma=10.0, dt=0.2)
    with pytest.raises(ValueError, match="inputs"):
        OUMemory(2)(torch.zeros(3, 2))
