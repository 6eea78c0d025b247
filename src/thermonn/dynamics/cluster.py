r"""Swendsen–Wang cluster moves for zero-field pairwise spin models (one step = one update).

Each satisfied bond (:math:`J_{ij} s_i s_j > 0`) is activated with probability
:math:`1 - e^{-2|J_{ij}|/kT}`; the connected components of active bonds are the clusters, and
every cluster flips with probability ½ (Swendsen & Wang 1987). The move leaves the Boltzmann
law invariant and decorrelates far faster than single-spin updates near T_c. Components are
found for all chains at once by root hooking and pointer jumping (:func:`cluster_labels`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from thermonn.dynamics.monte_carlo import MonteCarloStepper, check_beta
from thermonn.dynamics.spins import SpinEnergy, check_spins

__all__ = ["SwendsenWang", "cluster_labels"]


def cluster_labels(active: Tensor, i: Tensor, j: Tensor, n: int) -> Tensor:
    """Connected components of the graph on ``n`` vertices whose edge e = (i[e], j[e]) is
    present where ``active[c, e]``, for every row c at once: ``(chains, n)`` labels, equal
    exactly within a component (the smallest vertex of each component).

    Shiloach–Vishkin style: every round hooks the larger of the two roots of each active edge
    under the smaller one, then pointer jumping flattens the trees into stars; rounds repeat
    until every active edge joins equal labels (a few rounds, growing like log n)."""
    chains = active.shape[0]
    labels = torch.arange(n, device=active.device).expand(chains, n).contiguous()
    ii, jj = i.expand(chains, -1), j.expand(chains, -1)
    while True:
        li, lj = labels.gather(1, ii), labels.gather(1, jj)
        joins = active & (li != lj)
        if not bool(joins.any()):
            return labels
        hi, lo = torch.maximum(li, lj), torch.minimum(li, lj)
        # hook: root hi's parent becomes min(its parent, lo); an inactive edge writes hi → hi
        labels = labels.scatter_reduce(1, hi, torch.where(joins, lo, hi), "amin")
        while True:  # pointer jumping until every vertex points at a root
            jumped = labels.gather(1, labels)
            if torch.equal(jumped, labels):
                break
            labels = jumped


class SwendsenWang(MonteCarloStepper[SpinEnergy]):
    """Swendsen–Wang updates of a zero-field :class:`~thermonn.dynamics.SpinEnergy` at ``kT``
    (a number or a schedule t ↦ kT)."""

    energy_type = SpinEnergy

    def _prepare(self) -> None:
        if bool((self.energy.field != 0).any()):
            raise ValueError("energy: Swendsen-Wang expects zero fields, got a non-zero field")
        self._remember("_edges", self.energy.edges())

    def check_state(self, x0: Tensor) -> None:
        check_spins(x0, self.energy.field.shape[-1])

    def advance(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One update at inverse temperature ``beta``, a number or one per chain ``(chains, 1)``."""
        check_beta(beta, state.shape[0])
        i, j, coupling = self._edges  # type: ignore[attr-defined]
        satisfied = coupling * state[:, i] * state[:, j] > 0
        p = -torch.expm1(-2.0 * beta * coupling.abs())
        u = torch.rand(satisfied.shape, generator=generator, dtype=state.dtype, device=state.device)
        labels = cluster_labels(satisfied & (u < p), i, j, state.shape[1])
        coin = torch.rand(state.shape, generator=generator, device=state.device) < 0.5
        return torch.where(coin.gather(1, labels), -state, state)
