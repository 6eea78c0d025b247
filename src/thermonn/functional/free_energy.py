r"""The TEL free energy :math:`F_T(y) = \tfrac12\lVert y - z\rVert^2 - T\,S(y)` and its gradient.

Both take a descent *state* (the iterate itself for primal entropies, the dual coordinate
:math:`u` with :math:`y = \rho(u)` for dual ones) so that domain-constrained entropies are evaluated
without leaving their domain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:
    from thermonn.functional.entropy import Entropy

__all__ = ["free_energy", "free_energy_grad"]


def free_energy_grad(entropy: Entropy, state: Tensor, z: Tensor, t: Tensor) -> Tensor:
    r""":math:`\nabla F_T(y) = (y - z) - T\varphi(y)`; ``t`` is a scalar or of shape ``(..., 1)``."""
    return (entropy.output(state) - z) - t * entropy.phi_of_state(state)


def free_energy(entropy: Entropy, state: Tensor, z: Tensor, t: Tensor) -> Tensor:
    r""":math:`F_T(y)` per sample, summed over features: ``(..., d) -> (...)``."""
    y = entropy.output(state)
    enthalpy = 0.5 * (y - z).square().sum(-1, keepdim=True)
    return (enthalpy - t * entropy.entropy_of_state(state).sum(-1, keepdim=True)).squeeze(-1)
