"""The q-state Potts model and its heat-bath sweeps against exact enumeration and Ising."""

import pytest
import torch

from helpers import chi2_pvalue
from thermonn.dynamics import CategoricalGibbs, boltzmann, integrate
from thermonn.machines import (
    IsingModel,
    PeriodicLattice,
    PottsModel,
    onsager,
    potts_critical_temperature,
)


def _codes(sigma, q):
    return (sigma * q ** torch.arange(sigma.shape[-1])).sum(-1)


def test_two_state_potts_is_ising_at_half_the_coupling():
    lattice = PeriodicLattice((3, 4))
    potts = PottsModel(lattice, q=2, coupling=1.4, dtype=torch.float64)
    ising = IsingModel.lattice((3, 4), coupling=0.7, dtype=torch.float64)
    sigma = torch.randint(0, 2, (6, 12), generator=torch.Generator().manual_seed(0))
    bonds = 2 * 12  # d · n
    expected = ising.energy(2.0 * sigma.double() - 1) - 1.4 * bonds / 2
    torch.testing.assert_close(potts.energy(sigma), expected)
    assert potts_critical_temperature(2, 1.4) == pytest.approx(
        onsager(1.0, 0.7).critical_temperature
    )


def test_energy_counts_equal_neighbours():
    potts = PottsModel(PeriodicLattice((3, 3)), q=3, dtype=torch.float64)
    sigma = torch.randint(0, 3, (4, 9), generator=torch.Generator().manual_seed(1))
    grid = sigma.reshape(4, 3, 3)
    same = (grid == grid.roll(1, 1)).sum((1, 2)) + (grid == grid.roll(1, 2)).sum((1, 2))
    torch.testing.assert_close(potts.energy(sigma), -same.double())


def test_heat_bath_samples_the_exact_law_and_one_sweep_keeps_it():
    model, kT = PottsModel(PeriodicLattice((2, 3)), q=3, coupling=1.0, dtype=torch.float64), 2.0
    states, p = boltzmann(model, kT)
    chains = 20000
    g = torch.Generator().manual_seed(2)
    out = integrate(
        CategoricalGibbs(model, kT), torch.randint(0, 3, (chains, 6), generator=g), steps=40,
        generator=g,
    )  # fmt: skip
    assert chi2_pvalue(_codes(out.final, 3), p) > 1e-3
    start = states[torch.multinomial(p.float(), chains, replacement=True, generator=g)]
    one = integrate(CategoricalGibbs(model, kT), start, steps=1, generator=g).final
    assert chi2_pvalue(_codes(one, 3), p) > 1e-3
    assert (one != start).any(-1).double().mean() > 0.3


def test_bad_input_names_the_argument():
    lattice = PeriodicLattice((2, 2))
    with pytest.raises(ValueError, match="q"):
        PottsModel(lattice, q=1)
    with pytest.raises(ValueError, match="values in 0"):
        integrate(CategoricalGibbs(PottsModel(lattice, q=3), 1.0), torch.full((1, 4), 3), steps=1)
    with pytest.raises(ValueError, match="integer"):
        integrate(CategoricalGibbs(PottsModel(lattice, q=3), 1.0), torch.zeros(1, 4), steps=1)
    with pytest.raises(ValueError, match="at most"):
        PottsModel(PeriodicLattice((4, 4)), q=3).states()
    with pytest.raises(ValueError, match="kT"):
        CategoricalGibbs(PottsModel(lattice, q=3), -1.0)
