r"""Thermodynamic linear algebra: answers read off the samples of a simulated analog device.

The device is d coupled cells in a bath at kT = 1 with the energy E(x) = ½xᵀAx − bᵀx of a
symmetric positive-definite A, i.e. the Ornstein–Uhlenbeck process

.. math::  dx = -(A x - b)\,dt + \sqrt{2}\,L\,dW, \qquad
           x_\infty \sim \mathcal N\bigl(A^{-1}b,\; \Sigma\bigr),\; A\Sigma + \Sigma A = 2LL^\top

(Aifer et al. 2023, "Thermodynamic linear algebra", npj Unconventional Computing 2024):

* :func:`solve` — A⁻¹b is the time average of x (L = I);
* :func:`inv` — A⁻¹ is the stationary covariance (b = 0, L = I);
* :func:`expnegm` — e^{−A} is the lag-1 autocovariance when the noise has covariance 2A
  (LLᵀ = A makes Σ = I, so ⟨x(t+1) x(t)ᵀ⟩ = e^{−A});
* :func:`logdet` — ln det A = 2ΔF, the free-energy difference between the potentials ½|x|² and
  ½xᵀAx, from the works of switching between them (Jarzynski's equality).

The device is simulated by Euler–Maruyama on the shared Langevin engine: every step is one
product with A (an ``addmm`` over the chains) — no digital solve, inverse or exponential of A
anywhere. (thermox's ``linalg.solve`` sets its process mean with ``jnp.linalg.solve`` and then
samples around it, so the O(d³) digital answer is inside its "thermodynamic" solve.) Two digital
factorisations remain around the device, neither producing the answer: the input check
(``eigvalsh``, which also sets the default step and burn-in) and :func:`expnegm`'s Cholesky factor
of A for its correlated noise, which a device injects physically. Euler–Maruyama's bias is O(Δt·λ_max): the
stationary covariance is (A − Δt A²/2)⁻¹ for :func:`inv`; the default Δt = 0.02/λ_max keeps it
at 1% of the stiffest mode (the time average of :func:`solve` is unbiased at any stable Δt).

Each result carries the estimate, its standard error (batch means over blocks of the run and
over independent chains, or the Jarzynski delta method) and the :class:`DeviceCost`: physical
time in τ, samples and modelled energy — never this computer's wall-clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int
from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate
from thermonn.estimators.consistency import jarzynski_estimate, protocol_work
from thermonn.linalg.device import DeviceCost, DeviceModel

__all__ = ["ThermoLinalgResult", "expnegm", "inv", "logdet", "solve"]


@dataclass(frozen=True)
class ThermoLinalgResult:
    """``estimate`` (the answer), ``stderr`` (its standard error, same shape), ``device`` (the
    modelled cost) and ``dt`` (the Euler–Maruyama step the device was simulated with)."""

    estimate: Tensor
    stderr: Tensor
    device: DeviceCost
    dt: float


class _Spd(NamedTuple):
    """A checked symmetric positive-definite matrix and its extreme eigenvalues."""

    matrix: Tensor
    low: float
    high: float


def _check_spd(name: str, a: object) -> _Spd:
    """Refuse anything but a finite symmetric positive-definite matrix. The check is digital
    (``eigvalsh``, O(d³)): it validates the input and sets the default step (0.02/λ_max) and
    burn-in (5/λ_min); the simulated device itself only multiplies by A."""
    if not isinstance(a, Tensor) or not a.is_floating_point():
        got = a.dtype if isinstance(a, Tensor) else type(a).__name__
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got {got}")
    if a.dim() != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ValueError(f"{name}: expected a square matrix (d, d), got {tuple(a.shape)}")
    if not bool(torch.isfinite(a).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    scale = float(a.abs().amax())
    if float((a - a.mT).abs().amax()) > 1e3 * torch.finfo(a.dtype).eps * max(scale, 1e-30):
        raise ValueError(f"{name}: expected a symmetric matrix, got an asymmetric one")
    values = torch.linalg.eigvalsh(a)
    low, high = float(values.amin()), float(values.amax())
    if low <= 0:
        raise ValueError(
            f"{name}: expected a positive-definite matrix (a stable device), got an eigenvalue "
            f"{low:.3g}"
        )
    return _Spd(a, low, high)


def _step(dt: float | None, top: float) -> float:
    """The Euler–Maruyama step: 0.02/λ_max by default; a given one must be below 2/λ_max."""
    if dt is None:
        return 0.02 / top
    check_float("dt", dt, above=0.0)
    if dt * top >= 2.0:
        raise ValueError(
            f"dt: expected a stable Euler–Maruyama step dt < 2/λ_max = {2.0 / top:.4g}, got {dt:g}"
        )
    return dt


def _check_hardware(hardware: object) -> DeviceModel:
    if hardware is None:
        return DeviceModel()
    if not isinstance(hardware, DeviceModel):
        raise TypeError(f"hardware: expected a DeviceModel, got {type(hardware).__name__}")
    return hardware


def _couplings(a: Tensor) -> int:
    return int((torch.triu(a, diagonal=1) != 0).sum())


@dataclass(frozen=True)
class _Run:
    """One configured device: step, record interval (in steps), chains, stepper and burn-in."""

    dt: float
    every: int
    chains: int
    stepper: EulerMaruyama
    burn_in: float


def _configure(
    spd: _Spd,
    field: Tensor | None,
    noise: Tensor | None,
    *,
    samples: int,
    blocks: int,
    interval: float,
    burn_in: float | None,
    chains: int,
    dt: float | None,
    generator: torch.Generator | None,
) -> _Run:
    """Check every run option (before anything is simulated) and build the device."""
    check_int("samples", samples, minimum=2)
    check_int("blocks", blocks, minimum=2)
    if samples < 2 * blocks:
        raise ValueError(
            f"samples: expected at least {2 * blocks} for {blocks} blocks, got {samples}"
        )
    check_float("interval", interval, above=0.0)
    check_int("chains", chains, minimum=1)
    dt = _step(dt, spd.high)
    if burn_in is None:  # five slowest relaxation times
        burn_in = 5.0 / spd.low
    check_float("burn_in", burn_in, at_least=0.0)
    a = spd.matrix
    every = max(1, math.ceil(interval / dt - 1e-9))
    dt = interval / every  # an integer number of steps per recorded sample
    zero = torch.zeros(a.shape[0], dtype=a.dtype, device=a.device)
    energy = QuadraticEnergy(a, zero, field)
    stepper = EulerMaruyama(energy, Langevin(dt, kT=1.0, noise=noise))
    return _Run(dt, every, chains, stepper, burn_in)


def _record(run: _Run, a: Tensor, *, samples: int, generator: torch.Generator | None) -> Tensor:
    """``samples`` recorded states ``(samples, chains, d)`` after the burn-in from x = 0."""
    burn_in = run.burn_in
    x = torch.zeros(run.chains, a.shape[0], dtype=a.dtype, device=a.device)
    burn_steps = math.ceil(burn_in / run.dt)
    if burn_steps:
        x = integrate(run.stepper, x, steps=burn_steps, generator=generator).final
    path = integrate(
        run.stepper, x, steps=samples * run.every, save_every=run.every, generator=generator
    )
    return path.states[1:]


def _blocks(samples: Tensor, blocks: int) -> list[Tensor]:
    """Cut ``(samples, chains, d)`` into ``blocks`` time blocks per chain: each an independent
    estimate's data (chains are independent; blocks longer than the correlation time nearly so)."""
    length = len(samples) // blocks
    return [
        samples[i * length : (i + 1) * length, c]
        for i in range(blocks)
        for c in range(samples.shape[1])
    ]


def _batch_means(estimates: list[Tensor], full: Tensor) -> Tensor:
    stacked = torch.stack(estimates)
    return (
        stacked.std(0) / math.sqrt(len(estimates)) if len(estimates) > 1 else torch.zeros_like(full)
    )


def _cost(
    model: DeviceModel, a: Tensor, chains: int, time: float, samples: int, width: int | None = None
) -> DeviceCost:
    cost = model.cost(
        dim=a.shape[0], couplings=_couplings(a), time=time, samples=samples, width=width
    )
    # chains are copies of the device run side by side: same time, energy times the chains
    return DeviceCost(cost.time, cost.seconds, cost.samples * chains, cost.energy_joules * chains)


def _read_off(
    spd: _Spd,
    field: Tensor | None,
    noise: Tensor | None,
    statistic: Callable[[Tensor], Tensor],
    *,
    samples: int,
    blocks: int,
    interval: float,
    burn_in: float | None,
    chains: int,
    dt: float | None,
    hardware: DeviceModel | None,
    generator: torch.Generator | None,
) -> ThermoLinalgResult:
    """Run the device, then ``statistic`` of each chain's readouts ``(samples, d)`` averaged
    over the chains, with its batch-means standard error and the device's cost."""
    model = _check_hardware(hardware)
    a = spd.matrix
    run = _configure(
        spd, field, noise, samples=samples, blocks=blocks, interval=interval, burn_in=burn_in,
        chains=chains, dt=dt, generator=generator,
    )  # fmt: skip
    xs = _record(run, a, samples=samples, generator=generator)
    estimate = torch.stack([statistic(xs[:, c]) for c in range(chains)]).mean(0)
    stderr = _batch_means([statistic(block) for block in _blocks(xs, blocks)], estimate)
    time = run.burn_in + samples * interval
    return ThermoLinalgResult(estimate, stderr, _cost(model, a, run.chains, time, samples), run.dt)


def solve(
    a: Tensor,
    b: Tensor,
    *,
    samples: int = 10_000,
    interval: float = 1.0,
    burn_in: float | None = None,
    chains: int = 1,
    blocks: int = 10,
    dt: float | None = None,
    hardware: DeviceModel | None = None,
    generator: torch.Generator | None = None,
) -> ThermoLinalgResult:
    """A⁻¹b as the time average of the device relaxing in E = ½xᵀAx − bᵀx.

    Args:
        a: symmetric positive-definite ``(d, d)``.
        b: ``(d,)``.
        samples: readouts per chain, ``interval`` (τ) apart, after ``burn_in`` (τ) from x = 0
            (default ``None``: five slowest relaxation times, 5/λ_min; 0, as in thermox,
            leaves the start-up transient in the average).
        chains: independent device runs (side by side) averaged together.
        blocks: time blocks per chain for the batch-means standard error.
        dt: the Euler–Maruyama step (default 0.02/λ_max); a step at or above the stability
            limit 2/λ_max is refused.
        hardware: the device cost model (default :class:`DeviceModel`).

    Raises:
        ValueError: a matrix that is not symmetric positive definite, a ``b`` of the wrong
            shape, non-finite values, non-positive sizes or times.
    """
    spd = _check_spd("a", a)
    a = spd.matrix
    if not isinstance(b, Tensor):
        raise TypeError(f"b: expected a torch.Tensor, got {type(b).__name__}")
    if b.shape != (a.shape[0],) or b.dtype != a.dtype:
        raise ValueError(
            f"b: expected a {a.dtype} vector of shape ({a.shape[0]},), got {b.dtype} {tuple(b.shape)}"
        )
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b: expected finite values, got NaN or inf")
    if b.device != a.device:
        raise ValueError(f"b: expected a tensor on {a.device} (a's device), got {b.device}")
    return _read_off(
        spd, b, None, lambda x: x.mean(0), samples=samples, blocks=blocks, interval=interval,
        burn_in=burn_in, chains=chains, dt=dt, hardware=hardware, generator=generator,
    )  # fmt: skip


def _covariance(x: Tensor, lag: int = 0) -> Tensor:
    """⟨(x_{k+lag} − x̄)(x_k − x̄)ᵀ⟩ of samples ``(n, d)``, symmetrised."""
    c = x - x.mean(0)
    n = len(c) - lag
    m = c[lag:].mT @ c[: len(c) - lag] / (n - 1 if lag == 0 else n)
    return 0.5 * (m + m.mT)


def inv(
    a: Tensor,
    *,
    samples: int = 10_000,
    interval: float = 1.0,
    burn_in: float | None = None,
    chains: int = 1,
    blocks: int = 10,
    dt: float | None = None,
    hardware: DeviceModel | None = None,
    generator: torch.Generator | None = None,
) -> ThermoLinalgResult:
    """A⁻¹ as the stationary covariance of the device in E = ½xᵀAx at kT = 1 (arguments as
    :func:`solve`)."""
    return _read_off(
        _check_spd("a", a), None, None, _covariance, samples=samples, blocks=blocks,
        interval=interval, burn_in=burn_in, chains=chains, dt=dt, hardware=hardware,
        generator=generator,
    )  # fmt: skip


def expnegm(
    a: Tensor,
    *,
    samples: int = 10_000,
    burn_in: float | None = None,
    chains: int = 1,
    blocks: int = 10,
    dt: float | None = None,
    hardware: DeviceModel | None = None,
    generator: torch.Generator | None = None,
) -> ThermoLinalgResult:
    """e^{−A} as the lag-1 autocovariance of the device in E = ½xᵀAx driven by noise of
    covariance 2A (then Σ = I), read out once per τ (other arguments as :func:`solve`).

    The correlated noise is simulated through a Cholesky factor of A — a digital O(d³) step of
    the simulation, not of the algorithm: a device injects its noise through the same couplings
    it programs for A.
    """
    spd = _check_spd("a", a)
    return _read_off(
        spd, None, torch.linalg.cholesky(spd.matrix), lambda x: _covariance(x, 1), samples=samples,
        blocks=blocks, interval=1.0, burn_in=burn_in, chains=chains, dt=dt, hardware=hardware,
        generator=generator,
    )  # fmt: skip


def logdet(
    a: Tensor,
    *,
    chains: int = 1000,
    switch_time: float = 20.0,
    dt: float | None = None,
    hardware: DeviceModel | None = None,
    generator: torch.Generator | None = None,
) -> ThermoLinalgResult:
    r"""ln det A from Jarzynski's equality: ``chains`` devices start in equilibrium in
    E₀ = ½|x|² (uncoupled cells: x ~ N(0, I), drawn directly), switch linearly to
    E₁ = ½xᵀAx over ``switch_time`` (τ) and record the work W = ∫ ∂_λE dλ. With kT = 1,

    .. math::  \Delta F = -\ln\langle e^{-W}\rangle = \tfrac12 \ln\det A,

    so the estimate is 2ΔF with twice the delta-method standard error; slower switching narrows
    the work distribution (Jarzynski's bias ∝ its variance / chains). Samples = chains (one work
    readout each).
    """
    spd = _check_spd("a", a)
    a = spd.matrix
    model = _check_hardware(hardware)
    check_int("chains", chains, minimum=2)
    check_float("switch_time", switch_time, above=0.0)
    d = a.shape[0]
    eye = torch.eye(d, dtype=a.dtype, device=a.device)
    zero = torch.zeros(d, dtype=a.dtype, device=a.device)
    dt = _step(dt, max(1.0, spd.high))  # E₀ = ½|x|² has λ = 1
    steps = math.ceil(switch_time / dt)
    dt = switch_time / steps

    def energy_at(t: float) -> QuadraticEnergy:
        lam = min(max(t / switch_time, 0.0), 1.0)
        return QuadraticEnergy((1.0 - lam) * eye + lam * a, zero)

    stepper = EulerMaruyama(energy_at, Langevin(dt, kT=1.0))
    x = torch.randn(chains, d, dtype=a.dtype, device=a.device, generator=generator)
    work = torch.zeros(chains, dtype=torch.float64, device=a.device)
    done = 0
    while done < steps:  # the driver in chunks, so the work needs no whole-path memory
        n = min(256, steps - done)
        path = integrate(stepper, x, steps=n, save_every=1, t0=done * dt, generator=generator)
        work = work + protocol_work(path.states, path.times, energy_at)
        x, done = path.final, done + n
    estimate = jarzynski_estimate(work, 1.0)
    cost = _cost(model, a, chains, switch_time, 1, width=1)  # one work value per chain
    value = torch.tensor(2.0 * estimate.delta_f, dtype=a.dtype, device=a.device)
    error = torch.tensor(2.0 * estimate.error, dtype=a.dtype, device=a.device)
    return ThermoLinalgResult(value, error, cost, dt)
