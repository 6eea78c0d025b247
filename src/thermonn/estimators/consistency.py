r"""Physical-consistency checks as a public API: numbers with a pass/fail at a stated tolerance.

Each check takes what a user simulated (samples, trajectories, works) and returns a
:class:`ConsistencyCheck`: the measured value, the value physics demands, the standard error
of the measurement, the tolerance (``sigmas`` standard errors, plus an optional absolute
slack for discretisation), and whether it passed. A check must be able to fail: the tests run
each one on systems where the law holds and on deliberately broken ones.

* :func:`check_equipartition` — the virial theorem ⟨x_i ∂V/∂x_i⟩ = kT for every degree of
  freedom of equilibrium samples;
* :func:`protocol_work` — the work W = Σ_k [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)] done on each
  trajectory by a time-dependent potential (Sekimoto; :func:`cumulative_work` its running sum),
  the input of
* :func:`check_jarzynski` — ⟨e^{−W/kT}⟩ = e^{−ΔF/kT} for trajectories started in equilibrium;
* :func:`stochastic_heat` — Q = −Σ_k ∫ F·dx along each step, the heat the bath delivers
  through the force the simulation actually applied (Simpson's or the midpoint rule), the
  input of
* :func:`check_first_law` — ΔU = W + Q per trajectory: it fails when the force is not −∇V of
  the energy the books are kept in (a non-conservative force).

The second law and the fluctuation theorems are in :mod:`thermonn.estimators.fluctuation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.energy import Energy

__all__ = [
    "HEAT_RULES",
    "ConsistencyCheck",
    "FreeEnergyEstimate",
    "check_equipartition",
    "check_first_law",
    "check_jarzynski",
    "cumulative_work",
    "jarzynski_estimate",
    "protocol_work",
    "stochastic_heat",
]

Force = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class ConsistencyCheck:
    """``measured`` against ``expected``; ``error`` the measurement's standard error;
    ``tolerance`` the allowed |measured − expected|; ``passed``; ``detail`` a sentence."""

    name: str
    measured: float
    expected: float
    error: float
    tolerance: float
    passed: bool
    detail: str

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{self.name}: {verdict} — measured {self.measured:.6g} ± {self.error:.2g}, expected "
            f"{self.expected:.6g}, tolerance {self.tolerance:.2g}. {self.detail}"
        )


def _verdict(
    name: str,
    measured: float,
    expected: float,
    error: float,
    sigmas: float,
    slack: float,
    detail: str,
) -> ConsistencyCheck:
    tolerance = sigmas * error + slack
    return ConsistencyCheck(
        name, measured, expected, error, tolerance, abs(measured - expected) <= tolerance, detail
    )


def check_equipartition(
    samples: Tensor,
    energy: Energy,
    kT: float,
    *,
    centred: bool = False,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    """⟨x_i ∂V/∂x_i⟩ = kT for each degree of freedom i, from independent equilibrium
    ``samples`` ``(samples, n)`` of ``energy`` at ``kT``. The measured value is the degree of
    freedom farthest from kT (in standard errors); it passes when every one is within
    ``sigmas`` standard errors (+ ``slack``).

    ``centred`` measures Cov(x_i, ∂V/∂x_i) = ⟨(x_i − x̄_i) ∂V/∂x_i⟩ · N/(N − 1) instead, equal
    to kT because ⟨∂V/∂x_i⟩ = 0 in equilibrium: far less noisy where the mean ⟨x_i⟩ is large
    against the spread (the variance of x ∂V/∂x grows as ⟨x⟩² var ∂V/∂x), but blind to a
    constant force missing from the books, which only shifts ⟨∂V/∂x⟩.

    Raises:
        ValueError: fewer than two samples, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    if samples.dim() != 2 or len(samples) < 2:
        raise ValueError(f"samples: expected shape (samples >= 2, n), got {tuple(samples.shape)}")
    n = len(samples)
    x = samples.detach().double()
    if centred:
        x = x - x.mean(0)
    virial = x * -energy.force(samples).detach().double()  # x_i ∂V/∂x_i, per sample
    mean = virial.mean(0) * (n / (n - 1) if centred else 1.0)
    error = virial.std(0) / math.sqrt(n)
    z = (mean - kT).abs() / error.clamp_min(1e-300)
    worst = int(z.argmax())
    result = _verdict(
        "equipartition", float(mean[worst]), kT, float(error[worst]), sigmas, slack,
        f"⟨{'(x − x̄)' if centred else 'x'} ∂V/∂x⟩ over {n} samples, {virial.shape[1]} degrees of "
        f"freedom; the worst is #{worst} at {float(z[worst]):.1f} standard errors.",
    )  # fmt: skip
    passed = bool(((mean - kT).abs() <= sigmas * error + slack).all())
    return ConsistencyCheck(**{**result.__dict__, "passed": passed})


def _check_path(trajectory: Tensor, times: Tensor) -> None:
    """A recorded ensemble of paths: ``(records >= 2, chains, n)`` at ``times`` ``(records,)``.

    Raises:
        ValueError: naming ``trajectory, times`` when the shapes disagree.
    """
    if trajectory.dim() != 3 or times.dim() != 1 or len(trajectory) != len(times):
        raise ValueError(
            f"trajectory, times: expected (steps + 1, chains, n) and (steps + 1,), got "
            f"{tuple(trajectory.shape)} and {tuple(times.shape)}"
        )
    if len(times) < 2:
        raise ValueError(f"trajectory: expected at least two records, got {len(times)}")


def cumulative_work(
    trajectory: Tensor, times: Tensor, energy_at: Callable[[float], Energy]
) -> Tensor:
    """The work done up to each record, W(t_j) = Σ_{k<j} [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)], of
    trajectories ``(steps + 1, chains, n)`` recorded at ``times`` under ``energy_at(t)``. Shape
    ``(steps + 1, chains)``, float64, W(t_0) = 0."""
    _check_path(trajectory, times)
    t = times.tolist()
    steps = [
        (energy_at(t[k + 1]).energy(trajectory[k]) - energy_at(t[k]).energy(trajectory[k]))
        .detach()
        .double()
        for k in range(len(t) - 1)
    ]
    zero = torch.zeros(trajectory.shape[1], dtype=torch.float64, device=trajectory.device)
    return torch.cumsum(torch.stack([zero, *steps]), 0)


def protocol_work(
    trajectory: Tensor, times: Tensor, energy_at: Callable[[float], Energy]
) -> Tensor:
    """W = Σ_k [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)] of each trajectory ``(steps + 1, chains, n)``
    recorded at ``times`` under the time-dependent potential ``energy_at(t)``: the work the
    protocol does on the system (the rest of ΔV is heat). Shape ``(chains,)``, float64."""
    return cumulative_work(trajectory, times, energy_at)[-1]


HEAT_RULES = ("simpson", "midpoint")
"""Quadratures of the heat along each recorded step (see :func:`stochastic_heat`)."""


def stochastic_heat(
    trajectory: Tensor,
    times: Tensor,
    energy_at: Callable[[float], Energy],
    force_at: Callable[[float], Force] | None = None,
    *,
    rule: str = "simpson",
) -> Tensor:
    r"""The heat each trajectory ``(steps + 1, chains, n)`` absorbs from the bath through the
    force the dynamics used, ``force_at(t)`` (default: the energy's own −∇V), as the line
    integral along each recorded step Δx_k = x_{k+1} − x_k at t_{k+1}:

    .. math::  Q = -\sum_k \int_0^1 F_{t_{k+1}}(x_k + s\,\Delta x_k)\cdot\Delta x_k\, ds,

    by Simpson's rule (``"simpson"``: [F(x_k) + 4F(x̄_k) + F(x_{k+1})]/6, exact for energies
    up to quartic, so ΔU = W + Q (:func:`protocol_work`) holds to round-off for a conservative
    force) or the midpoint rule (``"midpoint"``: F(x̄_k), the Stratonovich sum, exact only for
    quadratic energies; its error ∂³V Δx³/24 per step adds up to O(Δt)). The bath receives
    −Q. Shape ``(chains,)``, float64.

    Raises:
        ValueError: shapes that disagree, an unknown ``rule``.
    """
    if rule not in HEAT_RULES:
        raise ValueError(f"rule: expected one of {list(HEAT_RULES)}, got {rule!r}")
    _check_path(trajectory, times)
    t = times.tolist()
    heat = torch.zeros(trajectory.shape[1], dtype=torch.float64, device=trajectory.device)
    for k in range(len(t) - 1):
        force = energy_at(t[k + 1]).force if force_at is None else force_at(t[k + 1])
        a, b = trajectory[k], trajectory[k + 1]
        mean_force = force(0.5 * (a + b))
        if rule == "simpson":
            mean_force = (force(a) + 4.0 * mean_force + force(b)) / 6.0
        heat -= (mean_force * (b - a)).sum(-1).detach().double()
    return heat


@dataclass(frozen=True)
class FreeEnergyEstimate:
    """A free-energy difference ``delta_f`` with its standard ``error`` (both in the units of
    kT) and the ``method`` that produced it."""

    delta_f: float
    error: float
    method: str


def _check_work(name: str, work: Tensor) -> Tensor:
    if work.dim() != 1 or len(work) < 2 or not bool(torch.isfinite(work).all()):
        raise ValueError(
            f"{name}: expected finite works of shape (trajectories >= 2,), got {tuple(work.shape)}"
        )
    return work.detach().double()


def jarzynski_estimate(work: Tensor, kT: float) -> FreeEnergyEstimate:
    """Jarzynski's estimate ΔF_J = −kT ln ⟨e^{−W/kT}⟩ from the works ``(trajectories,)`` of a
    protocol started in equilibrium (Jarzynski 1997), with the delta-method standard error
    kT·std(e^{−W/kT}) / (⟨e^{−W/kT}⟩ √N). Biased upwards by ≈ kT·var(e^{−W/kT})/(2N⟨·⟩²).

    Raises:
        ValueError: fewer than two or non-finite works, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    w = _check_work("work", work)
    log_weights = -w / kT
    n = len(w)
    estimate = -kT * (float(torch.logsumexp(log_weights, 0)) - math.log(n))
    weights = torch.exp(log_weights - log_weights.max())
    error = kT * float(weights.std() / weights.mean()) / math.sqrt(n)
    return FreeEnergyEstimate(estimate, error, "Jarzynski")


def check_jarzynski(
    work: Tensor, kT: float, delta_f: float, *, sigmas: float = 4.0, slack: float = 0.0
) -> ConsistencyCheck:
    """Jarzynski's equality: ΔF_J = −kT ln ⟨e^{−W/kT}⟩ (:func:`jarzynski_estimate`) against
    the exact ``delta_f``, from the works ``(trajectories,)`` of a protocol started in
    equilibrium.

    Raises:
        ValueError: fewer than two works, a non-positive kT.
    """
    check_float("delta_f", delta_f)
    estimate = jarzynski_estimate(work, kT)
    mean = float(work.double().mean())
    return _verdict(
        "Jarzynski", estimate.delta_f, delta_f, estimate.error, sigmas, slack,
        f"{len(work)} trajectories; mean work {mean:.4g} (dissipated {mean - delta_f:.3g} ≥ 0 by "
        "the second law).",
    )  # fmt: skip


def check_first_law(
    trajectory: Tensor,
    times: Tensor,
    energy_at: Callable[[float], Energy],
    force_at: Callable[[float], Force] | None = None,
    *,
    rule: str = "simpson",
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    """The first law ΔU = W + Q on trajectories ``(steps + 1, chains, n)`` at ``times``: ΔU the
    change of ``energy_at(t)``, W the protocol work (:func:`protocol_work`), and Q the heat
    delivered through the force the dynamics used, ``force_at(t)`` (default: the energy's own
    force −∇V), integrated along each step by ``rule`` (:func:`stochastic_heat`). Measured:
    the mean residual ΔU − W − Q, expected 0 within ``sigmas`` standard errors + ``slack``.
    With Simpson's rule a conservative force of an energy up to quartic leaves round-off only,
    so what remains is the work of a force that is not −∇V of the books' energy.

    Raises:
        ValueError: shapes of ``trajectory`` and ``times`` that disagree, an unknown ``rule``.
    """
    work = protocol_work(trajectory, times, energy_at)
    heat = stochastic_heat(trajectory, times, energy_at, force_at, rule=rule)
    t = times.tolist()
    delta_u = (
        (energy_at(t[-1]).energy(trajectory[-1]) - energy_at(t[0]).energy(trajectory[0]))
        .detach()
        .double()
    )
    residual = (delta_u - work - heat).detach()
    error = float(residual.std()) / math.sqrt(len(residual)) if len(residual) > 1 else math.inf
    return _verdict(
        "first law", float(residual.mean()), 0.0, error, sigmas, slack,
        f"ΔU − W − Q over {len(residual)} trajectories; ⟨ΔU⟩ = {float(delta_u.mean()):.4g}, "
        f"⟨W⟩ = {float(work.mean()):.4g}, ⟨Q⟩ = {float(heat.mean()):.4g}.",
    )  # fmt: skip
