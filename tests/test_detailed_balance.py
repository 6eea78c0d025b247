"""Detailed balance π(s) K(s → s') = π(s') K(s' → s) of every discrete stepper on three sites.

K is measured: from each of the enumerated states, many chains take one step, and the counts
estimate the transition matrix. Colour-sweep steppers compose one update per colour (a sweep
in a fixed order is not reversible, each colour update is), so their kernel is measured on one
colour class at a time; Swendsen–Wang and the RBM's v → h → v sweep are reversible whole.
"""

from dataclasses import dataclass

import pytest
import torch

from thermonn.dynamics import (
    BlockGibbs,
    CategoricalGibbs,
    Metropolis,
    SweepPlan,
    SwendsenWang,
    boltzmann,
)
from thermonn.machines import BernoulliUnits, PeriodicLattice, PottsModel, RBMEnergy, RBMGibbs
from thermonn.machines.ising import IsingModel

CHAINS = 20000


def _kernel(step, states):
    """Empirical K[a, b] = P(state b after one step | state a), and its count matrix."""
    counts = torch.zeros(len(states), len(states), dtype=torch.float64)
    for a, s in enumerate(states):
        out = step(s.expand(CHAINS, -1).clone())
        match = (out[:, None, :] == states[None]).all(-1)
        assert bool((match.sum(1) == 1).all()), "a step left the state space"
        counts[a] = match.double().sum(0)
    return counts / CHAINS


def _assert_balanced(k, p):
    flow = p[:, None] * k  # π(a) K(a → b)
    # binomial standard error of each flow, from the larger of the two estimates
    err = torch.sqrt(p[:, None] ** 2 * k * (1 - k) / CHAINS)
    err = torch.maximum(err, err.T)
    assert bool((k.diagonal() < 1).any()), "the stepper never moves"
    assert float(((flow - flow.T).abs() - 5 * err).max()) < 1e-3


@dataclass(frozen=True, eq=False)
class _OneColour(IsingModel):
    """The model with its sweep restricted to one colour class: through the spin-major plan
    (``planned``) or through the generic colour loop."""

    keep: int = 0
    planned: bool = True

    def colouring(self):
        return super().colouring() if self.planned else [super().colouring()[self.keep]]

    def sweep_plan(self):
        if not self.planned:
            return None
        plan = super().sweep_plan()
        return SweepPlan(plan.order, [plan.bounds[self.keep]], [plan.fields[self.keep]])


def _chain(keep, planned):
    j = torch.tensor([[0.0, 1.1, 0.0], [1.1, 0.0, -0.6], [0.0, -0.6, 0.0]], dtype=torch.float64)
    base = IsingModel.graph(j, field=torch.tensor([0.4, -0.3, 0.2], dtype=torch.float64))
    return _OneColour(base.n, base.field, couplings=base.couplings, keep=keep, planned=planned)


@pytest.mark.parametrize("stepper", [BlockGibbs, Metropolis])
@pytest.mark.parametrize("keep", [0, 1])
@pytest.mark.parametrize("planned", [True, False])
def test_each_colour_update_of_the_spin_steppers_is_reversible(stepper, keep, planned):
    model, kT = _chain(keep, planned), 0.9
    states, p = boltzmann(model, kT)
    g = torch.Generator().manual_seed(keep)
    k = _kernel(lambda x: stepper(model, kT).sweep(x, 1 / kT, g), states)
    _assert_balanced(k, p)


def test_swendsen_wang_is_reversible():
    j = torch.tensor([[0.0, 1.0, 0.5], [1.0, 0.0, -0.8], [0.5, -0.8, 0.0]], dtype=torch.float64)
    model, kT = IsingModel.graph(j), 1.2
    states, p = boltzmann(model, kT)
    g = torch.Generator().manual_seed(2)
    stepper = SwendsenWang(model, kT)
    _assert_balanced(_kernel(lambda x: stepper.step(x, 0.0, g), states), p)


def test_the_rbm_sweep_is_reversible_in_the_visible_layer():
    g = torch.Generator().manual_seed(3)
    e = RBMEnergy(
        torch.randn(3, 2, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.randn(2, generator=g, dtype=torch.float64),
        BernoulliUnits(),
    )
    states, p = boltzmann(e, 1.0)
    stepper = RBMGibbs(e)
    _assert_balanced(_kernel(lambda x: stepper.step(x, 0.0, g), states), p)


@dataclass(frozen=True, eq=False)
class _OnePottsColour(PottsModel):
    keep: int = 0

    def colouring(self):
        return [super().colouring()[self.keep]]


def test_each_colour_update_of_the_potts_heat_bath_is_reversible():
    model = _OnePottsColour(PeriodicLattice((3,)), q=2, coupling=0.8, dtype=torch.float64, keep=1)
    states, p = boltzmann(model, 0.7)
    g = torch.Generator().manual_seed(4)
    stepper = CategoricalGibbs(model, 0.7)
    _assert_balanced(_kernel(lambda x: stepper.step(x, 0.0, g), states), p)
