r"""Parallel tempering (replica exchange) over a temperature ladder, for spin models.

R replicas of every chain run at :math:`kT_1 < \dots < kT_R`. One step is one sweep of every
replica at its own temperature, then swap proposals between neighbouring temperatures — the
even pairs (1,2), (3,4), … on even steps, the odd pairs on odd steps — each accepted with

.. math::  \min\big(1,\ e^{(\beta_r - \beta_{r+1})(E_r - E_{r+1})}\big),

which keeps the product of the R Boltzmann laws invariant: the cold replicas borrow the hot
ones' mobility (Swendsen & Wang 1986; Geyer 1991).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.spins import BlockGibbs, Metropolis, SpinEnergy, SpinSweep, check_spins

__all__ = ["ParallelTempering", "TemperingState"]

SWEEPS: dict[str, type[SpinSweep]] = {"gibbs": BlockGibbs, "metropolis": Metropolis}


class TemperingState(NamedTuple):
    """Configurations ``(replicas · chains, n)``, temperature-major, and the accepted and
    proposed swaps per neighbouring pair ``(replicas − 1,)``."""

    x: Tensor
    accepted: Tensor
    proposed: Tensor


class ParallelTempering:
    """Replica exchange of a :class:`~thermonn.dynamics.SpinEnergy` over ``temperatures``
    (increasing), each replica moved by ``sweep`` ("gibbs" or "metropolis"). The stepper's
    :meth:`init` takes ``(chains, n)`` and starts every replica there; recorded values are
    ``(replicas, chains, n)``; :meth:`acceptance` gives the swap rates of a final state."""

    def __init__(self, energy: SpinEnergy, temperatures: list[float], *, sweep: str = "gibbs"):
        if sweep not in SWEEPS:
            raise ValueError(f"sweep: expected one of {sorted(SWEEPS)}, got {sweep!r}")
        ladder = [check_float("temperatures", t, above=0.0) for t in temperatures]
        if len(ladder) < 2 or any(b <= a for a, b in itertools.pairwise(ladder)):
            raise ValueError(f"temperatures: expected >= 2 increasing values, got {ladder}")
        self.energy, self.temperatures = energy, ladder
        self._sweep = SWEEPS[sweep](energy, ladder[0])

    @property
    def dt(self) -> float:
        return 1.0

    def init(self, x0: Tensor) -> TemperingState:
        check_spins(x0, self.energy.field.shape[-1])
        pairs = len(self.temperatures) - 1
        zeros = torch.zeros(pairs, dtype=torch.int64, device=x0.device)
        return TemperingState(x0.repeat(len(self.temperatures), 1), zeros, zeros.clone())

    def value(self, state: TemperingState) -> Tensor:
        return state.x.unflatten(0, (len(self.temperatures), -1))

    def acceptance(self, state: TemperingState) -> Tensor:
        """Accepted / proposed swaps per neighbouring pair (NaN where none was proposed)."""
        return state.accepted.double() / state.proposed.double()

    def step(
        self, state: TemperingState, t: float, generator: torch.Generator | None
    ) -> TemperingState:
        replicas = len(self.temperatures)
        x = state.x
        beta = torch.tensor([1.0 / kT for kT in self.temperatures], dtype=x.dtype, device=x.device)
        rows = beta.repeat_interleave(len(x) // replicas)[:, None]
        x = self._sweep.sweep(x, rows, generator).unflatten(0, (replicas, -1))
        low = torch.arange(int(t) % 2, replicas - 1, 2, device=x.device)
        if len(low) == 0:
            return TemperingState(x.flatten(0, 1), state.accepted, state.proposed)
        e = self.energy.energy(x)  # (replicas, chains)
        log_ratio = (beta[low] - beta[low + 1])[:, None] * (e[low] - e[low + 1])
        u = torch.rand(log_ratio.shape, generator=generator, dtype=x.dtype, device=x.device)
        swap = (u < torch.exp(log_ratio))[..., None]
        new = x.clone()
        new[low] = torch.where(swap, x[low + 1], x[low])
        new[low + 1] = torch.where(swap, x[low], x[low + 1])
        accepted = state.accepted.index_add(0, low, swap[..., 0].sum(1))
        proposed = state.proposed.index_add(0, low, torch.full_like(low, x.shape[1]))
        return TemperingState(new.flatten(0, 1), accepted, proposed)
