r"""The modern continuous Hopfield energy and update (Ramsauer et al. 2021, "Hopfield Networks
is All You Need").

Stored patterns :math:`X = (x_1, \dots, x_N)`, given as rows ``(N, d)``, state (query)
:math:`\xi \in \mathbb R^d`, inverse temperature β:

.. math::
    E(\xi) = -\beta^{-1} \log \sum_{i=1}^N e^{\beta x_i^\top \xi} + \tfrac12 \xi^\top \xi
             + \beta^{-1} \log N + \tfrac12 M^2, \qquad M = \max_i \lVert x_i \rVert,

    \xi^{\text{new}} = X\,\mathrm{softmax}(\beta X^\top \xi).

The update is the concave–convex procedure on E, so E never increases along it, and for
well-separated patterns one update retrieves the nearest one (exponential capacity in d).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["hopfield_energy", "hopfield_update"]


def _check(xi: Tensor, patterns: Tensor) -> None:
    if patterns.dim() != 2 or xi.shape[-1] != patterns.shape[-1]:
        raise ValueError(
            f"patterns (N, d) and states (..., d): expected the same d, got "
            f"{tuple(patterns.shape)} and {tuple(xi.shape)}"
        )


def hopfield_update(xi: Tensor, patterns: Tensor, beta: float | Tensor) -> Tensor:
    """ξ ← Xᵀ-weighted average of the patterns ``(N, d)``: softmax(β X ξ) X, for states
    ``(..., d)``."""
    _check(xi, patterns)
    return torch.softmax(beta * xi @ patterns.T, dim=-1) @ patterns


def hopfield_energy(xi: Tensor, patterns: Tensor, beta: float | Tensor) -> Tensor:
    """E(ξ) of states ``(..., d)`` for patterns ``(N, d)`` (see the module), shape ``(...)``."""
    _check(xi, patterns)
    n = patterns.shape[0]
    lse = torch.logsumexp(beta * xi @ patterns.T, dim=-1) / beta
    big_m = patterns.norm(dim=-1).max()
    return -lse + 0.5 * (xi * xi).sum(-1) + math.log(n) / beta + 0.5 * big_m.square()
