r"""The thermal Hebbian rule with decay, as an optimiser-like object.

.. math::  W \leftarrow W + \eta\,\big(\overline{y x^\top} - \lambda W\big) + \sqrt{2 \eta kT}\;\xi,
           \qquad \xi \sim N(0, 1),

Hebb's correlation term between presynaptic activity x and postsynaptic activity y, a decay λ
that bounds the weights, and thermal fluctuations at temperature kT (Langevin dynamics of W in
the potential ½λ|W|² − W·C). With stationary correlations C = E[y xᵀ] the weights settle around
W* = C/λ with per-entry variance 2ηkT / (1 − (1 − ηλ)²) → kT/λ as η → 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["ThermalHebbian"]


class ThermalHebbian:
    """Update ``weight`` ``(out, in)`` in place from activity: :meth:`step` takes presynaptic
    ``x`` ``(batch, in)`` and postsynaptic ``y`` ``(batch, out)``; ``lr`` η, ``decay`` λ,
    ``kT`` the temperature of the weight noise, every random number from ``generator``.

    Raises:
        ValueError: a non-positive η, a negative λ or kT, η λ ≥ 1 (the decay would overshoot),
            or activity of the wrong shape.
    """

    def __init__(
        self,
        weight: Tensor,
        *,
        lr: float = 0.01,
        decay: float = 0.01,
        kT: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if weight.dim() != 2:
            raise ValueError(
                f"weight: expected a matrix (out, in), got shape {tuple(weight.shape)}"
            )
        self.weight = weight
        self.lr = check_float("lr", lr, above=0.0)
        self.decay = check_float("decay", decay, at_least=0.0)
        self.kT = check_float("kT", kT, at_least=0.0)
        if self.lr * self.decay >= 1.0:
            raise ValueError(f"lr: expected lr * decay < 1, got {self.lr * self.decay:g}")
        self.generator = generator

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor) -> None:
        out, inp = self.weight.shape
        if (
            x.dim() != 2
            or y.dim() != 2
            or x.shape[1] != inp
            or y.shape[1] != out
            or len(x) != len(y)
        ):
            raise ValueError(
                f"x, y: expected shapes (batch, {inp}) and (batch, {out}), got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        w = self.weight
        w.add_(y.T @ x / len(x) - self.decay * w, alpha=self.lr)
        if self.kT > 0:
            noise = torch.randn(w.shape, generator=self.generator, dtype=w.dtype, device=w.device)
            w.add_(noise, alpha=math.sqrt(2.0 * self.lr * self.kT))
