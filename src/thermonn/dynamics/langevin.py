"""Overdamped Langevin dynamics, Euler–Maruyama: the one integrator for every Langevin machine.

    dx = μ F(x) dt + √(2 μ kT) dW,        F = −∇V,

discretised as x_{k+1} = x_k + μ F(x_k) Δt + √(2 μ kT Δt) ξ_k with ξ_k ~ N(0, 1). Units whose
``mobile`` mask is False are clamped (inputs of the thermodynamic computer). Noise comes from an
explicit ``generator``; the global generator is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int

__all__ = ["AffineForce", "LangevinResult", "langevin_step", "simulate_langevin"]


@dataclass(frozen=True)
class AffineForce:
    """A force of the form F(x) = x M + c + s·φ(x): quadratic couplings (``matrix`` M, shape
    ``(n, n)``), fields (``offset`` c, broadcastable to x) and an optional element-wise term
    (``local`` φ with scale s), e.g. the quartic machine's −4J₄x³.

    Callable like any force; :func:`simulate_langevin` recognises it and folds x, the drift and
    the noise into one ``addmm`` per step: x_{k+1} = (μΔt c + σξ) + x (I + μΔt M) + μΔt s φ(x).
    """

    matrix: Tensor
    offset: Tensor
    local: Callable[[Tensor], Tensor] | None = None
    local_scale: float = 1.0

    def __call__(self, x: Tensor) -> Tensor:
        force = self.offset + x @ self.matrix
        return force if self.local is None else force + self.local_scale * self.local(x)


Force = Callable[[Tensor], Tensor] | AffineForce


def langevin_step(
    x: Tensor,
    force: Tensor,
    noise: Tensor,
    *,
    dt: float,
    mobility: float = 1.0,
    kT: float = 1.0,
    mobile: Tensor | None = None,
) -> Tensor:
    """One Euler–Maruyama step given the force F(x) and standard-normal ``noise``."""
    dx = mobility * force * dt + math.sqrt(2.0 * mobility * kT * dt) * noise
    return x + (dx if mobile is None else dx * mobile)


@dataclass
class LangevinResult:
    """``final``: x at t = steps·Δt; ``path``: ``(steps + 1, *x.shape)`` when recorded, else None."""

    final: Tensor
    path: Tensor | None


def simulate_langevin(
    x0: Tensor,
    force_fn: Force,
    *,
    steps: int,
    dt: float,
    mobility: float = 1.0,
    kT: float = 1.0,
    mobile: Tensor | None = None,
    record: bool = False,
    generator: torch.Generator | None = None,
) -> LangevinResult:
    """Integrate ``steps`` Euler–Maruyama steps from ``x0`` (any batch shape).

    Args:
        force_fn: x ↦ F(x) = −∇V(x), same shape as x.
        mobile: boolean/0-1 mask broadcastable to x; masked-out units keep their value.
        record: keep the whole path (memory steps × x.numel()).
        generator: source of the noise; ``None`` uses a fresh default generator's stream.

    Raises:
        ValueError: for non-positive ``dt``, ``mobility`` or ``kT`` (``kT = 0`` is allowed: the
            deterministic gradient flow), negative ``steps`` or non-finite ``x0``.
    """
    check_int("steps", steps, minimum=0)
    check_float("dt", dt, above=0.0)
    check_float("mobility", mobility, above=0.0)
    check_float("kT", kT, at_least=0.0)
    if not torch.isfinite(x0).all():
        raise ValueError("x0: expected finite values, got NaN or inf")
    mask = None if mobile is None else mobile.to(x0.dtype)
    drift, scale = mobility * dt, math.sqrt(2.0 * mobility * kT * dt)
    affine = (
        force_fn if isinstance(force_fn, AffineForce) and mask is None and x0.dim() == 2 else None
    )
    if affine is not None:
        eye = torch.eye(x0.shape[-1], dtype=x0.dtype, device=x0.device)
        propagator = eye + drift * affine.matrix  # x_k ↦ x_k + μΔt x_k M in the matmul
        shift = (drift * affine.offset).expand_as(x0)
    x = x0
    path = [x0] if record else None
    noise = torch.empty_like(x0)  # refilled every step (the update never keeps a reference)
    for _ in range(steps):
        if affine is not None:
            # (μΔt c + σξ) + x (I + μΔt M) + μΔt s φ(x): one addmm, no separate force tensor
            base = (
                noise.normal_(0.0, scale, generator=generator).add_(shift) if scale > 0 else shift
            )
            new = torch.addmm(base, x, propagator)
            if affine.local is not None:
                new.add_(affine.local(x), alpha=drift * affine.local_scale)
            x = new
        elif mask is None:
            # x + μΔt F + √(2μkTΔt) ξ, the update of langevin_step in two fused passes
            x = torch.add(x, force_fn(x), alpha=drift)
            if scale > 0.0:
                x.add_(noise.normal_(0.0, scale, generator=generator))
        else:
            dx = force_fn(x).mul(drift)
            if scale > 0.0:
                dx.add_(noise.normal_(0.0, scale, generator=generator))
            x = x + dx * mask
        if path is not None:
            path.append(x)
    return LangevinResult(x, torch.stack(path) if path is not None else None)
