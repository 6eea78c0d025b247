r"""Thermal activations as functions (the temperature kT > 0 a number or a broadcastable tensor).

.. math::

    \mathrm{Boltzmann}(x)_i = \frac{e^{-x_i/kT}}{\sum_j e^{-x_j/kT}}, \quad
    \mathrm{FD}(x) = \frac{1}{1 + e^{(x - \mu)/kT}}, \quad
    \mathrm{ThermalReLU}(x) = \max(x - kT, 0), \quad
    \mathrm{MB}(x) = \sqrt{\tfrac{2}{\pi kT^3}}\, x^2 e^{-x^2 / 2kT}.

Boltzmann is a softmax over ``dim`` of −x (low energies get the mass; kT → 0 is an arg-min,
kT → ∞ uniform); Fermi–Dirac the occupation of a level x at chemical potential μ; Maxwell–
Boltzmann the speed density of an ideal gas (x ≥ 0; it integrates to 1 over [0, ∞)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["boltzmann", "fermi_dirac", "maxwell_boltzmann", "thermal_relu"]


def boltzmann(x: Tensor, kT: float | Tensor = 1.0, dim: int = -1) -> Tensor:
    """softmax(−x / kT) over ``dim``."""
    return torch.softmax(-x / kT, dim)


def fermi_dirac(x: Tensor, mu: float | Tensor = 0.0, kT: float | Tensor = 1.0) -> Tensor:
    """1 / (1 + e^{(x − μ)/kT}) = σ((μ − x)/kT), element-wise."""
    return torch.sigmoid((mu - x) / kT)


def thermal_relu(x: Tensor, kT: float | Tensor = 1.0) -> Tensor:
    """x − kT where x > kT, else 0."""
    return F.relu(x - kT)


def maxwell_boltzmann(x: Tensor, kT: float | Tensor = 1.0) -> Tensor:
    """√(2/(π kT³)) x² e^{−x²/(2 kT)}, element-wise."""
    norm = torch.sqrt(2.0 / (math.pi * torch.as_tensor(kT, dtype=x.dtype, device=x.device) ** 3))
    return norm * x.square() * torch.exp(-x.square() / (2.0 * kT))
