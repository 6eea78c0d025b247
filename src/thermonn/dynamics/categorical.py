r"""Heat-bath sweeps for models of q-valued sites (Potts and the like).

A :class:`CategoricalEnergy` gives, for every site i and value k, the energy
:math:`\varepsilon_{ik}(\sigma)` of the terms that involve site i when it takes value k (its
neighbours held fixed), and a colouring into independent sets. :class:`CategoricalGibbs` then
draws every site of a colour from its exact conditional

.. math::  p(\sigma_i = k \mid \sigma_{-i}) \propto e^{-\varepsilon_{ik}/kT}

(Gumbel-max sampling, all chains at once). States are ``(chains, n)`` integer tensors with
values in 0 … q − 1; one step is one sweep.
"""

from __future__ import annotations

import abc

import torch
from torch import Tensor

from thermonn.dynamics.energy import Energy
from thermonn.dynamics.monte_carlo import MonteCarloStepper, check_beta

__all__ = ["CategoricalEnergy", "CategoricalGibbs"]


class CategoricalEnergy(Energy):
    """Base class of q-valued site models: subclasses give :attr:`q`, :attr:`n`,
    :meth:`site_energies` and :meth:`colouring` (and :meth:`energy`)."""

    q: int
    n: int

    @abc.abstractmethod
    def site_energies(self, sigma: Tensor) -> Tensor:
        """ε_ik(σ), shape ``(..., n, q)``."""

    @abc.abstractmethod
    def colouring(self) -> list[Tensor]:
        """Index tensors of independent sets that cover every site."""


class CategoricalGibbs(MonteCarloStepper[CategoricalEnergy]):
    """Heat-bath sweeps of a :class:`CategoricalEnergy` at ``kT`` (a number or a schedule)."""

    energy_type = CategoricalEnergy

    def _prepare(self) -> None:
        self._remember("_colours", self.energy.colouring())

    def check_state(self, x0: Tensor) -> None:
        q, n = self.energy.q, self.energy.n
        if x0.dim() != 2 or x0.shape[1] != n or x0.is_floating_point():
            raise ValueError(
                f"states: expected an integer tensor of shape (chains, {n}), got "
                f"{x0.dtype} {tuple(x0.shape)}"
            )
        if bool(((x0 < 0) | (x0 >= q)).any()):
            raise ValueError(f"states: expected values in 0 … {q - 1}")

    def advance(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One sweep at inverse temperature ``beta``: a number, or one per chain ``(chains, 1)``."""
        check_beta(beta, state.shape[0])
        if isinstance(beta, Tensor):
            beta = beta[..., None]  # broadcast over the q values
        sigma = state.clone()
        for idx in self._colours:  # type: ignore[attr-defined]
            logits = -beta * self.energy.site_energies(sigma)[:, idx]
            u = torch.rand(
                logits.shape, generator=generator, dtype=logits.dtype, device=logits.device
            )
            gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
            sigma[:, idx] = (logits + gumbel).argmax(-1)
        return sigma
