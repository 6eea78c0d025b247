"""The Ising model and the spin steppers against exact enumeration and Onsager's solution."""

import math

import pytest
import torch

from helpers import chi2_pvalue
from thermonn.dynamics import (
    BlockGibbs,
    Metropolis,
    SwendsenWang,
    boltzmann,
    cluster_labels,
    integrate,
)
from thermonn.estimators import integrated_autocorrelation, spin_observables
from thermonn.machines import IsingModel, onsager

STEPPERS = [BlockGibbs, Metropolis]


def _random_graph(n=8, seed=0, density=0.5, field=0.3):
    g = torch.Generator().manual_seed(seed)
    j = torch.randn(n, n, generator=g, dtype=torch.float64) * 0.6
    keep = torch.rand(n, n, generator=g) < density
    j = torch.triu(j * keep, 1)
    h = torch.randn(n, generator=g, dtype=torch.float64) * field
    return IsingModel.graph(j + j.T, field=h)


def _codes(s):
    """The enumeration index of ±1 configurations (bit i = spin i up)."""
    bits = (s > 0).long()
    return (bits << torch.arange(s.shape[-1])).sum(-1)


def test_energies_are_the_bond_sums():
    model = IsingModel.lattice((3, 4), coupling=0.7, field=0.2, dtype=torch.float64)
    s = torch.randint(0, 2, (5, 12), generator=torch.Generator().manual_seed(1)) * 2.0 - 1
    s = s.double()
    grid = s.reshape(5, 3, 4)
    bonds = (grid * grid.roll(1, 1)).sum((1, 2)) + (grid * grid.roll(1, 2)).sum((1, 2))
    torch.testing.assert_close(model.energy(s), -0.7 * bonds - 0.2 * s.sum(-1))
    graph = _random_graph()
    x = torch.randint(0, 2, (4, 8), generator=torch.Generator().manual_seed(2)).double() * 2 - 1
    j = graph.couplings
    pairs = sum(j[a, b] * x[:, a] * x[:, b] for a in range(8) for b in range(a + 1, 8))
    torch.testing.assert_close(graph.energy(x), -pairs - x @ graph.field)
    sparse = IsingModel.graph(j.to_sparse(), field=graph.field)
    torch.testing.assert_close(sparse.energy(x), graph.energy(x))


@pytest.mark.parametrize(
    "model", [IsingModel.lattice((3, 5)), _random_graph(), IsingModel.lattice((4, 4, 2))]
)
def test_colourings_are_independent_sets_that_cover_every_spin(model):
    classes = model.colouring()
    assert sorted(torch.cat(classes).tolist()) == list(range(model.n))
    adjacency = model.adjacency()
    for c in classes:
        members = set(c.tolist())
        assert not any(j in members for i in members for j in adjacency[i])


@pytest.mark.parametrize("stepper", STEPPERS)
def test_samples_follow_the_exact_law_of_a_small_graph(stepper):
    model, kT = _random_graph(), 1.3
    _, p = boltzmann(model, kT)
    chains = 20000
    x0 = torch.ones(chains, model.n, dtype=torch.float64)
    out = integrate(stepper(model, kT), x0, steps=40, generator=torch.Generator().manual_seed(3))
    assert chi2_pvalue(_codes(out.final), p) > 1e-3


@pytest.mark.parametrize("stepper", STEPPERS)
def test_one_sweep_leaves_the_exact_law_invariant_on_three_spins(stepper):
    j = torch.tensor([[0.0, 1.2, -0.7], [1.2, 0.0, 0.4], [-0.7, 0.4, 0.0]], dtype=torch.float64)
    model, kT = IsingModel.graph(j, field=torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)), 0.8
    states, p = boltzmann(model, kT)
    g = torch.Generator().manual_seed(4)
    chains = 40000
    start = states[torch.multinomial(p.float(), chains, replacement=True, generator=g)]
    out = integrate(stepper(model, kT), start, steps=1, generator=g)
    assert chi2_pvalue(_codes(out.final), p) > 1e-3
    # and the sweep moves: a stepper that changes nothing would pass the line above
    assert (out.final != start).any(-1).double().mean() > 0.2


@pytest.mark.parametrize("stepper", STEPPERS)
def test_a_4x4_lattice_matches_its_enumerated_energy_and_magnetisation(stepper):
    model, kT = IsingModel.lattice((4, 4), dtype=torch.float64), 2.5
    states, p = boltzmann(model, kT)
    exact_e = float((p * model.energy(states)).sum()) / 16
    exact_m2 = float((p * states.mean(-1).square()).sum())
    x0 = torch.ones(256, 16, dtype=torch.float64)
    out = integrate(
        stepper(model, kT), x0, steps=600, save_every=2, generator=torch.Generator().manual_seed(5)
    )
    s = out.states[100:]
    obs = spin_observables(model.energy(s), s.mean(-1), n=16, kT=kT)
    assert abs(obs.energy - exact_e) < 4 * obs.energy_error
    m2 = float(s.mean(-1).square().mean())
    assert m2 == pytest.approx(exact_m2, rel=0.03)


@pytest.mark.parametrize(("kT", "start"), [(1.8, "cold"), (3.2, "hot")])
def test_the_2d_lattice_at_l32_matches_onsager_and_yang_away_from_tc(kT, start):
    exact = onsager(kT)
    model = IsingModel.lattice((32, 32))
    g = torch.Generator().manual_seed(6)
    x0 = (
        torch.ones(32, 1024)
        if start == "cold"
        else torch.randint(0, 2, (32, 1024), generator=g) * 2.0 - 1
    )
    out = integrate(BlockGibbs(model, kT), x0, steps=400, save_every=4, generator=g)
    s = out.states[26:]  # the last 300 sweeps
    obs = spin_observables(model.energy(s), s.mean(-1), n=1024, kT=kT)
    assert abs(obs.energy - exact.energy) < 4 * obs.energy_error + 2e-3
    if exact.magnetisation > 0:
        assert (
            abs(obs.abs_magnetisation - exact.magnetisation)
            < 4 * obs.abs_magnetisation_error + 5e-3
        )
        assert obs.binder == pytest.approx(2 / 3, abs=0.01)
    else:
        assert obs.abs_magnetisation < 0.1 and obs.binder < 0.4


def test_onsager_reference_values():
    assert onsager(1.0).critical_temperature == pytest.approx(2.269185314213022)
    assert onsager(1 / 0.3).energy == pytest.approx(-0.704499, abs=2e-6)  # beta = 0.3
    assert onsager(1.0).magnetisation == pytest.approx((1 - math.sinh(2.0) ** -4) ** 0.125)


def test_annealing_schedule_finds_the_enumerated_ground_state():
    model = _random_graph(n=12, seed=7, density=0.6)
    states = model.states()
    ground = float(model.energy(states).min())
    schedule = lambda t: 3.0 * (0.02 / 3.0) ** (t / 199)  # noqa: E731  exponential cooling
    out = integrate(
        Metropolis(model, schedule),
        torch.ones(64, 12, dtype=torch.float64),
        steps=200,
        generator=torch.Generator().manual_seed(8),
    )
    found = model.energy(out.final)
    assert float(found.min()) == pytest.approx(ground) and (found >= ground - 1e-9).all()


def test_per_chain_beta_must_have_one_row_per_chain():
    model = IsingModel.lattice((4, 4))
    for stepper in (BlockGibbs(model, 1.0), Metropolis(model, 1.0), SwendsenWang(model, 1.0)):
        state = stepper.init(torch.ones(16, 16))
        with pytest.raises(
            ValueError, match=r"beta: expected a number or a tensor of shape \(16, 1\)"
        ):
            stepper.advance(state, torch.ones(16), None)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="symmetric"):
        IsingModel.graph(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="diagonal"):
        IsingModel.graph(torch.eye(2))
    with pytest.raises(ValueError, match="finite"):
        IsingModel.graph(torch.tensor([[0.0, math.nan], [math.nan, 0.0]]))
    with pytest.raises(ValueError, match="field"):
        IsingModel.graph(torch.zeros(3, 3), field=torch.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        IsingModel.lattice((4, 1))
    with pytest.raises(ValueError, match="kT"):
        BlockGibbs(IsingModel.lattice((4, 4)), 0.0)
    with pytest.raises(ValueError, match="at most 24 spins"):
        IsingModel.lattice((5, 5)).states()
    stepper = Metropolis(IsingModel.lattice((2, 2)), lambda t: -1.0)
    with pytest.raises(ValueError, match="kT schedule"):
        integrate(stepper, torch.ones(1, 4), steps=1)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        integrate(BlockGibbs(IsingModel.lattice((2, 2)), 1.0), torch.zeros(1, 4), steps=1)
    with pytest.raises(ValueError, match=r"\(chains, 4\)"):
        integrate(BlockGibbs(IsingModel.lattice((2, 2)), 1.0), torch.ones(1, 5), steps=1)


def test_cluster_labels_are_the_connected_components():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = torch.Generator().manual_seed(9)
    n, e, chains = 40, 60, 5
    i, j = torch.randint(0, n, (e,), generator=g), torch.randint(0, n, (e,), generator=g)
    active = torch.rand(chains, e, generator=g) < 0.6
    labels = cluster_labels(active, i, j, n)
    for c in range(chains):
        a = active[c].numpy()
        graph = coo_matrix((a[a].astype(float), (i.numpy()[a], j.numpy()[a])), shape=(n, n))
        _, expected = connected_components(graph, directed=False)
        # same partition: labels equal exactly where scipy's components are equal
        same = torch.as_tensor(expected)[:, None] == torch.as_tensor(expected)[None, :]
        assert torch.equal(labels[c][:, None] == labels[c][None, :], same)


def test_swendsen_wang_samples_the_exact_law_and_keeps_it_invariant():
    model, kT = _random_graph(field=0.0), 1.1  # couplings of both signs, zero field
    states, p = boltzmann(model, kT)
    chains = 20000
    out = integrate(
        SwendsenWang(model, kT), torch.ones(chains, model.n, dtype=torch.float64), steps=30,
        generator=torch.Generator().manual_seed(10),
    )  # fmt: skip
    assert chi2_pvalue(_codes(out.final), p) > 1e-3
    g = torch.Generator().manual_seed(11)
    start = states[torch.multinomial(p.float(), chains, replacement=True, generator=g)]
    one = integrate(SwendsenWang(model, kT), start, steps=1, generator=g).final
    assert chi2_pvalue(_codes(one), p) > 1e-3
    assert (one != start).any(-1).double().mean() > 0.3


def _tau_m2(stepper, model, steps, chains, seed=12):
    out = integrate(
        stepper, torch.ones(chains, model.n), steps=steps, save_every=1,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    return integrated_autocorrelation(out.states[steps // 5 :].mean(-1).square()).tau


def test_cluster_moves_decorrelate_far_faster_than_metropolis_at_tc():
    # τ_int of m² at T_c, L = 32 (Metropolis' estimate is a lower bound here: its run is shorter
    # than 50 τ, so the ratio is conservative)
    model, tc = IsingModel.lattice((32, 32)), onsager(1.0).critical_temperature
    sw = _tau_m2(SwendsenWang(model, tc), model, 600, 16)
    metropolis = _tau_m2(Metropolis(model, tc), model, 3000, 16)
    assert sw < 12 and metropolis > 5 * sw


@pytest.mark.slow
def test_cluster_moves_are_ten_times_faster_at_l64():
    model, tc = IsingModel.lattice((64, 64)), onsager(1.0).critical_temperature
    sw = _tau_m2(SwendsenWang(model, tc), model, 1000, 8)
    metropolis = _tau_m2(Metropolis(model, tc), model, 6000, 8)
    assert metropolis > 10 * sw


def test_swendsen_wang_refuses_fields():
    with pytest.raises(ValueError, match="zero fields"):
        SwendsenWang(IsingModel.lattice((4, 4), field=0.1), 1.0)


@pytest.mark.parametrize("sweep", ["gibbs", "metropolis"])
def test_parallel_tempering_samples_every_rung_exactly_and_swaps(sweep):
    from thermonn.dynamics import ParallelTempering

    model, ladder = _random_graph(), [0.5, 0.8, 1.3, 2.1]
    chains = 8000
    pt = ParallelTempering(model, ladder, sweep=sweep)
    g = torch.Generator().manual_seed(13)
    state = pt.init(torch.ones(chains, model.n, dtype=torch.float64))
    for t in range(40):
        state = pt.step(state, float(t), g)
    final = pt.value(state)
    assert final.shape == (4, chains, model.n)
    for rung, kT in enumerate(ladder):
        _, p = boltzmann(model, kT)
        assert chi2_pvalue(_codes(final[rung]), p) > 1e-3
    rates = pt.acceptance(state)
    assert ((rates > 0.05) & (rates < 1)).all()
    out = integrate(pt, torch.ones(3, model.n, dtype=torch.float64), steps=4, save_every=2)
    assert out.states.shape == (3, 4, 3, model.n)


def test_parallel_tempering_refuses_a_ladder_that_is_not_increasing():
    from thermonn.dynamics import ParallelTempering

    with pytest.raises(ValueError, match="increasing"):
        ParallelTempering(IsingModel.lattice((4, 4)), [1.0, 1.0])
    with pytest.raises(ValueError, match="sweep"):
        ParallelTempering(IsingModel.lattice((4, 4)), [1.0, 2.0], sweep="wolff")
