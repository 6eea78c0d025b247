r"""The test systems of the consistency study and the few runs every section repeats.

* :func:`well` — V = ½ k |x − c|², and :func:`shifted` — V − f·x of a quadratic, the same well
  centred at m + A⁻¹f;
* :class:`DoubleWell` — V = Σ_i (x_i² − 1)² − f·x, minima at ±1 behind a barrier of 1;
* :class:`Swirl` — the force −∇V + f + ω(−x₂, x₁), whose rotation is not the gradient of any
  energy (a control the books cannot see);
* :func:`simulate` — Euler–Maruyama Langevin dynamics dx = −∇V dt + √(2kT) dW on the shared
  engine, :func:`gaussian_samples` — exact Boltzmann samples N(m, kT A⁻¹) of a quadratic;
* :func:`fdt_pair` — unperturbed and perturbed ensembles driven by the same noise (the
  fluctuation–dissipation check), :func:`protocol_works` — forward and reverse works of a
  protocol (Jarzynski, Crooks, BAR).

Randomness: every function takes its ``generator``; :func:`stream` gives the k-th stream of a
study seeded ``seed``, so the study reproduces from one integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from thermonn.dynamics import (
    Energy,
    EulerMaruyama,
    Langevin,
    QuadraticEnergy,
    Trajectory,
    integrate,
)
from thermonn.estimators import ConsistencyCheck, protocol_work

__all__ = [
    "F64",
    "DoubleWell",
    "Swirl",
    "Works",
    "fdt_numbers",
    "fdt_pair",
    "gauss_legendre",
    "gaussian_samples",
    "protocol_works",
    "shifted",
    "simulate",
    "stream",
    "well",
]

F64 = torch.float64
EnergyLike = Energy | Callable[[float], Energy]


def stream(seed: int, k: int) -> torch.Generator:
    """The k-th random stream (k < 1000) of a study seeded ``seed``: seed 0 gives the seeds
    k themselves, the ones the committed audit ran with."""
    return torch.Generator().manual_seed(seed * 1000 + k)


def well(stiffness: float, centre: float = 0.0, n: int = 1) -> QuadraticEnergy:
    """V = ½ k |x − c|² in ``n`` dimensions (float64)."""
    return QuadraticEnergy(
        torch.diag(torch.full((n,), stiffness, dtype=F64)), torch.full((n,), centre, dtype=F64)
    )


def shifted(energy: QuadraticEnergy, force: Tensor) -> QuadraticEnergy:
    """V − f·x of a quadratic: the same well centred at m + A⁻¹f."""
    return QuadraticEnergy(
        energy.precision, energy.mean + torch.linalg.solve(energy.precision, force)
    )


class DoubleWell(Energy):
    """V = Σ_i (x_i² − 1)² − f·x: barrier 1 between minima at ±1 (curvature 8 there)."""

    def __init__(self, f: Tensor | None = None) -> None:
        self.f = f

    def energy(self, x: Tensor) -> Tensor:
        v = (x.square() - 1).square().sum(-1)
        return v if self.f is None else v - (x * self.f).sum(-1)

    def force(self, x: Tensor) -> Tensor:
        out = -4 * x * (x.square() - 1)
        return out if self.f is None else out + self.f


class Swirl(Energy):
    """The force −∇V + f + ω(−x₂, x₁) with the energy V of ``base``: the rotation is not the
    gradient of any energy. In an isotropic well it keeps the Boltzmann law but breaks
    detailed balance."""

    def __init__(self, base: Energy, omega: float, f: Tensor | None = None) -> None:
        self.base, self.omega, self.f = base, omega, f

    def energy(self, x: Tensor) -> Tensor:
        return self.base.energy(x)

    def force(self, x: Tensor) -> Tensor:
        out = self.base.force(x) + self.omega * torch.stack([-x[..., 1], x[..., 0]], -1)
        return out if self.f is None else out + self.f


def simulate(
    energy: EnergyLike,
    x0: Tensor,
    dt: float,
    steps: int,
    *,
    kT: float = 1.0,
    every: int | None = None,
    generator: torch.Generator,
) -> Trajectory:
    """``steps`` Euler–Maruyama steps of x_{k+1} = x_k + F(x_k) Δt + √(2kTΔt) ξ_k (mobility 1),
    recording every ``every`` steps (None: the start and the end)."""
    return integrate(
        EulerMaruyama(energy, Langevin(dt, kT=kT)),
        x0,
        steps=steps,
        save_every=every,
        generator=generator,
    )


def gaussian_samples(
    energy: QuadraticEnergy, chains: int, generator: torch.Generator, kT: float = 1.0
) -> Tensor:
    """``chains`` exact samples of the Boltzmann law N(m, kT A⁻¹) of V = ½(x − m)ᵀA(x − m)."""
    cov = kT * torch.linalg.inv(energy.precision)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(chains, len(cov), generator=generator, dtype=F64)
    samples: Tensor = energy.mean + z @ chol.T
    return samples


def fdt_pair(
    unperturbed: Energy,
    perturbed: Energy,
    x0: Tensor,
    dt: float,
    t_end: float,
    record_dt: float,
    *,
    kT: float = 1.0,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Ensembles ``(records, chains, n)`` from ``x0`` in the unperturbed and the perturbed
    energy, recorded every ``record_dt`` up to ``t_end``, driven by the same noise (the
    perturbed run replays ``generator``'s state), so their difference is the response alone."""
    steps, every = round(t_end / dt), max(1, round(record_dt / dt))
    replay = torch.Generator().set_state(generator.get_state())
    u = simulate(unperturbed, x0, dt, steps, kT=kT, every=every, generator=generator).states
    p = simulate(perturbed, x0, dt, steps, kT=kT, every=every, generator=replay).states
    return u, p


@dataclass(frozen=True)
class Works:
    """Forward works from the start's equilibrium, reverse works of the time-reversed protocol
    from the end's, and the forward paths (``states`` ``(steps + 1, chains, n)``, ``times``)."""

    forward: Tensor
    reverse: Tensor
    paths: Trajectory


def protocol_works(
    energy_at: Callable[[float], Energy],
    start: Tensor,
    end: Tensor,
    t_f: float,
    dt: float,
    *,
    kT: float = 1.0,
    generators: tuple[torch.Generator, torch.Generator],
) -> Works:
    """W_F = Σ_k [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)] of ``energy_at`` over [0, t_f] from ``start``
    and W_R of the reversed protocol t ↦ ``energy_at``(t_f − t) from ``end``, each path recorded
    at every step; ``generators`` drive the forward and the reverse runs."""
    steps = round(t_f / dt)
    forward = simulate(energy_at, start, dt, steps, kT=kT, every=1, generator=generators[0])

    def backward_at(t: float) -> Energy:
        return energy_at(t_f - t)

    backward = simulate(backward_at, end, dt, steps, kT=kT, every=1, generator=generators[1])
    return Works(
        protocol_work(forward.states, forward.times, energy_at),
        protocol_work(backward.states, backward.times, backward_at),
        forward,
    )


def fdt_numbers(check: ConsistencyCheck, em: str) -> dict[str, Any]:
    """R/(ΔC/kT) at the worst lag of a fluctuation–dissipation check, the least-squares
    kT_eff = ΔC/R of its detail, and the Euler–Maruyama expectation ``em`` (text) for the
    ratio."""
    match = re.search(r"ΔC/R = ([-0-9.e+]+)", check.detail)
    return {
        "ratio": check.measured / check.expected,
        "kT_eff": float(match.group(1)) if match else math.nan,
        "em": em,
    }


def gauss_legendre(n: int) -> tuple[list[float], list[float]]:
    """Nodes and weights of n-point Gauss–Legendre quadrature on [0, 1] (Golub–Welsch: the
    eigenvalues of the Jacobi matrix with off-diagonal k/√(4k² − 1))."""
    k = torch.arange(1, n, dtype=F64)
    beta = k / torch.sqrt(4 * k * k - 1)
    values, vectors = torch.linalg.eigh(torch.diag(beta, 1) + torch.diag(beta, -1))
    return ((values + 1) / 2).tolist(), (vectors[0] ** 2).tolist()
