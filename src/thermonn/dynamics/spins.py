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
from thermonn.dynamics.monte_carlo import MonteCarloStepper, check_beta

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
    sweep, dt = 1); subclasses give the per-colour update.

    The stepper's state is the configuration in the model's sweep layout: ``(chains, n)``, or
    spin-major and colour-sorted ``(n, chains)`` when the model has a :class:`SweepPlan`.
    :meth:`init` and :meth:`value` convert (the driver calls them once and per record);
    :meth:`advance` sweeps a state, :meth:`sweep` a plain ``(chains, n)`` configuration."""

    energy_type = SpinEnergy

    def _prepare(self) -> None:
        plan = self.energy.sweep_plan()
        self._remember("_plan", plan)
        self._remember("_colours", self.energy.colouring() if plan is None else [])
        if plan is not None:
            self._remember("_inverse", torch.argsort(plan.order))

    def check_state(self, x0: Tensor) -> None:
        check_spins(x0, self.energy.field.shape[-1])

    def init(self, x0: Tensor) -> Tensor:
        self.check_state(x0)
        plan: SweepPlan | None = self._plan  # type: ignore[attr-defined]
        return x0 if plan is None else x0[:, plan.order].T.contiguous()

    def value(self, state: Tensor) -> Tensor:
        """The ``(chains, n)`` configuration of a state."""
        if self._plan is None:  # type: ignore[attr-defined]
            return state
        return state[self._inverse].T.contiguous()  # type: ignore[attr-defined]

    def changed(self, old: Tensor, new: Tensor) -> Tensor:
        """The fraction of spins that differ between two states, per chain ``(chains,)``."""
        return (old != new).to(torch.float64).mean(0 if self._plan is not None else -1)  # type: ignore[attr-defined]

    def sweep(self, s: Tensor, beta: float | Tensor, generator: torch.Generator | None) -> Tensor:
        """One sweep of the configuration ``s`` ``(chains, n)`` at inverse temperature
        ``beta`` — a number, or one per chain ``(chains, 1)`` (replica exchange)."""
        return self.value(self.advance(self.init(s), beta, generator))

    def advance(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One sweep of a state (see the class) at ``beta``, returning a new state."""
        x = state.clone()  # a fresh configuration per sweep (the driver records by reference)
        plan: SweepPlan | None = self._plan  # type: ignore[attr-defined]
        check_beta(beta, x.shape[0] if plan is None else x.shape[1])
        if plan is None:
            for idx in self._colours:  # type: ignore[attr-defined]
                local = self.energy.local_field(x)[:, idx]
                u = torch.rand(local.shape, generator=generator, dtype=x.dtype, device=x.device)
                spins = x[:, idx]
                self._update_(spins, local, u, beta)
                x[:, idx] = spins
            return x
        b = beta.T if isinstance(beta, Tensor) else beta
        for (start, stop), field in zip(plan.bounds, plan.fields, strict=True):
            local = field(x)
            u = torch.rand(local.shape, generator=generator, dtype=x.dtype, device=x.device)
            self._update_(x[start:stop], local, u, b)
        return x

    @abc.abstractmethod
    def _update_(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> None:
        """Overwrite the colour's spins ``s`` with their new values, given their local fields
        and uniforms ``u`` (both fresh tensors the update may overwrite)."""


class BlockGibbs(SpinSweep):
    """Heat-bath sweeps: each colour drawn from its exact conditional (see the module)."""

    def _update_(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> None:
        p_up = local.mul_(2.0 * beta).sigmoid_()
        torch.lt(u, p_up, out=s)  # 1 where the spin is drawn up, else 0
        s.mul_(2.0).sub_(1.0)


class Metropolis(SpinSweep):
    """Metropolis sweeps: flip proposals per colour, accepted with min(1, e^{−βΔE})."""

    def _update_(self, s: Tensor, local: Tensor, u: Tensor, beta: float | Tensor) -> None:
        p_accept = local.mul_(s).mul_(-2.0 * beta).exp_()  # e^{−βΔE}, ΔE = 2 s (Js + h)
        flip = torch.lt(u, p_accept, out=u)  # 1 where the flip is accepted, else 0
        s.mul_(flip.mul_(-2.0).add_(1.0))
