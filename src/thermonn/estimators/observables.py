r"""Thermodynamic observables of spin-model samples.

From the energies :math:`E` and magnetisations per spin :math:`m` of samples of a model of
:math:`n` spins at temperature :math:`kT`:

.. math::
    u = \langle E \rangle / n, \quad
    C = \frac{\langle E^2\rangle - \langle E\rangle^2}{n\,kT^2}, \quad
    \chi = \frac{n\,(\langle m^2\rangle - \langle |m|\rangle^2)}{kT}, \quad
    U_4 = 1 - \frac{\langle m^4\rangle}{3\langle m^2\rangle^2}

(heat capacity and susceptibility per spin; :math:`U_4` is Binder's cumulant, → 2/3 in the
ordered phase and → 0 in the disordered one). Samples are ``(samples, chains)``: independent
chains give the standard errors of the means (the spread of the chain means over √chains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int

__all__ = ["SpinObservables", "kuramoto_order", "spin_observables"]


@dataclass(frozen=True)
class SpinObservables:
    """Per-spin observables with standard errors of the two means (``nan`` for one chain)."""

    energy: float
    energy_error: float
    abs_magnetisation: float
    abs_magnetisation_error: float
    heat_capacity: float
    susceptibility: float
    binder: float
    samples: int


def _mean_and_error(x: Tensor) -> tuple[float, float]:
    chains = x.shape[1]
    means = x.double().mean(0)
    error = float(means.std() / math.sqrt(chains)) if chains > 1 else math.nan
    return float(means.mean()), error


def spin_observables(
    energies: Tensor, magnetisations: Tensor, *, n: int, kT: float
) -> SpinObservables:
    """Observables of samples ``energies`` and ``magnetisations`` (per spin), both
    ``(samples, chains)``.

    Raises:
        ValueError: for shapes that disagree, fewer than one sample, or a non-positive kT.
    """
    check_int("n", n, minimum=1)
    kT = check_float("kT", kT, above=0.0)
    if energies.shape != magnetisations.shape or energies.dim() != 2 or energies.numel() == 0:
        raise ValueError(
            "energies/magnetisations: expected equal non-empty shapes (samples, chains), got "
            f"{tuple(energies.shape)} and {tuple(magnetisations.shape)}"
        )
    e, m = energies.double(), magnetisations.double().abs()
    u, u_err = _mean_and_error(e / n)
    a, a_err = _mean_and_error(m)
    m2, m4 = float(m.square().mean()), float(m.square().square().mean())
    return SpinObservables(
        energy=u,
        energy_error=u_err,
        abs_magnetisation=a,
        abs_magnetisation_error=a_err,
        heat_capacity=float(e.var(unbiased=False)) / (n * kT * kT),
        susceptibility=n * (m2 - a * a) / kT,
        binder=1.0 - m4 / (3.0 * m2 * m2) if m2 > 0 else math.nan,
        samples=e.numel(),
    )


def kuramoto_order(theta: Tensor) -> Tensor:
    r"""Kuramoto's order parameter :math:`r = |\frac1N \sum_j e^{i\theta_j}|` of phases
    ``theta`` ``(..., N)`` (radians): 1 when all phases agree, ≈ N^{-1/2} for random phases;
    shape ``(...)``."""
    if not theta.is_floating_point():
        raise TypeError(f"theta: expected floating phases, got {theta.dtype}")
    return torch.complex(theta.cos(), theta.sin()).mean(-1).abs()
