r"""The q-state Potts model on periodic lattices, on the categorical-energy protocol.

.. math::  E(\sigma) = -J \sum_{\langle ij \rangle} \delta(\sigma_i, \sigma_j), \qquad
           \sigma_i \in \{0, \dots, q-1\}

q = 2 is the Ising model with coupling J/2 (up to a constant). On the square lattice the
transition is at :math:`kT_c = J / \ln(1 + \sqrt q)`, continuous for q ≤ 4 and first order
above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int
from thermonn.dynamics.categorical import CategoricalEnergy
from thermonn.machines.lattice import PeriodicLattice

__all__ = ["PottsModel", "potts_critical_temperature"]

MAX_ENUMERATED_STATES = 2**24


@dataclass(frozen=True, eq=False)
class PottsModel(CategoricalEnergy):
    """``PottsModel(PeriodicLattice((L, L)), q=3, coupling=1.0)``; ``dtype`` of the energies."""

    geometry: PeriodicLattice
    q: int
    coupling: float = 1.0
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if not isinstance(self.geometry, PeriodicLattice):
            raise TypeError(
                f"geometry: expected a PeriodicLattice, got {type(self.geometry).__name__}"
            )
        check_int("q", self.q, minimum=2)
        check_float("coupling", self.coupling)
        object.__setattr__(self, "n", self.geometry.n)

    def _one_hot(self, sigma: Tensor) -> Tensor:
        return torch.nn.functional.one_hot(sigma, self.q).to(self.dtype)

    def site_energies(self, sigma: Tensor) -> Tensor:
        """−J × (neighbours of site i holding value k), ``(..., n, q)``."""
        return -self.coupling * self.geometry.neighbour_sum(self._one_hot(sigma), trailing=1)

    def energy(self, sigma: Tensor) -> Tensor:
        """E(σ) = ½ Σ_i ε_{iσ_i}: every bond is seen from both ends."""
        eps = self.site_energies(sigma)
        return 0.5 * eps.gather(-1, sigma.unsqueeze(-1)).squeeze(-1).sum(-1)

    def colouring(self) -> list[Tensor]:
        return self.geometry.colouring()

    def states(self) -> Tensor:
        """All qⁿ configurations ``(qⁿ, n)``.

        Raises:
            ValueError: for more than 2²⁴ configurations.
        """
        total = self.q**self.n
        if total > MAX_ENUMERATED_STATES:
            raise ValueError(
                f"states: expected at most {MAX_ENUMERATED_STATES} configurations to "
                f"enumerate, got q^n = {self.q}^{self.n}"
            )
        codes = torch.arange(total)
        powers = self.q ** torch.arange(self.n)
        return (codes[:, None] // powers) % self.q


def potts_critical_temperature(q: int, coupling: float = 1.0) -> float:
    """kT_c = J / ln(1 + √q) of the square-lattice q-state Potts model."""
    check_int("q", q, minimum=2)
    return check_float("coupling", coupling, above=0.0) / math.log(1.0 + math.sqrt(q))
