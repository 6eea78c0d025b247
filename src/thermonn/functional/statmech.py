r"""Statistical-mechanics vocabulary as batched, differentiable functions (k_B = 1).

For energy levels :math:`E_i` at temperature kT, the Gibbs law is
:math:`p_i = e^{-E_i/kT} / Z`, and

.. math::  S = -\sum_i p_i \ln p_i = \ln Z + \langle E \rangle / kT, \qquad
           C = \partial \langle E \rangle / \partial T = \mathrm{Var}(E) / kT^2 .

Everything is computed from log-probabilities (``log_softmax``), never from Z itself, so the
entropy stays finite when :math:`|E|/kT = 10^4` in float32 (where Z over- or underflows).
Other entropies: Shannon's of a distribution (0 ln 0 = 0), the binary entropy, the mixing
entropy of amounts, and the configurational entropy ln Ω of a multiset (a multinomial
coefficient). Heat capacities: exact from levels, by central finite differences of any U(T),
and the harmonic oscillator's closed form.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = [
    "binary_entropy",
    "configurational_entropy",
    "finite_difference_heat_capacity",
    "gibbs_entropy",
    "gibbs_probabilities",
    "harmonic_heat_capacity",
    "heat_capacity",
    "log_partition_function",
    "mean_energy",
    "mixing_entropy",
    "shannon_entropy",
]


def _kT(kT: float | Tensor) -> float | Tensor:
    if isinstance(kT, Tensor):
        if not bool((kT > 0).all()) or not bool(torch.isfinite(kT).all()):
            raise ValueError("kT: expected positive finite temperatures")
        return kT
    return check_float("kT", kT, above=0.0)


def log_partition_function(energies: Tensor, kT: float | Tensor, dim: int = -1) -> Tensor:
    """ln Z = logsumexp(−E/kT) over ``dim``."""
    return torch.logsumexp(-energies / _kT(kT), dim)


def gibbs_probabilities(energies: Tensor, kT: float | Tensor, dim: int = -1) -> Tensor:
    """p_i = e^{−E_i/kT} / Z over ``dim`` (a softmax, stable at any |E|/kT)."""
    return torch.softmax(-energies / _kT(kT), dim)


def gibbs_entropy(energies: Tensor, kT: float | Tensor, dim: int = -1) -> Tensor:
    """S = −Σ p ln p of the Gibbs law of ``energies`` at ``kT`` over ``dim`` (in k_B)."""
    log_p = torch.log_softmax(-energies / _kT(kT), dim)
    return -(log_p.exp() * log_p).sum(dim)


def mean_energy(energies: Tensor, kT: float | Tensor, dim: int = -1) -> Tensor:
    """U = ⟨E⟩ under the Gibbs law."""
    return (gibbs_probabilities(energies, kT, dim) * energies).sum(dim)


def heat_capacity(energies: Tensor, kT: float | Tensor, dim: int = -1) -> Tensor:
    """C = Var(E) / kT² under the Gibbs law (= ∂U/∂T exactly)."""
    p = gibbs_probabilities(energies, kT, dim)
    mean = (p * energies).sum(dim, keepdim=True)
    variance = (p * (energies - mean).square()).sum(dim)
    return variance / _kT(kT) ** 2


def finite_difference_heat_capacity(
    internal_energy: Callable[[float], float | Tensor], kT: float, *, step: float = 1e-3
) -> float | Tensor:
    """C = ∂U/∂T by the central difference (U(T + h) − U(T − h)) / 2h with h = step · kT."""
    kT = check_float("kT", kT, above=0.0)
    h = check_float("step", step, above=0.0) * kT
    if h >= kT:
        raise ValueError(f"step: expected a relative step below 1, got {step}")
    return (internal_energy(kT + h) - internal_energy(kT - h)) / (2.0 * h)


def harmonic_heat_capacity(
    kT: float | Tensor, omega: float = 1.0, *, quantum: bool = True
) -> float | Tensor:
    """One oscillator of frequency ω (ħ = k_B = 1): Einstein's C = (x/2 / sinh(x/2))² with
    x = ω/kT (→ 1 as kT ≫ ω, → 0 as kT ≪ ω); ``quantum=False`` gives the classical 1."""
    kT = _kT(kT)
    check_float("omega", omega, above=0.0)
    if not quantum:
        return torch.ones_like(kT) if isinstance(kT, Tensor) else 1.0
    half = omega / (2.0 * kT)
    if isinstance(half, Tensor):
        return torch.where(half > 350, 0.0, (half / torch.sinh(half.clamp(max=350))).square())
    return 0.0 if half > 350 else (half / math.sinh(half)) ** 2


def shannon_entropy(p: Tensor, dim: int = -1) -> Tensor:
    """H = −Σ p ln p over ``dim`` with 0 ln 0 = 0 (``p`` a distribution along ``dim``)."""
    return -torch.special.xlogy(p, p).sum(dim)


def binary_entropy(p: Tensor) -> Tensor:
    """H(p) = −p ln p − (1 − p) ln(1 − p), element-wise, with 0 ln 0 = 0."""
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1.0 - p, 1.0 - p))


def mixing_entropy(amounts: Tensor, dim: int = -1) -> Tensor:
    """ΔS_mix = −Σ n_i ln x_i, x_i = n_i / Σ n (ideal mixing of species with amounts n_i ≥ 0,
    in units of k_B per particle counted)."""
    if bool((amounts < 0).any()):
        raise ValueError("amounts: expected non-negative amounts")
    total = amounts.sum(dim, keepdim=True)
    return -torch.special.xlogy(amounts, amounts / total).sum(dim)


def configurational_entropy(counts: Tensor, dim: int = -1) -> Tensor:
    """ln Ω of N = Σ n_i items arranged with n_i of each kind: Ω = N! / Π n_i! (by lgamma, so
    exact for counts far beyond what Ω itself can hold)."""
    if bool((counts < 0).any()):
        raise ValueError("counts: expected non-negative counts")
    c = counts.to(torch.get_default_dtype()) if not counts.is_floating_point() else counts
    return torch.lgamma(c.sum(dim) + 1.0) - torch.lgamma(c + 1.0).sum(dim)
