"""The heat equation on grids and graphs: Fourier modes decay as exp(−Dλt), heat is conserved."""

import math

import pytest
import torch

from thermonn.dynamics import HeatFlow, graph_laplacian, heat_current, integrate
from thermonn.machines import PeriodicLattice


def _mode(n, k):
    x = torch.arange(n, dtype=torch.float64)
    return torch.cos(2 * math.pi * k * x / n)


@pytest.mark.parametrize("k", [1, 3])
def test_a_fourier_mode_on_a_ring_decays_as_exp_minus_d_k_squared_t(k):
    n, h, d, t_end = 64, 0.1, 0.7, 0.05
    flow = HeatFlow(PeriodicLattice((n,)).laplacian(h), d, dt=0.005, method="exact")
    out = integrate(flow, _mode(n, k)[None], steps=10)
    amplitude = float(out.final[0] @ _mode(n, k)) / float(_mode(n, k) @ _mode(n, k))
    wave = 2 * math.pi * k / (n * h)
    discrete = (2 - 2 * math.cos(wave * h)) / h**2
    assert amplitude == pytest.approx(math.exp(-d * discrete * t_end), rel=1e-10)  # exact in time
    # the continuum exp(−Dk²t), up to the second difference's error λ − k² ≈ −k⁴h²/12
    bound = d * t_end * wave**4 * h**2 / 12
    assert abs(amplitude / math.exp(-d * wave**2 * t_end) - 1) <= 1.05 * bound
    # the mode stays a mode
    torch.testing.assert_close(out.final[0], amplitude * _mode(n, k), atol=1e-10, rtol=0)


def test_a_two_dimensional_grid_mode_and_heat_conservation():
    side, d = 16, 1.0
    x = torch.arange(side, dtype=torch.float64)
    mode = (
        torch.cos(2 * math.pi * x / side)[:, None] * torch.cos(4 * math.pi * x / side)[None, :]
    ).flatten()
    lam = (2 - 2 * math.cos(2 * math.pi / side)) + (2 - 2 * math.cos(4 * math.pi / side))
    t0 = 5.0 + mode
    out = integrate(
        HeatFlow(PeriodicLattice((side, side)).laplacian(), d, dt=0.25), t0[None], steps=8
    )
    torch.testing.assert_close(
        out.final[0], 5.0 + math.exp(-d * lam * 2.0) * mode, atol=1e-10, rtol=0
    )
    assert float(out.states.sum(-1).std()) < 1e-9  # Σ T is conserved


def test_implicit_steps_are_stable_and_converge_to_the_exact_flow():
    n, d = 32, 1.0
    lap = PeriodicLattice((n,)).laplacian()
    t0 = torch.zeros(1, n, dtype=torch.float64)
    t0[0, 0] = 1.0  # a hot spot: every mode at once
    exact = integrate(HeatFlow(lap, d, dt=1.0), t0, steps=2).final
    errors = []
    for steps in (4, 16, 64):
        implicit = integrate(
            HeatFlow(lap, d, dt=2.0 / steps, method="implicit"), t0, steps=steps
        ).final
        errors.append(float((implicit - exact).abs().max()))
    assert errors[0] > errors[1] > errors[2] and errors[1] / errors[2] == pytest.approx(
        4.0, rel=0.25
    )
    # a time step far above the explicit limit (dt < h²/2D) stays bounded and positive
    big = integrate(HeatFlow(lap, d, dt=50.0, method="implicit"), t0, steps=20).final
    assert bool((big >= 0).all()) and float(big.sum()) == pytest.approx(1.0)


def test_a_ring_graph_equals_the_periodic_grid_and_fourier_currents():
    n = 12
    i = torch.arange(n)
    j = (i + 1) % n
    torch.testing.assert_close(
        graph_laplacian(i, j, 1.0, n).to_dense(), PeriodicLattice((n,)).laplacian().to_dense()
    )
    # Fourier's law: the currents into each node sum to −(L T)
    kappa = torch.rand(n, dtype=torch.float64) + 0.5
    lap = graph_laplacian(i, j, kappa, n)
    t = torch.randn(n, dtype=torch.float64)
    q = heat_current(t, i, j, kappa)
    net_out = torch.zeros(n, dtype=torch.float64).index_add_(0, i, q).index_add_(0, j, -q)
    torch.testing.assert_close(net_out, lap @ t)
    # heat flows from hot to cold
    assert bool(((q > 0) == (t[i] > t[j])).all())


def test_bad_input_names_the_argument():
    lap = PeriodicLattice((5,)).laplacian()
    with pytest.raises(ValueError, match="method"):
        HeatFlow(lap, 1.0, dt=0.1, method="euler")
    with pytest.raises(ValueError, match="dt"):
        HeatFlow(lap, 1.0, dt=0.0)
    with pytest.raises(ValueError, match="diffusivity"):
        HeatFlow(lap, -1.0, dt=0.1)
    with pytest.raises(ValueError, match="symmetric"):
        HeatFlow(torch.tensor([[1.0, -1.0], [0.0, 0.0]]), 1.0, dt=0.1)
    with pytest.raises(ValueError, match="temperatures"):
        HeatFlow(lap, 1.0, dt=0.1).init(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="conductance"):
        graph_laplacian(torch.tensor([0]), torch.tensor([1]), -1.0, 2)
    with pytest.raises(ValueError, match="distinct"):
        graph_laplacian(torch.tensor([0]), torch.tensor([0]), 1.0, 2)
    with pytest.raises(ValueError, match="spacing"):
        PeriodicLattice((4,)).laplacian(0.0)
