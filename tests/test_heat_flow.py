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


def test_two_bodies_relax_to_the_capacity_weighted_mean_with_the_predicted_time_constant():
    c1, c2, kappa = 1.0, 3.0, 0.5
    lap = graph_laplacian(torch.tensor([0]), torch.tensor([1]), kappa, 2)
    flow = HeatFlow(lap, 1.0, dt=0.1, capacity=torch.tensor([c1, c2], dtype=torch.float64))
    out = integrate(flow, torch.tensor([[4.0, 0.0]], dtype=torch.float64), steps=30, save_every=1)
    mean = (c1 * 4.0 + c2 * 0.0) / (c1 + c2)
    rate = kappa * (1 / c1 + 1 / c2)
    gap = out.states[:, 0, 0] - out.states[:, 0, 1]
    torch.testing.assert_close(gap, 4.0 * torch.exp(-rate * out.times.double()), atol=1e-12, rtol=0)
    energy = c1 * out.states[:, 0, 0] + c2 * out.states[:, 0, 1]
    torch.testing.assert_close(energy, torch.full_like(energy, c1 * 4.0), atol=1e-12, rtol=0)
    assert float(out.final[0, 0]) == pytest.approx(mean + 3.0 * math.exp(-rate * 3.0))


def test_units_coupled_to_a_layer_reservoir_relax_to_its_temperature():
    # dT_i/dt = −γ(T_i − T_layer) + Σ_j J_ij (T_j − T_i): units 0..3 on a ring (J), node 4 the layer
    n, gamma, j = 4, 0.7, 0.3
    ring_i, ring_j = torch.arange(n), (torch.arange(n) + 1) % n
    i = torch.cat([ring_i, torch.arange(n)])
    k = torch.cat([ring_j, torch.full((n,), n)])
    kappa = torch.cat([torch.full((n,), j), torch.full((n,), gamma)]).double()
    reservoir = torch.tensor([False] * n + [True])
    for method, tol in (("exact", 1e-12), ("implicit", 2e-3)):
        flow = HeatFlow(
            graph_laplacian(i, k, kappa, n + 1), 1.0, dt=0.01, method=method, reservoir=reservoir
        )
        t0 = torch.tensor([[3.0, 1.0, 2.0, 0.0, 1.5]], dtype=torch.float64)
        out = integrate(flow, t0, steps=300)
        assert float(out.final[0, n]) == 1.5  # the bath keeps its temperature
        # the mean unit temperature relaxes at γ exactly (the ring conserves it)
        mean = 1.5 + (t0[0, :n].mean() - 1.5) * math.exp(-gamma * 3.0)
        assert float(out.final[0, :n].mean()) == pytest.approx(float(mean), abs=tol)
    # long times: every unit at the layer's temperature
    late = integrate(
        HeatFlow(graph_laplacian(i, k, kappa, n + 1), 1.0, dt=5.0, reservoir=reservoir),
        t0,
        steps=10,
    )
    torch.testing.assert_close(
        late.final[0, :n], torch.full((n,), 1.5, dtype=torch.float64), atol=1e-10, rtol=0
    )


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
    with pytest.raises(ValueError, match="capacity"):
        HeatFlow(lap, 1.0, dt=0.1, capacity=torch.zeros(5))
    with pytest.raises(ValueError, match="reservoir"):
        HeatFlow(lap, 1.0, dt=0.1, reservoir=torch.zeros(5))
    with pytest.raises(ValueError, match="temperatures"):
        HeatFlow(lap, 1.0, dt=0.1).init(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="conductance"):
        graph_laplacian(torch.tensor([0]), torch.tensor([1]), -1.0, 2)
    with pytest.raises(ValueError, match="distinct"):
        graph_laplacian(torch.tensor([0]), torch.tensor([0]), 1.0, 2)
    with pytest.raises(ValueError, match="spacing"):
        PeriodicLattice((4,)).laplacian(0.0)


def test_explicit_steps_follow_forward_euler_and_refuse_unstable_steps():
    n, h, d = 32, 1.0, 1.0
    lap = PeriodicLattice((n,)).laplacian(h)
    lam_max = 4 / h**2  # the ring's highest mode, k = π/h
    limit = 2 / (d * lam_max)
    flow = HeatFlow(lap, d, dt=0.4, method="explicit")
    out = integrate(flow, _mode(n, 3)[None], steps=25)
    lam = 2 - 2 * math.cos(2 * math.pi * 3 / n)
    amplitude = float(out.final[0] @ _mode(n, 3)) / float(_mode(n, 3) @ _mode(n, 3))
    assert amplitude == pytest.approx((1 - 0.4 * d * lam) ** 25, rel=1e-10)
    HeatFlow(lap, d, dt=limit, method="explicit")  # at the limit: allowed
    HeatFlow(PeriodicLattice((10, 10)).laplacian(), d, dt=0.25, method="explicit")  # λ = 8 + ε
    with pytest.raises(ValueError, match=r"dt: explicit .* dt <= 2/lambda_max = 0\.5\b"):
        HeatFlow(lap, d, dt=limit * 1.01, method="explicit")
    # a 2-D grid: λ_max = 8/h², the limit h²/4D; capacities scale it
    grid = PeriodicLattice((6, 6)).laplacian(0.5)
    with pytest.raises(ValueError, match=r"0\.03125"):
        HeatFlow(grid, 2.0, dt=0.04, method="explicit")
    with pytest.raises(ValueError, match=r"0\.0625"):
        HeatFlow(grid, 2.0, dt=0.07, method="explicit", capacity=torch.full((36,), 2.0))


def test_explicit_steps_on_a_large_sparse_grid_and_between_reservoirs():
    # 80 × 80 = 6400 nodes: past the exact eigenvalue, Gershgorin's bound (= 8 here, exact)
    lattice = PeriodicLattice((80, 80))
    with pytest.raises(ValueError, match=r"0\.25\b"):
        HeatFlow(lattice.laplacian(), 1.0, dt=0.26, method="explicit")
    flow = HeatFlow(lattice.laplacian(), 1.0, dt=0.25, method="explicit")
    x = torch.rand(6400, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = integrate(flow, x, steps=50)
    assert float(out.final.sum()) == pytest.approx(float(x.sum()), rel=1e-12)
    assert float(out.final.std()) < float(x.std())
    # a rod between baths at 2 and 1 reaches the linear profile
    n = 8
    i = torch.arange(n - 1)
    reservoir = torch.zeros(n, dtype=torch.bool)
    reservoir[[0, -1]] = True
    rod = HeatFlow(graph_laplacian(i, i + 1, 1.0, n), 1.0, 0.4, "explicit", reservoir=reservoir)
    t0 = torch.ones(n, dtype=torch.float64)
    t0[0] = 2.0
    final = integrate(rod, t0, steps=2000).final
    torch.testing.assert_close(final, torch.linspace(2.0, 1.0, n, dtype=torch.float64))


@pytest.mark.parametrize("method", ["exact", "implicit"])
def test_a_body_between_two_baths_settles_at_the_conductance_weighted_mean(method):
    # node 1 (capacity C) bonded to baths 0 (T = 3) and 2 (T = 1) with conductances G1, G2:
    # T(t) = T∞ + (T0 − T∞) e^{−t/τ}, T∞ = (G1·3 + G2·1)/(G1 + G2), τ = C/(G1 + G2)
    g1, g2, c = 0.5, 1.5, 2.0
    lap = graph_laplacian(torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([g1, g2]), 3)
    reservoir = torch.tensor([True, False, True])
    capacity = torch.tensor([1.0, c, 1.0], dtype=torch.float64)
    dt = 0.01 if method == "implicit" else 0.25
    flow = HeatFlow(lap, 1.0, dt, method, capacity=capacity, reservoir=reservoir)
    out = integrate(
        flow, torch.tensor([3.0, 0.0, 1.0], dtype=torch.float64), steps=400, save_every=40
    )
    t_inf, tau = (g1 * 3 + g2 * 1) / (g1 + g2), c / (g1 + g2)
    expected = t_inf + (0.0 - t_inf) * torch.exp(-out.times / tau)
    tol = 1e-12 if method == "exact" else 5e-3  # backward Euler: first order in dt
    torch.testing.assert_close(out.states[:, 1], expected, atol=tol, rtol=0)
    torch.testing.assert_close(
        out.states[:, [0, 2]], torch.tensor([[3.0, 1.0]]).expand(11, 2).double()
    )
