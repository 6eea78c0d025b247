"""Potentials of spin machines with real-valued units.

The thermodynamic computer's potential (Whitelam 2025), energies in units of kT:

    V(x) = Σ_i (J₂ x_i² + J₄ x_i⁴) + Σ_i b_i x_i + ½ xᵀ J x,

with ``J`` symmetric and zero on the diagonal, so ½ xᵀJx = Σ_(i<j) J_ij x_i x_j counts each bond
once. Its gradient is ∂_i V = 2 J₂ x_i + 4 J₄ x_i³ + b_i + (J x)_i. ``V`` is linear in (b, J),
which is what makes the Onsager–Machlup training objective a convex quadratic.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["quartic_force", "quartic_potential"]


def quartic_potential(x: Tensor, j2: float, j4: float, bias: Tensor, coupling: Tensor) -> Tensor:
    """V(x) for a batch ``x`` of shape ``(..., n)``; returns shape ``(...)``."""
    onsite = (j2 * x.square() + j4 * x.square().square()).sum(-1)
    return onsite + (x * bias).sum(-1) + 0.5 * (x * (x @ coupling)).sum(-1)


def quartic_force(x: Tensor, j2: float, j4: float, bias: Tensor, coupling: Tensor) -> Tensor:
    """F(x) = −∇V(x), shape of ``x`` (``coupling`` must be symmetric)."""
    return -(2 * j2 * x + 4 * j4 * x.pow(3) + bias + x @ coupling)
