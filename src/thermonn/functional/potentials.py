r"""Energies as batched, differentiable functions: kinetic, harmonic, pair potentials, bonds.

.. math::  K = \tfrac12 \sum m v^2, \quad V_{\rm harm}(r) = \tfrac12 k (r - r_0)^2, \quad
           V_{\rm LJ}(r) = 4\varepsilon\big[(\sigma/r)^{12} - (\sigma/r)^6\big], \quad
           V_{\rm C}(r) = k_e q_1 q_2 / r .

Pair potentials take a ``cutoff`` r_c: beyond it they are zero, and with ``shift=True`` (the
default) V(r) − V(r_c) inside, so the energy is continuous at r_c. :func:`pair_energy` sums a
pair potential over every pair i < j of positions ``(..., N, d)``; :func:`bond_energy` sums
harmonic bonds over a list of bonded pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = [
    "bond_energy",
    "coulomb",
    "harmonic",
    "kinetic_energy",
    "lennard_jones",
    "pair_energy",
]


def kinetic_energy(velocity: Tensor, mass: float | Tensor = 1.0) -> Tensor:
    """K = ½ Σ m v² over the last dimension."""
    return 0.5 * (mass * velocity.square()).sum(-1)


def harmonic(r: Tensor, k: float | Tensor = 1.0, r0: float | Tensor = 0.0) -> Tensor:
    """½ k (r − r₀)², element-wise."""
    return 0.5 * k * (r - r0).square()


def _cut(
    energy: Callable[[Tensor], Tensor], r: Tensor, cutoff: float | None, shift: bool
) -> Tensor:
    if cutoff is None:
        return energy(r)
    rc = check_float("cutoff", cutoff, above=0.0)
    inside = r < rc
    safe = torch.where(inside, r, torch.full_like(r, rc))  # no inf from r → 0 outside the cut
    value = energy(safe)
    if shift:
        value = value - energy(torch.full_like(r, rc))
    return torch.where(inside, value, torch.zeros_like(value))


def lennard_jones(
    r: Tensor,
    epsilon: float = 1.0,
    sigma: float = 1.0,
    *,
    cutoff: float | None = None,
    shift: bool = True,
) -> Tensor:
    """4ε[(σ/r)¹² − (σ/r)⁶], minimum −ε at r = 2^{1/6} σ; zero beyond ``cutoff``."""
    check_float("epsilon", epsilon, at_least=0.0)
    check_float("sigma", sigma, above=0.0)

    def energy(x: Tensor) -> Tensor:
        s6 = (sigma / x) ** 6
        return 4.0 * epsilon * (s6.square() - s6)

    return _cut(energy, r, cutoff, shift)


def coulomb(
    r: Tensor,
    q1: float | Tensor,
    q2: float | Tensor,
    *,
    k: float = 1.0,
    cutoff: float | None = None,
    shift: bool = True,
) -> Tensor:
    """k q₁ q₂ / r; zero beyond ``cutoff`` (shifted to be continuous there by default)."""
    check_float("k", k, above=0.0)
    return _cut(lambda x: k * q1 * q2 / x, r, cutoff, shift)


def pair_energy(positions: Tensor, potential: Callable[[Tensor], Tensor]) -> Tensor:
    """Σ_{i<j} V(|x_i − x_j|) of positions ``(..., N, d)``: shape ``(...)``.

    Raises:
        ValueError: positions with fewer than two points or no spatial dimension.
    """
    if positions.dim() < 2 or positions.shape[-2] < 2:
        raise ValueError(
            f"positions: expected shape (..., N >= 2, d), got {tuple(positions.shape)}"
        )
    n = positions.shape[-2]
    i, j = torch.triu_indices(n, n, 1, device=positions.device)
    r = (positions[..., i, :] - positions[..., j, :]).norm(dim=-1)
    return potential(r).sum(-1)


def bond_energy(
    positions: Tensor, bonds: Tensor, k: float | Tensor = 1.0, r0: float | Tensor = 1.0
) -> Tensor:
    """Σ_bonds ½ k (|x_i − x_j| − r₀)² over ``bonds`` ``(B, 2)`` (index pairs), per-bond k and r₀
    allowed ``(B,)``.

    Raises:
        ValueError: bonds that are not index pairs within the N positions.
    """
    n = positions.shape[-2]
    if bonds.dim() != 2 or bonds.shape[1] != 2 or bonds.dtype not in (torch.int32, torch.int64):
        raise ValueError(
            f"bonds: expected an integer tensor of shape (B, 2), got {bonds.dtype} {tuple(bonds.shape)}"
        )
    if bool(((bonds < 0) | (bonds >= n)).any()):
        raise ValueError(f"bonds: expected indices in 0 … {n - 1}")
    r = (positions[..., bonds[:, 0], :] - positions[..., bonds[:, 1], :]).norm(dim=-1)
    return harmonic(r, k, r0).sum(-1)
