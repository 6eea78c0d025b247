"""The statistical-mechanics vocabulary and the energies against hand-computed values."""

import math

import pytest
import torch

from thermonn.functional import potentials as pot
from thermonn.functional import statmech as sm


def test_gibbs_entropy_of_two_levels_matches_the_hand_computed_value():
    e, kT = torch.tensor([0.0, 1.0], dtype=torch.float64), 0.5
    p1 = math.exp(-2.0) / (1 + math.exp(-2.0))
    expected = -(p1 * math.log(p1) + (1 - p1) * math.log(1 - p1))
    assert float(sm.gibbs_entropy(e, kT)) == pytest.approx(expected, rel=1e-12)
    # S = ln Z + U / kT
    s = float(sm.log_partition_function(e, kT) + sm.mean_energy(e, kT) / kT)
    assert s == pytest.approx(expected, rel=1e-12)
    # infinite temperature: ln(number of levels)
    assert float(sm.gibbs_entropy(torch.zeros(7), 3.0)) == pytest.approx(math.log(7), rel=1e-6)


def test_gibbs_entropy_is_finite_at_energy_over_temperature_1e4_in_float32():
    e = torch.tensor([[0.0, 1e4, 2e4], [-1e4, 0.0, 1e4]], dtype=torch.float32, requires_grad=True)
    s = sm.gibbs_entropy(e, 1.0)
    assert bool(torch.isfinite(s).all())
    assert float(s.detach().abs().max()) < 1e-6  # one level dominates
    s.sum().backward()
    assert bool(torch.isfinite(e.grad).all())
    assert bool(torch.isfinite(sm.heat_capacity(e.detach(), 1.0)).all())
    assert bool(torch.isfinite(sm.log_partition_function(e.detach(), 1.0)).all())


def test_heat_capacity_is_the_derivative_of_the_mean_energy():
    e = torch.tensor([0.0, 0.3, 1.0, 2.5], dtype=torch.float64)
    for kT in (0.2, 1.0, 4.0):
        fd = sm.finite_difference_heat_capacity(lambda t: sm.mean_energy(e, t), kT, step=1e-4)
        assert float(sm.heat_capacity(e, kT)) == pytest.approx(float(fd), rel=1e-6)


def test_harmonic_oscillator_heat_capacity_closed_form():
    # levels E_n = ω (n + ½): the exact Var(E)/kT² of 400 levels equals Einstein's formula
    levels = torch.arange(400, dtype=torch.float64) + 0.5
    for kT in (0.1, 0.5, 1.0, 5.0):
        assert float(sm.heat_capacity(levels, kT)) == pytest.approx(
            sm.harmonic_heat_capacity(kT), rel=1e-6
        )
    assert sm.harmonic_heat_capacity(1e4) == pytest.approx(1.0, abs=1e-8)  # classical limit
    assert sm.harmonic_heat_capacity(1e-3) == 0.0
    assert sm.harmonic_heat_capacity(2.0, quantum=False) == 1.0
    t = torch.tensor([0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(
        sm.harmonic_heat_capacity(t),
        torch.tensor(
            [sm.harmonic_heat_capacity(0.5), sm.harmonic_heat_capacity(1.0)], dtype=torch.float64
        ),
    )


def test_shannon_binary_mixing_and_configurational_entropies():
    p = torch.tensor([0.5, 0.25, 0.25, 0.0])
    assert float(sm.shannon_entropy(p)) == pytest.approx(1.5 * math.log(2))
    assert float(sm.binary_entropy(torch.tensor(0.5))) == pytest.approx(math.log(2))
    assert float(sm.binary_entropy(torch.tensor(0.0))) == 0.0
    # two equal amounts mix with 2 n ln 2
    assert float(sm.mixing_entropy(torch.tensor([3.0, 3.0]))) == pytest.approx(6 * math.log(2))
    # Ω = 10! / (3! 7!) = 120
    assert float(sm.configurational_entropy(torch.tensor([3, 7]))) == pytest.approx(
        math.log(120), rel=1e-6
    )
    # Stirling: ln Ω ≈ N H(x) for large N
    big = torch.tensor([3e6, 7e6], dtype=torch.float64)
    h = float(sm.shannon_entropy(torch.tensor([0.3, 0.7], dtype=torch.float64)))
    assert float(sm.configurational_entropy(big)) / 1e7 == pytest.approx(h, rel=1e-5)


def test_entropy_gradients_by_gradcheck():
    e = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sm.gibbs_entropy(x, 0.7), (e,))
    assert torch.autograd.gradcheck(lambda x: sm.heat_capacity(x, 1.3), (e,))
    p = torch.rand(4, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(sm.binary_entropy, (p,))


def test_potentials_against_their_formulas():
    r = torch.tensor([0.9, 2 ** (1 / 6), 1.5, 3.0], dtype=torch.float64)
    lj = pot.lennard_jones(r)
    torch.testing.assert_close(lj, 4 * (r**-12 - r**-6))
    assert float(lj[1]) == pytest.approx(-1.0)  # the minimum −ε at 2^{1/6} σ
    cut = pot.lennard_jones(r, cutoff=2.5)
    assert float(cut[3]) == 0.0 and float(cut[2]) == pytest.approx(
        float(lj[2] - 4 * (2.5**-12 - 2.5**-6))
    )
    unshifted = pot.lennard_jones(r, cutoff=2.5, shift=False)
    torch.testing.assert_close(unshifted[:3], lj[:3])
    torch.testing.assert_close(pot.coulomb(r, 2.0, -1.0, k=3.0), -6.0 / r)
    assert float(pot.coulomb(torch.tensor([2.0]), 1.0, 1.0, cutoff=2.0)) == 0.0
    torch.testing.assert_close(pot.harmonic(r, 2.0, 1.0), (r - 1).square())
    v = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    torch.testing.assert_close(pot.kinetic_energy(v, 2.0), torch.tensor([5.0, 9.0]))


def test_pair_and_bond_energies_sum_over_pairs():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    d01, d02, d12 = 1.0, 2.0, math.sqrt(5.0)
    total = pot.pair_energy(x, lambda r: pot.coulomb(r, 1.0, 1.0))
    assert float(total) == pytest.approx(1 / d01 + 1 / d02 + 1 / d12)
    batch = torch.stack([x, 2 * x])
    assert pot.pair_energy(batch, pot.lennard_jones).shape == (2,)
    bonds = torch.tensor([[0, 1], [0, 2]])
    assert float(pot.bond_energy(x, bonds, k=2.0, r0=1.0)) == pytest.approx(0.0 + (2.0 - 1.0) ** 2)
    # forces by autograd: −∇ of a bond pulls the atoms together
    y = x.clone().requires_grad_(True)
    pot.bond_energy(y, bonds[1:], r0=1.0).backward()
    assert float(y.grad[2, 1]) > 0 and float(y.grad[0, 1]) < 0


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="kT"):
        sm.gibbs_entropy(torch.zeros(2), 0.0)
    with pytest.raises(ValueError, match="kT"):
        sm.gibbs_entropy(torch.zeros(2), torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="amounts"):
        sm.mixing_entropy(torch.tensor([-1.0, 2.0]))
    with pytest.raises(ValueError, match="counts"):
        sm.configurational_entropy(torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match="step"):
        sm.finite_difference_heat_capacity(lambda t: t, 1.0, step=2.0)
    with pytest.raises(ValueError, match="sigma"):
        pot.lennard_jones(torch.ones(2), sigma=0.0)
    with pytest.raises(ValueError, match="cutoff"):
        pot.lennard_jones(torch.ones(2), cutoff=-1.0)
    with pytest.raises(ValueError, match="positions"):
        pot.pair_energy(torch.zeros(1, 3), pot.lennard_jones)
    with pytest.raises(ValueError, match="bonds"):
        pot.bond_energy(torch.zeros(3, 2), torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="bonds"):
        pot.bond_energy(torch.zeros(3, 2), torch.tensor([[0.0, 1.0]]))
