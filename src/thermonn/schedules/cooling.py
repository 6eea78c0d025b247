r"""Cooling schedules: temperature as a function of time, t ↦ kT(t), for annealing.

Every schedule is a frozen, validated object that is callable on a time (sweeps for the
Monte-Carlo steppers, time units for Langevin dynamics), so it plugs into any ``kT=`` of the
engine (:class:`~thermonn.dynamics.Langevin`, the spin and Potts steppers, Swendsen–Wang):

* :class:`ExponentialCooling` — :math:`kT(t) = kT_0 \,(kT_1/kT_0)^{t/t_1}` (geometric);
* :class:`LinearCooling` — :math:`kT(t) = kT_0 + (kT_1 - kT_0)\, t/t_1`;
* :class:`PowerLawCooling` — :math:`kT(t) = kT_0\,(1 + t/\tau)^{-p}`.

The first two reach kT₁ at t₁ and hold it afterwards. :class:`AdaptiveCooling` is not a
function of time alone: it moves each chain's temperature so that its acceptance rate tracks a
target that decays geometrically, :math:`\rho^*(t) = \rho_0 (\rho_1/\rho_0)^{t/t_1}`,

.. math::  \ln kT \leftarrow \ln kT - g\,(\rho - \rho^*(t)), \qquad kT \in [kT_1, kT_0],

cooling fast while moves are cheap and slowly where acceptance collapses (the annealer calls
:meth:`AdaptiveCooling.update` after every sweep).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["AdaptiveCooling", "ExponentialCooling", "LinearCooling", "PowerLawCooling"]


def _check_cooling(start: float, end: float, duration: float) -> None:
    check_float("start", start, above=0.0)
    check_float("end", end, above=0.0)
    check_float("duration", duration, above=0.0)
    if not end <= start:
        raise ValueError(f"end: expected a final kT <= the initial {start}, got {end}")


def _check_time(t: float) -> float:
    if not t >= 0.0:
        raise ValueError(f"t: expected a time >= 0, got {t!r}")
    return t


@dataclass(frozen=True)
class _EndPoints:
    """Cooling from ``start`` to ``end`` over ``duration``, then holding ``end``."""

    start: float
    end: float
    duration: float

    def __post_init__(self) -> None:
        _check_cooling(self.start, self.end, self.duration)

    def progress(self, t: float) -> float:
        """t / duration, clipped to [0, 1]."""
        return min(_check_time(t) / self.duration, 1.0)


class ExponentialCooling(_EndPoints):
    """Geometric cooling from ``start`` to ``end`` over ``duration``."""

    def __call__(self, t: float) -> float:
        return self.start * (self.end / self.start) ** self.progress(t)


class LinearCooling(_EndPoints):
    """Linear cooling from ``start`` to ``end`` over ``duration``."""

    def __call__(self, t: float) -> float:
        return self.start + (self.end - self.start) * self.progress(t)


@dataclass(frozen=True)
class PowerLawCooling:
    """kT₀ (1 + t/τ)^(−p): ``start`` kT₀, time scale ``tau`` τ, exponent ``power`` p."""

    start: float
    tau: float
    power: float = 1.0

    def __post_init__(self) -> None:
        check_float("start", self.start, above=0.0)
        check_float("tau", self.tau, above=0.0)
        check_float("power", self.power, above=0.0)

    def __call__(self, t: float) -> float:
        return self.start * (1.0 + _check_time(t) / self.tau) ** -self.power


@dataclass(frozen=True)
class AdaptiveCooling(_EndPoints):
    """Acceptance-driven cooling between ``start`` and ``end``: the target acceptance decays
    from ``acceptance_start`` to ``acceptance_end`` over ``duration``; ``gain`` g sets how
    hard the temperature follows it (see the module)."""

    acceptance_start: float = 0.5
    acceptance_end: float = 0.001
    gain: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_float("acceptance_start", self.acceptance_start, above=0.0)
        check_float("acceptance_end", self.acceptance_end, above=0.0)
        check_float("gain", self.gain, above=0.0)
        if not self.acceptance_end <= self.acceptance_start < 1.0:
            raise ValueError(
                f"acceptance_end: expected 0 < acceptance_end <= acceptance_start < 1, got "
                f"{self.acceptance_end} and {self.acceptance_start}"
            )

    def target(self, t: float) -> float:
        """ρ*(t), the acceptance rate aimed at after sweep t."""
        return self.acceptance_start * (
            self.acceptance_end / self.acceptance_start
        ) ** self.progress(t)

    def update(self, kT: Tensor, t: float, acceptance: Tensor) -> Tensor:
        """Each chain's next kT from its current ``kT`` and its ``acceptance`` rate in sweep t."""
        step = torch.exp(-self.gain * (acceptance - self.target(t)))
        return (kT * step).clamp(self.end, self.start)
