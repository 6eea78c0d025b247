r"""Physical-consistency checks as a public API: numbers with a pass/fail at a stated tolerance.

Each check takes what a user simulated (samples, trajectories, works) and returns a
:class:`ConsistencyCheck`: the measured value, the value physics demands, the standard error
of the measurement, the tolerance (``sigmas`` standard errors, plus an optional absolute
slack for discretisation), and whether it passed. A check must be able to fail: the tests run
each one on systems where the law holds and on deliberately broken ones.

* :func:`check_equipartition` — the virial theorem ⟨x_i ∂V/∂x_i⟩ = kT for every degree of
  freedom of equilibrium samples;
* :func:`protocol_work` — the work W = Σ_k [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)] done on each
  trajectory by a time-dependent potential (Sekimoto), the input of
* :func:`check_jarzynski` — ⟨e^{−W/kT}⟩ = e^{−ΔF/kT} for trajectories started in equilibrium;
* :func:`check_first_law` — ΔU = W + Q per trajectory, with Q = −Σ F(x̄_k)·Δx_k the heat the
  bath delivers through the force the simulation actually applied (midpoint rule): it fails
  when that force is not −∇V of the energy the books are kept in (a non-conservative force).
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
    "ConsistencyCheck",
    "check_equipartition",
    "check_first_law",
    "check_jarzynski",
    "protocol_work",
]


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
    samples: Tensor, energy: Energy, kT: float, *, sigmas: float = 4.0, slack: float = 0.0
) -> ConsistencyCheck:
    """⟨x_i ∂V/∂x_i⟩ = kT for each degree of freedom i, from independent equilibrium
    ``samples`` ``(samples, n)`` of ``energy`` at ``kT``. The measured value is the degree of
    freedom farthest from kT (in standard errors); it passes when every one is within
    ``sigmas`` standard errors (+ ``slack``).

    Raises:
        ValueError: fewer than two samples, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    if samples.dim() != 2 or len(samples) < 2:
        raise ValueError(f"samples: expected shape (samples >= 2, n), got {tuple(samples.shape)}")
    virial = (samples * -energy.force(samples)).detach().double()  # x_i ∂V/∂x_i, per sample
    mean = virial.mean(0)
    error = virial.std(0) / math.sqrt(len(virial))
    z = (mean - kT).abs() / error.clamp_min(1e-300)
    worst = int(z.argmax())
    result = _verdict(
        "equipartition", float(mean[worst]), kT, float(error[worst]), sigmas, slack,
        f"⟨x ∂V/∂x⟩ over {len(virial)} samples, {virial.shape[1]} degrees of freedom; the worst is "
        f"#{worst} at {float(z[worst]):.1f} standard errors.",
    )  # fmt: skip
    passed = bool(((mean - kT).abs() <= sigmas * error + slack).all())
    return ConsistencyCheck(**{**result.__dict__, "passed": passed})


def protocol_work(
    trajectory: Tensor, times: Tensor, energy_at: Callable[[float], Energy]
) -> Tensor:
    """W = Σ_k [V_{t_{k+1}}(x_k) − V_{t_k}(x_k)] of each trajectory ``(steps + 1, chains, n)``
    recorded at ``times`` under the time-dependent potential ``energy_at(t)``: the work the
    protocol does on the system (the rest of ΔV is heat). Shape ``(chains,)``, float64."""
    if trajectory.dim() != 3 or len(trajectory) != len(times):
        raise ValueError(
            f"trajectory, times: expected (steps + 1, chains, n) and (steps + 1,), got "
            f"{tuple(trajectory.shape)} and {tuple(times.shape)}"
        )
    t = times.tolist()
    work = torch.zeros(trajectory.shape[1], dtype=torch.float64, device=trajectory.device)
    for k in range(len(t) - 1):
        x = trajectory[k]
        work += (energy_at(t[k + 1]).energy(x) - energy_at(t[k]).energy(x)).double()
    return work


def check_jarzynski(
    work: Tensor, kT: float, delta_f: float, *, sigmas: float = 4.0, slack: float = 0.0
) -> ConsistencyCheck:
    """Jarzynski's equality: ΔF_J = −kT ln ⟨e^{−W/kT}⟩ against the exact ``delta_f``, from the
    works ``(trajectories,)`` of a protocol started in equilibrium. The error is the delta-method
    standard error kT·std(e^{−W/kT}) / (mean · √N).

    Raises:
        ValueError: fewer than two works, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    check_float("delta_f", delta_f)
    if work.dim() != 1 or len(work) < 2:
        raise ValueError(f"work: expected shape (trajectories >= 2,), got {tuple(work.shape)}")
    w = work.double()
    log_weights = -w / kT
    n = len(w)
    estimate = -kT * (float(torch.logsumexp(log_weights, 0)) - math.log(n))
    weights = torch.exp(log_weights - log_weights.max())
    error = kT * float(weights.std() / weights.mean()) / math.sqrt(n)
    dissipated = float(w.mean()) - delta_f
    return _verdict(
        "Jarzynski", estimate, delta_f, error, sigmas, slack,
        f"{n} trajectories; mean work {float(w.mean()):.4g} (dissipated {dissipated:.3g} ≥ 0 by the "
        "second law).",
    )  # fmt: skip


def check_first_law(
    trajectory: Tensor,
    times: Tensor,
    energy_at: Callable[[float], Energy],
    force_at: Callable[[float], Callable[[Tensor], Tensor]] | None = None,
    *,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    """The first law ΔU = W + Q on trajectories ``(steps + 1, chains, n)`` at ``times``: ΔU the
    change of ``energy_at(t)``, W the protocol work (:func:`protocol_work`), and Q =
    −Σ_k F_{t_{k+1}}(½(x_k + x_{k+1}))·(x_{k+1} − x_k) the heat delivered through the force the
    dynamics used, ``force_at(t)`` (default: the energy's own force −∇V). Measured: the mean
    residual ΔU − W − Q, expected 0 within ``sigmas`` standard errors + ``slack``."""
    work = protocol_work(trajectory, times, energy_at)
    t = times.tolist()
    heat = torch.zeros_like(work)
    for k in range(len(t) - 1):
        force = energy_at(t[k + 1]).force if force_at is None else force_at(t[k + 1])
        midpoint = 0.5 * (trajectory[k] + trajectory[k + 1])
        heat -= (force(midpoint) * (trajectory[k + 1] - trajectory[k])).sum(-1).double()
    delta_u = (
        energy_at(t[-1]).energy(trajectory[-1]) - energy_at(t[0]).energy(trajectory[0])
    ).double()
    residual = (delta_u - work - heat).detach()
    error = float(residual.std()) / math.sqrt(len(residual)) if len(residual) > 1 else math.inf
    return _verdict(
        "first law", float(residual.mean()), 0.0, error, sigmas, slack,
        f"ΔU − W − Q over {len(residual)} trajectories; ⟨ΔU⟩ = {float(delta_u.mean()):.4g}, "
        f"⟨W⟩ = {float(work.mean()):.4g}, ⟨Q⟩ = {float(heat.mean()):.4g}.",
    )  # fmt: skip
