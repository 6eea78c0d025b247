r"""Pairwise ±1 spin energies and their Monte-Carlo steppers (one step = one sweep).

A :class:`SpinEnergy` is

.. math::  E(s) = -\sum_{i<j} J_{ij} s_i s_j - \sum_i h_i s_i, \qquad s_i \in \{-1, +1\},

given through its coupling field :math:`(Js)_i = \sum_j J_{ij} s_j` and a colouring of the
interaction graph into independent sets (no two spins of one colour interact), so every spin of
a colour can be updated at once. Both steppers sweep the colours in order; each colour update
leaves the Boltzmann law :math:`p(s) \propto e^{-E(s)/kT}` invariant:

* :class:`BlockGibbs` draws every spin of the colour from its conditional,
  :math:`p(s_i = +1 \mid s_{-i}) = \sigma(2 (Js + h)_i / kT)`;
* :class:`Metropolis` proposes to flip them, accepting with :math:`\min(1, e^{-\Delta E_i/kT})`,
  :math:`\Delta E_i = 2 s_i (Js + h)_i`.

``kT`` is a number or a schedule t ↦ kT (annealing), with t counted in sweeps. States are
``(chains, n)`` tensors of ±1 in a floating dtype; many chains run at once.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn.dynamics.energy import Energy
from thermonn.dynamics.monte_carlo import MonteCarloStepper

__all__ = ["BlockGibbs", "Metropolis", "SpinEnergy", "SpinSweep", "SweepPlan", "check_spins"]

Schedule = Callable[[float], float]


class SpinEnergy(Energy):
    """Base class of pairwise ±1 spin models: subclasses give :meth:`coupling_field`, the
    fields :attr:`field` ``(n,)`` and :meth:`colouring`; the energy follows."""

    field: Tensor

    @abc.abstractmethod
    def coupling_field(self, s: Tensor) -> Tensor:
        """:math:`(Js)_i`, shape of ``s`` ``(..., n)``."""

    @abc.abstractmethod
    def colouring(self) -> list[Tensor]:
        """Index tensors of the colour classes: they partition the spins, and no two spins of
        one class interact."""

    @abc.abstractmethod
    def edges(self) -> tuple[Tensor, Tensor, Tensor]:
        """The bonds ``(i, j, J_ij)``, each once (a bond through a wrap of side 2 twice, as the
        coupling field counts it): what cluster moves need."""

    def sweep_plan(self) -> SweepPlan | None:
        """An optional spin-major fast path for the sweeps (see :class:`SweepPlan`); None
        (the default) sweeps each colour through :meth:`local_field`."""
        return None

    def energy(self, s: Tensor) -> Tensor:
        """E(s) = −Σ_i s_i (½ (Js)_i + h_i): each bond once."""
        return -(s * (0.5 * self.coupling_field(s) + self.field)).sum(-1)

    def local_field(self, s: Tensor) -> Tensor:
        """(Js + h)_i: minus the energy change per unit change of s_i."""
        return self.coupling_field(s) + self.field


@dataclass(frozen=True, eq=False)
class SweepPlan:
    """A model's spin-major sweep: the spins reordered by colour (``order``, a permutation of
    0 … n − 1) so every colour is the contiguous row range ``bounds[c]`` of the state held
    as ``x = s[:, order].T`` ``(n, chains)``; ``fields[c](x)`` is (Js + h) on those rows,
    ``(stop − start, chains)``. Colour updates are then in-place slices and a sparse graph's
    field one CSR product per colour (the analogue of :class:`~thermonn.dynamics.AffineSplit`
    for the Euler–Maruyama stepper)."""

    order: Tensor
    bounds: Sequence[tuple[int, int]]
    fields: Sequence[Callable[[Tensor], Tensor]]


def check_spins(x0: Tensor, n: int) -> None:
    if x0.dim() != 2 or x0.shape[1] != n or not x0.is_floating_point():
        raise ValueError(
            f"spins: expected a floating tensor of shape (chains, {n}), got "
            f"{x0.dtype} {tuple(x0.shape)}"
        )
    if not bool(((x0 == 1) | (x0 == -1)).all()):
        raise ValueError("spins: expected every entry to be -1 or +1")


class SpinSweep(MonteCarloStepper[SpinEnergy]):
    """Base of the sweep steppers: the energy, the temperature and the clock (a step is one
    sweep, dt = 1); subclasses give the per-colour update."""

    energy_type = SpinEnergy

    def _prepare(self) -> None:
        plan = self.energy.sweep_plan()
        self._remember("_plan", plan)
        self._remember("_colours", self.energy.colouring() if plan is None else [])
        if plan is not None:
            self._remember("_inverse", torch.argsort(plan.order))

    def check_state(self, x0: Tensor) -> None:
        check_spins(x0, self.energy.field.shape[-1])

    def step(self, state: Tensor, t: float, generator: torch.Generator | None) -> Tensor:
        return self.sweep(state, self.beta(t), generator)

    def sweep(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One sweep over the colours at inverse temperature ``beta`` — a number, or one per
        chain ``(chains, 1)`` (replica exchange) — returning a new configuration."""
        plan: SweepPlan | None = self._plan  # type: ignore[attr-defined]
        if plan is not None:
            return self._sweep_spin_major(plan, state, beta, generator)
        s = state.clone()  # a fresh configuration per sweep (the driver records by reference)
        for idx in self._colours:  # type: ignore[attr-defined]
            local = self.energy.local_field(s)[:, idx]
            u = torch.rand(local.shape, generator=generator, dtype=s.dtype, device=s.device)
            s[:, idx] = self._update(s[:, idx], local, u, beta)
        return s

    def _sweep_spin_major(
        self,
        plan: SweepPlan,
        state: Tensor,
        beta: float | Tensor,
        generator: torch.Generator | None,
    ) -> Tensor:
        x = state[:, plan.order].T.contiguous()
        b = beta.T if isinstance(beta, Tensor) else beta
        for (start, stop), field in zip(plan.bounds, plan.fields, strict=True):
            local = field(x)
            u = torch.rand(local.shape, generator=generator, dtype=x.dtype, device=x.device)
            x[start:stop] = self._update(x[start:stop], local, u, b)
        return x[self._inverse].T.contiguous()  # type: ignore[attr-defined]

    @abc.abstractmethod
    def _update(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> Tensor:
        """The colour's new spins from its current ones, local fields and uniforms ``u``."""


class BlockGibbs(SpinSweep):
    """Heat-bath sweeps: each colour drawn from its exact conditional (see the module)."""

    def _update(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> Tensor:
        up = u < torch.sigmoid(2.0 * beta * local)
        return up.to(s.dtype).mul_(2.0).sub_(1.0)


class Metropolis(SpinSweep):
    """Metropolis sweeps: flip proposals per colour, accepted with min(1, e^{−βΔE})."""

    def _update(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> Tensor:
        accept = u < torch.exp(-2.0 * beta * s * local)
        return s * (1.0 - 2.0 * accept.to(s.dtype))
