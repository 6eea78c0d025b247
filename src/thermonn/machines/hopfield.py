r"""The classic Hopfield network (Hopfield 1982; Amit, Gutfreund & Sompolinsky 1985) as an Ising
model: binary associative memory with temperature.

Hebbian storage of patterns :math:`\xi^\mu \in \{-1, +1\}^N`, :math:`\mu = 1 \dots P`:

.. math::  J_{ij} = \frac1N \sum_\mu \xi^\mu_i \xi^\mu_j \ (i \ne j), \quad J_{ii} = 0, \qquad
           E(s) = -\tfrac12 s^\top J s,

so the network is :class:`~thermonn.machines.IsingModel` ``.graph(J)`` and every spin stepper
of the engine runs it: asynchronous updates are single-spin sweeps (``BlockGibbs`` at kT → 0
descends E; at kT > 0 it samples the Boltzmann law), and :func:`synchronous_update` is the
parallel rule s ← sign(J s). Retrieval works up to a load α = P/N ≈ 0.138 at kT = 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from thermonn.machines.ising import IsingModel

__all__ = ["hebbian", "overlaps", "synchronous_update"]


def _check_patterns(patterns: Tensor) -> None:
    if patterns.dim() != 2 or not patterns.is_floating_point():
        raise ValueError(
            f"patterns: expected a floating (P, N) tensor, got {patterns.dtype} {tuple(patterns.shape)}"
        )
    if not bool(((patterns == 1) | (patterns == -1)).all()):
        raise ValueError("patterns: expected every entry to be -1 or +1")


def hebbian(patterns: Tensor) -> IsingModel:
    """The Hopfield network storing ``patterns`` ``(P, N)`` of ±1 by Hebb's rule."""
    _check_patterns(patterns)
    n = patterns.shape[1]
    j = patterns.T @ patterns / n
    return IsingModel.graph(j.fill_diagonal_(0.0))


def overlaps(s: Tensor, patterns: Tensor) -> Tensor:
    """m_μ = (1/N) Σ_i ξ^μ_i s_i of states ``(..., N)`` with every pattern: ``(..., P)``."""
    _check_patterns(patterns)
    return s @ patterns.T / patterns.shape[1]


def synchronous_update(model: IsingModel, s: Tensor) -> Tensor:
    """Every spin at once: s ← sign(J s + h), a spin with zero field keeping its sign."""
    local = model.local_field(s)
    return torch.where(local == 0, s, torch.sign(local))
