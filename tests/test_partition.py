"""log Z of spin, Potts and Hopfield models: AIS along the temperature path against enumeration."""

import math

import pytest
import torch

from thermonn.dynamics import Energy, boltzmann, log_partition
from thermonn.estimators import TemperaturePath, ais, annealing_schedule, reverse_ais
from thermonn.machines import IsingModel, PeriodicLattice, PottsModel, hebbian


def _hopfield():
    g = torch.Generator().manual_seed(0)
    patterns = 2.0 * torch.randint(0, 2, (2, 12), generator=g).double() - 1.0
    return hebbian(patterns), 0.6


def _glass():
    g = torch.Generator().manual_seed(1)
    j = torch.triu(torch.randn(10, 10, generator=g, dtype=torch.float64), 1)
    return IsingModel.graph(
        j + j.T, field=0.3 * torch.randn(10, generator=g, dtype=torch.float64)
    ), 1.2


CASES = {
    "ising 4x4 at kT=2.5": lambda: (IsingModel.lattice((4, 4), dtype=torch.float64), 2.5),
    "ising 4x4 at kT=1.5 (ordered)": lambda: (IsingModel.lattice((4, 4), dtype=torch.float64), 1.5),
    "glass with fields": _glass,
    "hopfield at kT=0.6": _hopfield,
    "potts q=3 2x3": lambda: (
        PottsModel(PeriodicLattice((2, 3)), q=3, coupling=1.0, dtype=torch.float64),
        0.8,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ais_brackets_the_enumerated_log_partition(case):
    model, kT = CASES[case]()
    exact = float(log_partition(model, kT))
    path = TemperaturePath(model, kT)
    betas = annealing_schedule(400)
    g = torch.Generator().manual_seed(2)
    forward, _ = ais(path, betas, chains=400, generator=g)
    states, p = boltzmann(model, kT)
    samples = states[torch.multinomial(p.float(), 400, replacement=True, generator=g)]
    reverse = reverse_ais(path, betas, samples, generator=g)
    assert abs(forward.log_z - exact) < 0.05 and abs(reverse.log_z - exact) < 0.05
    assert forward.log_z < exact + 4 * forward.log_z_std + 1e-3
    assert reverse.log_z > exact - 4 * reverse.log_z_std - 1e-3


def test_log_partition_is_the_brute_force_sum():
    model = IsingModel.lattice((2, 3), coupling=0.7, field=0.1, dtype=torch.float64)
    s = model.states()
    brute = math.log(sum(math.exp(-float(model.energy(x[None])) / 1.3) for x in s))
    assert float(log_partition(model, 1.3)) == pytest.approx(brute, rel=1e-12)
    with pytest.raises(ValueError, match="kT"):
        log_partition(model, 0.0)

    class Continuous(Energy):
        def energy(self, x):
            return x.square().sum(-1)

    with pytest.raises(ValueError, match="states"):
        log_partition(Continuous(), 1.0)
    with pytest.raises(TypeError, match="SpinEnergy"):
        TemperaturePath(Continuous(), 1.0)
