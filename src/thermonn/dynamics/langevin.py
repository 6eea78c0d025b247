"""Overdamped Langevin dynamics and its Euler–Maruyama stepper.

    dx = μ F(x, t) dt + √(2 μ kT(t)) L dW,        F = −∇E,

discretised as x_{k+1} = x_k + μ F(x_k, t_k) Δt + √(2 μ kT(t_k) Δt) L ξ_k with ξ_k ~ N(0, 1).
L is the identity unless a ``noise`` factor is given (correlated noise, diffusion 2μkT LLᵀ).
Units whose ``mobile`` mask is False are clamped (inputs of the thermodynamic computer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.energy import AffineSplit, Energy

__all__ = ["EMState", "EulerMaruyama", "Langevin", "temperature_at"]

Schedule = Callable[[float], float]


def temperature_at(kT: float | Schedule, t: float, *, positive: bool = False) -> float:
    """kT at time ``t`` of a constant or a schedule t ↦ kT, checked (≥ 0, or > 0 with
    ``positive``) where a schedule produced it."""
    if not callable(kT):
        return kT
    value = kT(t)
    if not (value > 0.0 if positive else value >= 0.0) or not math.isfinite(value):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"kT schedule: expected a finite kT {bound} at t = {t:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True, eq=False)
class Langevin:
    """The bath and clock of overdamped Langevin dynamics: time step ``dt``, ``mobility`` μ,
    temperature ``kT`` (a number, or a schedule t ↦ kT(t) for annealing), an optional
    ``mobile`` mask (broadcastable to x; False units are clamped) and an optional ``noise``
    factor L ``(n, n)`` (the noise is √(2μkTΔt) L ξ: diffusion 2μkT LLᵀ instead of 2μkT I).
    Validated once, here.

    Raises:
        ValueError: non-positive ``dt`` or ``mobility``, negative ``kT``, a non-square or
            non-finite ``noise`` factor.
        TypeError: ``kT`` neither a number nor a callable.
    """

    dt: float
    mobility: float = 1.0
    kT: float | Schedule = 1.0
    mobile: Tensor | None = None
    noise: Tensor | None = None

    def __post_init__(self) -> None:
        check_float("dt", self.dt, above=0.0)
        check_float("mobility", self.mobility, above=0.0)
        if not callable(self.kT):
            check_float("kT", self.kT, at_least=0.0)
        factor = self.noise
        if factor is not None and not isinstance(factor, Tensor):
            raise TypeError(f"noise: expected a torch.Tensor factor L, got {type(factor).__name__}")
        if factor is not None and (
            factor.dim() != 2
            or factor.shape[0] != factor.shape[1]
            or not bool(torch.isfinite(factor).all())
        ):
            raise ValueError(
                f"noise: expected a finite square factor L (n, n), got {tuple(factor.shape)}"
            )

    def temperature(self, t: float) -> float:
        """kT at time ``t``."""
        return temperature_at(self.kT, t)

    def constant_temperature(self) -> float:
        """kT when it does not depend on time; path weights need a positive one.

        Raises:
            ValueError: for a schedule or kT = 0.
        """
        if callable(self.kT):
            raise ValueError("kT: expected a constant temperature for path weights, got a schedule")
        return check_float("kT", self.kT, above=0.0)


class EMState(NamedTuple):
    """Euler–Maruyama state: the configuration and a noise buffer refilled every step."""

    x: Tensor
    noise: Tensor


class EulerMaruyama:
    """The Euler–Maruyama stepper of :class:`Langevin` dynamics in ``energy``: an
    :class:`~thermonn.dynamics.Energy`, or a function t ↦ Energy for a time-dependent potential.

    When the energy is time-independent, has an :class:`~thermonn.dynamics.AffineSplit`
    F = x M + c + s·φ(x), nothing is clamped and x is a 2-D batch, one step is one ``addmm``:
    x_{k+1} = (μΔt c + σξ) + x (I + μΔt M) + μΔt s φ(x). The propagator I + μΔt M is formed
    once, here: the stepper is a snapshot of the energy's parameters (build a new one after
    they change). Each step returns a new configuration tensor.
    """

    def __init__(self, energy: Energy | Callable[[float], Energy], langevin: Langevin) -> None:
        static = energy if isinstance(energy, Energy) else None
        if static is not None:
            self._energy_at: Callable[[float], Energy] = lambda _t: static
        elif callable(energy):
            self._energy_at = energy
        else:
            raise TypeError(
                f"energy: expected an Energy or a function t -> Energy, got {type(energy).__name__}"
            )
        if not isinstance(langevin, Langevin):
            raise TypeError(f"langevin: expected a Langevin, got {type(langevin).__name__}")
        self.langevin = langevin
        self._drift = langevin.mobility * langevin.dt
        self._scale = None if callable(langevin.kT) else self._noise_scale(langevin.kT)
        split = static.affine() if static is not None else None
        self._split: AffineSplit | None = split if langevin.mobile is None else None
        if self._split is not None:
            m = self._split.matrix
            eye = torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
            self._propagator = eye + self._drift * m  # x_k ↦ x_k + μΔt x_k M in the matmul
            self._shift = self._drift * self._split.offset

    @property
    def dt(self) -> float:
        return self.langevin.dt

    def _noise_scale(self, kT: float) -> float:
        return math.sqrt(2.0 * self.langevin.mobility * kT * self.langevin.dt)

    def _noise(self, buffer: Tensor, scale: float, generator: torch.Generator | None) -> Tensor:
        """σ L ξ (σ ξ without a factor), drawn into ``buffer``."""
        white = buffer.normal_(0.0, scale, generator=generator)
        factor = self.langevin.noise
        return white if factor is None else white @ factor.mT

    def init(self, x0: Tensor) -> EMState:
        factor = self.langevin.noise
        if factor is not None and (
            x0.shape[-1] != factor.shape[-1]
            or factor.dtype != x0.dtype
            or factor.device != x0.device
        ):
            raise ValueError(
                f"noise: expected a factor ({x0.shape[-1]}, {x0.shape[-1]}) of {x0.dtype} on "
                f"{x0.device} (x0's), got {tuple(factor.shape)} of {factor.dtype} on {factor.device}"
            )
        return EMState(x0, torch.empty_like(x0))

    def value(self, state: EMState) -> Tensor:
        return state.x

    def step(self, state: EMState, t: float, generator: torch.Generator | None) -> EMState:
        x, noise = state
        scale = self._scale
        if scale is None:
            scale = self._noise_scale(self.langevin.temperature(t))
        drift, split = self._drift, self._split
        factor = self.langevin.noise
        if split is not None and x.dim() == 2:
            # (μΔt c + σξ) + x (I + μΔt M) + μΔt s φ(x): one addmm, no separate force tensor
            shift = self._shift.expand_as(x)
            if scale <= 0:
                base = shift
            elif factor is None:
                base = noise.normal_(0.0, scale, generator=generator).add_(shift)
            else:
                white = noise.normal_(0.0, scale, generator=generator)
                base = torch.addmm(shift, white, factor.mT)
            new = torch.addmm(base, x, self._propagator)
            if split.local is not None:
                new.add_(split.local(x), alpha=drift * split.local_scale)
            return EMState(new, noise)
        energy = self._energy_at(t)
        if not isinstance(energy, Energy):
            raise TypeError(
                f"energy: expected an Energy or a function t -> Energy, got a function that "
                f"returned {type(energy).__name__} at t = {t:g}"
            )
        mask = self.langevin.mobile
        if mask is None:
            # x + μΔt F + √(2μkTΔt) ξ in two fused passes
            x = torch.add(x, energy.force(x), alpha=drift)
            if scale > 0.0:
                x.add_(self._noise(noise, scale, generator))
            return EMState(x, noise)
        dx = energy.force(x).mul(drift)
        if scale > 0.0:
            dx.add_(self._noise(noise, scale, generator))
        return EMState(x + dx * mask.to(x.dtype), noise)  # no copy when the mask has x's dtype
