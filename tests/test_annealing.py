"""Simulated annealing against exact ground states; QUBO mapping; schedules; time-to-solution."""

import itertools
import math

import pytest
import torch

from thermonn.dynamics import QuadraticEnergy
from thermonn.dynamics.energy import Energy
from thermonn.estimators import success_probability, time_to_solution
from thermonn.machines import (
    IsingModel,
    langevin_annealing,
    qubo_to_ising,
    random_spin_glass,
    simulated_annealing,
    temperature_range,
)
from thermonn.schedules import AdaptiveCooling, ExponentialCooling


def _sk(n, seed, field=0.3):
    g = torch.Generator().manual_seed(seed)
    j = torch.triu(torch.randn(n, n, generator=g, dtype=torch.float64), 1)
    return IsingModel.graph(j + j.T, field=field * torch.randn(n, generator=g, dtype=torch.float64))


def _ground_energy(model):
    return float(model.energy(model.states()).min())


def _strip(width, length, seed):
    """A planar ±J glass on a width × length grid with open boundaries, and its exact ground
    energy by transfer-matrix dynamic programming over the 2^width column states."""
    g = torch.Generator().manual_seed(seed)
    vertical = 2.0 * torch.randint(0, 2, (length, width - 1), generator=g).double() - 1
    horizontal = 2.0 * torch.randint(0, 2, (length - 1, width), generator=g).double() - 1
    n = width * length
    j = torch.zeros(n, n, dtype=torch.float64)
    site = lambda col, row: col * width + row  # noqa: E731
    for col in range(length):
        for row in range(width - 1):
            j[site(col, row), site(col, row + 1)] = vertical[col, row]
        if col + 1 < length:
            for row in range(width):
                j[site(col, row), site(col + 1, row)] = horizontal[col, row]
    columns = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=width)), dtype=torch.float64)
    inner = lambda col: -(columns[:, :-1] * columns[:, 1:] * vertical[col]).sum(-1)  # noqa: E731
    best = inner(0)
    for col in range(1, length):
        between = -(columns[:, None, :] * columns[None, :, :] * horizontal[col - 1]).sum(-1)
        best = (best[:, None] + between).min(0).values + inner(col)
    return IsingModel.graph(j + j.T), float(best.min())


def _geometric(model, sweeps):
    hot, cold = temperature_range(model)
    return ExponentialCooling(hot, cold, sweeps - 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_annealing_finds_the_enumerated_ground_state_of_dense_glasses(seed):
    model = _sk(20, seed)
    ground = _ground_energy(model)
    out = simulated_annealing(
        model,
        _geometric(model, 500),
        sweeps=500,
        reads=64,
        generator=torch.Generator().manual_seed(seed),
    )
    assert out.best_energy == pytest.approx(ground, abs=1e-9)
    assert bool((out.energies >= ground - 1e-9).all())
    torch.testing.assert_close(
        model.energy(out.best_state[None]).double(), torch.tensor([ground], dtype=torch.float64)
    )
    assert out.trace.shape == (len(out.times), 64) and int(out.times[-1]) == 500


def test_annealing_finds_the_ground_state_of_a_sparse_glass_on_20_spins():
    g = torch.Generator().manual_seed(3)
    model = random_spin_glass(20, generator=g, dtype=torch.float64)
    dense = IsingModel.graph(model.couplings.to_dense())
    ground = _ground_energy(dense)
    out = simulated_annealing(model, _geometric(model, 300), sweeps=300, reads=32, generator=g)
    assert out.best_energy == pytest.approx(ground)
    assert success_probability(out.energies, ground) > 0.5


def test_annealing_finds_the_certified_ground_state_of_a_planar_glass():
    model, ground = _strip(6, 30, seed=4)
    out = simulated_annealing(
        model,
        _geometric(model, 2000),
        sweeps=2000,
        reads=64,
        generator=torch.Generator().manual_seed(5),
    )
    assert out.best_energy == pytest.approx(ground)
    assert bool((out.energies >= ground - 1e-9).all())


def test_heat_bath_sweeps_and_adaptive_cooling_also_reach_the_ground_state():
    model = _sk(16, 2)
    ground = _ground_energy(model)
    hot, cold = temperature_range(model)
    g = torch.Generator().manual_seed(6)
    gibbs = simulated_annealing(
        model, _geometric(model, 300), sweeps=300, reads=32, sweep="gibbs", generator=g
    )
    schedule = AdaptiveCooling(hot, cold, 299, acceptance_start=0.4, acceptance_end=0.002)
    adaptive = simulated_annealing(model, schedule, sweeps=300, reads=32, generator=g)
    assert gibbs.best_energy == pytest.approx(ground)
    assert adaptive.best_energy == pytest.approx(ground)
    # the temperature stays in its box and the acceptance follows the decaying target
    assert float(adaptive.kT.min()) >= cold - 1e-12 and float(adaptive.kT.max()) <= hot + 1e-12
    early, late = (
        adaptive.acceptance[: len(adaptive.times) // 5].mean(),
        adaptive.acceptance[-5:].mean(),
    )
    assert float(early) > 0.15 and float(late) < 0.02


def test_qubo_maps_to_ising_exactly_and_anneals_to_its_minimum():
    g = torch.Generator().manual_seed(7)
    q = torch.randn(12, 12, generator=g, dtype=torch.float64)
    model, offset = qubo_to_ising(q)
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=12)), dtype=torch.float64)
    direct = ((x @ q) * x).sum(-1)
    torch.testing.assert_close(model.energy(2 * x - 1) + offset, direct)
    sparse_model, sparse_offset = qubo_to_ising(q.to_sparse())
    torch.testing.assert_close(sparse_model.energy(2 * x[:50] - 1), model.energy(2 * x[:50] - 1))
    assert sparse_offset == pytest.approx(offset)
    out = simulated_annealing(model, _geometric(model, 400), sweeps=400, reads=32, generator=g)
    assert out.best_energy + offset == pytest.approx(float(direct.min()))


def test_langevin_annealing_escapes_the_local_minimum_of_a_tilted_double_well():
    class Tilted(Energy):
        def energy(self, x):
            return ((x.square() - 1).square() + 0.3 * x).sum(-1)  # global min near x = −1.04

    starts = torch.full((200, 1), 1.0, dtype=torch.float64)  # in the local well
    g = torch.Generator().manual_seed(8)
    hot = langevin_annealing(
        Tilted(), starts, ExponentialCooling(1.0, 0.02, 100.0), steps=10000, dt=0.01, generator=g
    )
    cold = langevin_annealing(Tilted(), starts, lambda t: 0.0, steps=2000, dt=0.01, generator=g)
    assert float((hot.states < 0).double().mean()) > 0.75
    assert bool((cold.states > 0).all())  # gradient descent stays in the local well
    assert hot.best_energy == pytest.approx(
        float(Tilted().energy(torch.tensor([[-1.0366]], dtype=torch.float64))), abs=1e-2
    )


def test_langevin_annealing_of_a_harmonic_well_ends_at_its_boltzmann_spread():
    well = QuadraticEnergy(torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    out = langevin_annealing(
        well,
        torch.full((4000, 2), 3.0, dtype=torch.float64),
        lambda t: 0.05,
        steps=1500,
        dt=0.01,
        generator=torch.Generator().manual_seed(9),
    )
    # overdamped OU at kT = 0.05: variance kT (1 − e^{−2t}) → 0.05
    assert float(out.states.var(0).mean()) == pytest.approx(0.05, rel=0.08)


def test_time_to_solution_and_success_probability():
    assert time_to_solution(0.5, 2.0) == pytest.approx(2.0 * math.log(0.01) / math.log(0.5))
    assert time_to_solution(0.995, 2.0) == 2.0
    assert time_to_solution(0.0, 2.0) == math.inf
    assert success_probability(torch.tensor([-3.0, -2.0, -3.0, -1.0]), -3.0) == 0.5


def test_temperature_range_and_random_glasses():
    g = torch.Generator().manual_seed(10)
    model = random_spin_glass(50, generator=g)
    dense = model.couplings.to_dense()
    assert bool(((dense != 0).sum(1) == 3).all()) and torch.equal(dense, dense.T)
    assert set(dense.unique().tolist()) == {-1.0, 0.0, 1.0}
    hot, cold = temperature_range(model)
    assert hot == pytest.approx(6.0 / math.log(2.0)) and cold == pytest.approx(
        2.0 / math.log(50 / 0.01)  # n e^{−ΔE/kT} = 0.01 excited spins
    )


def test_bad_input_names_the_argument():
    model = _sk(6, 0)
    schedule = ExponentialCooling(2.0, 0.1, 10)
    with pytest.raises(ValueError, match="sweeps"):
        simulated_annealing(model, schedule, sweeps=0, reads=4)
    with pytest.raises(ValueError, match="sweep"):
        simulated_annealing(model, schedule, sweeps=5, reads=4, sweep="wolff")
    with pytest.raises(ValueError, match="initial"):
        simulated_annealing(
            model, schedule, sweeps=5, reads=4, initial=torch.ones(3, 6, dtype=torch.float64)
        )
    with pytest.raises(ValueError, match="kT"):
        simulated_annealing(model, lambda t: 0.0, sweeps=5, reads=4)
    with pytest.raises(ValueError, match="end"):
        AdaptiveCooling(1.0, 2.0, 10)
    with pytest.raises(ValueError, match="acceptance_end"):
        AdaptiveCooling(2.0, 1.0, 10, acceptance_start=0.1, acceptance_end=0.2)
    with pytest.raises(ValueError, match="degree"):
        random_spin_glass(5, degree=3)
    with pytest.raises(ValueError, match="q"):
        qubo_to_ising(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="p"):
        time_to_solution(1.5, 1.0)
    with pytest.raises(ValueError, match="confidence"):
        time_to_solution(0.5, 1.0, confidence=1.0)
