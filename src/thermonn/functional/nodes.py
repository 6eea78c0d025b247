r"""Thermodynamic nodes as functions: a node's state (U, S, T, F), the thermal interaction
energy of coupled node temperatures, and thermal noise.

A node i sees pre-activations z_i (one per sample). Its **internal energy** is
U_i = ⟨z_i²⟩ (the mean over every non-node dimension); its **entropy** is that of a two-level
system with levels 0 and z_i at the node's temperature T_i — the occupation
p_i = σ(−z_i/T_i) (the Fermi–Dirac law at μ = 0) has Gibbs entropy

.. math::  s(z, T) = \ln(1 + e^{-z/T}) + \frac{z}{T}\,\sigma(-z/T),

computed from log-probabilities (finite at |z|/T = 10⁴) — and S_i = ⟨s(z_i, T_i)⟩. The free
energy is F_i = U_i − T_i S_i.

Coupled temperatures relax by C_i dT_i/dt = −γ(T_i − T_layer) + Σ_j J_ij (T_j − T_i) = −∂E_th/∂T_i
(heat capacities C_i; a gradient flow when every C_i = 1) of the thermal interaction energy

.. math::  E_\text{th} = \tfrac{\gamma}{2}\sum_i (T_i - T_\text{layer})^2
                        + \tfrac14 \sum_{i,j} J_{ij} (T_i - T_j)^2 ,

and the layer's energy is Σ_i U_i + ½ Σ_{i,j} J_ij (T_i − T_j)² (each unordered pair once,
:func:`layer_energy`). Thermal noise is the fluctuating force of a bath,
ξ = √(2γ kT) η with ⟨η(t)η(t')⟩ = δ(t − t'): over a step Δt its increment is
√(2γ kT Δt) · N(0, 1) (:func:`thermal_noise`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.functional.statmech import gibbs_entropy

__all__ = ["NodeState", "layer_energy", "node_state", "thermal_interaction_energy", "thermal_noise"]


class NodeState(NamedTuple):
    """Per-node internal energy U, entropy S, temperature T and free energy F = U − T S, each of
    shape ``(nodes,)``."""

    energy: Tensor
    entropy: Tensor
    temperature: Tensor
    free_energy: Tensor


def _nodes_last(z: Tensor, node_dim: int) -> Tensor:
    return z.movedim(node_dim, -1).reshape(-1, z.shape[node_dim])


def node_state(z: Tensor, kT: Tensor | float, node_dim: int = -1) -> NodeState:
    """U, S, T, F of the nodes along ``node_dim`` of the pre-activations ``z`` at temperatures
    ``kT`` (a number or a tensor of shape ``(nodes,)``); means over every other dimension."""
    flat = _nodes_last(z, node_dim)
    t = torch.as_tensor(kT, dtype=z.dtype, device=z.device).expand(flat.shape[-1])
    levels = torch.stack([torch.zeros_like(flat), flat], dim=-1)  # two levels: 0 and z
    entropy = gibbs_entropy(levels, t[:, None]).mean(0)
    energy = flat.square().mean(0)
    return NodeState(energy, entropy, t, energy - t * entropy)


def _pair_sum(temperature: Tensor, coupling: Tensor | float) -> Tensor:
    """Σ_{i,j} J_ij (T_i − T_j)² over ordered pairs (J a number: all-to-all; else (n, n))."""
    if isinstance(coupling, Tensor) and coupling.dim() == 2:
        diff = temperature[..., :, None] - temperature[..., None, :]
        return (coupling * diff.square()).sum((-2, -1))
    # Σ_{i,j} (T_i − T_j)² = 2n Σ T_i² − 2 (Σ T_i)²
    n = temperature.shape[-1]
    return coupling * 2.0 * (n * temperature.square().sum(-1) - temperature.sum(-1).square())


def thermal_interaction_energy(
    temperature: Tensor, coupling: Tensor | float, bath_coupling: float = 0.0, bath: float = 1.0
) -> Tensor:
    """E_th = (γ/2) Σ_i (T_i − T_bath)² + ¼ Σ_{i,j} J_ij (T_i − T_j)², whose gradient flow is the
    coupling dynamics (``coupling`` J a number — every pair — or an ``(n, n)`` matrix)."""
    tether = 0.5 * bath_coupling * (temperature - bath).square().sum(-1)
    return tether + 0.25 * _pair_sum(temperature, coupling)


def layer_energy(energy: Tensor, temperature: Tensor, coupling: Tensor | float) -> Tensor:
    """Σ_i U_i + ½ Σ_{i,j} J_ij (T_i − T_j)² (the layer energy of the specification)."""
    return energy.sum(-1) + 0.5 * _pair_sum(temperature, coupling)


def thermal_noise(
    shape: tuple[int, ...] | torch.Size,
    kT: Tensor | float,
    *,
    friction: float = 1.0,
    dt: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The bath's noise increment over ``dt``: √(2 γ kT Δt) · N(0, 1) of ``shape`` (``kT`` a
    number or broadcastable tensor; γ = ``friction``).

    Raises:
        ValueError: a non-positive friction or dt, or a negative temperature.
    """
    check_float("friction", friction, above=0.0)
    check_float("dt", dt, above=0.0)
    t = torch.as_tensor(kT, dtype=dtype, device=device)
    if bool((t < 0).any()):
        raise ValueError("kT: expected non-negative temperatures")
    eta = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    return torch.sqrt(2.0 * friction * t * dt) * eta
