r"""The second law and the fluctuation theorems as checks with a pass/fail at a stated tolerance.

* :func:`check_entropy_production` — the mean total entropy production of trajectories
  (Seifert 2005),

  .. math::  \langle \Delta s_{tot} \rangle = \langle \ln p_0(x_0) - \ln p_\tau(x_\tau) \rangle
             - \langle Q \rangle / kT \;\ge\; 0,

  Q the heat absorbed from the bath along each path (:func:`stochastic_heat`);
* :func:`check_fluctuation_dissipation` — the response of A = f·x to the force f switched on
  at t = 0 (energy V − f·x) against the equilibrium correlation of the unperturbed dynamics,

  .. math::  \langle A(t) \rangle_f - \langle A(t) \rangle_0 = \frac{C_{AA}(0) - C_{AA}(t)}{kT}
             + O(f^3);

* :func:`bennett_acceptance_ratio` — ΔF from forward works W_F and reverse works W_R
  (Bennett 1976), the root of Σ_F σ(−M − β(W_F − ΔF)) = Σ_R σ(M − β(W_R + ΔF)),
  M = ln(n_F / n_R), and :func:`check_bar` against an exact ΔF;
* :func:`crooks_fit` and :func:`check_crooks` — Crooks' theorem (1999)
  P_F(W) / P_R(−W) = e^{(W − ΔF)/kT}: the log ratio is a line of slope 1/kT crossing zero at
  W = ΔF. It is fitted without histograms, as a logistic regression of "forward or reverse"
  on W over the pooled works W_F and −W_R, whose logit is ln(n_F P_F(W) / n_R P_R(−W)) =
  M + a (W − ΔF); the check is a·kT = 1 (with the slope fixed at 1/kT the same regression is
  BAR, Shirts et al. 2003).

Every check returns a :class:`~thermonn.estimators.ConsistencyCheck` and must be able to fail:
the tests run each one on systems where the law holds and on deliberately broken ones (a
wrong noise amplitude, a non-conservative force).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.energy import Energy
from thermonn.estimators.consistency import (
    ConsistencyCheck,
    Force,
    FreeEnergyEstimate,
    _check_path,
    _check_work,
    _verdict,
    jarzynski_estimate,
    stochastic_heat,
)

__all__ = [
    "CrooksFit",
    "bennett_acceptance_ratio",
    "check_bar",
    "check_crooks",
    "check_entropy_production",
    "check_fluctuation_dissipation",
    "crooks_fit",
    "gaussian_log_density",
]


def gaussian_log_density(samples: Tensor) -> Tensor:
    r"""ln N(x; m̂, Σ̂) of each sample ``(samples, n)`` under the Gaussian with the ensemble's
    own mean and (maximum-likelihood) covariance; its mean over the samples is −S_G, the
    Gaussian entropy S_G = ½ ln det(2πe Σ̂). Exact for the Gaussian ensembles of linear
    dynamics from a Gaussian start; otherwise S_G ≥ S (the Gaussian has the largest entropy of
    a given covariance). Shape ``(samples,)``, float64.

    Raises:
        ValueError: fewer samples than n + 1, or a singular covariance (a point-like ensemble).
    """
    if samples.dim() != 2 or len(samples) <= samples.shape[1]:
        raise ValueError(f"samples: expected shape (samples > n, n), got {tuple(samples.shape)}")
    x = samples.detach().double()
    d = x - x.mean(0)
    chol, info = torch.linalg.cholesky_ex(d.T @ d / len(x))
    if int(info) != 0 or not bool((chol.diagonal() > 0).all()):
        raise ValueError(
            "samples: the ensemble's covariance is singular (a point-like start such as "
            "x(0) = 0 has no density); pass log_density"
        )
    z = torch.linalg.solve_triangular(chol, d.T, upper=False)
    log_det = 2.0 * float(chol.diagonal().log().sum())
    return -0.5 * (z.square().sum(0) + log_det + x.shape[1] * math.log(2.0 * math.pi))


def check_entropy_production(
    trajectory: Tensor,
    times: Tensor,
    energy_at: Callable[[float], Energy],
    kT: float,
    force_at: Callable[[float], Force] | None = None,
    *,
    log_density: Callable[[Tensor, float], Tensor] | None = None,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    r"""The second law for trajectories ``(steps + 1, chains, n)`` at ``times``: the mean of
    Δs_tot = ln p_0(x_0) − ln p_τ(x_τ) − Q/kT is ≥ 0, with Q the heat absorbed through the force
    the dynamics used (:func:`stochastic_heat`; ``force_at`` as there) and −Q/kT the entropy
    delivered to the bath. ``log_density(x, t)`` gives ln p(x, t) at the two ends (unnormalised
    only if the normalisation is the same at both, e.g. one equilibrium at both ends); the
    default fits a Gaussian to each end's ensemble (:func:`gaussian_log_density`: exact for
    linear dynamics from a Gaussian start; otherwise each end's entropy is overstated, S_G ≥ S,
    and ⟨Δs_sys⟩ is approximate). Passes when the mean is ≥ −(``sigmas`` standard errors +
    ``slack``); the heat is Simpson's (:func:`stochastic_heat`).

    It fails for a bath whose noise does not belong to ``kT``: an equilibrium ensemble at kT
    relaxing in a bath at kT' ≠ kT shows ⟨Δs_tot⟩ = ½[ln r + 1 − r] < 0 per degree of freedom
    (harmonic, r = kT'/kT) when the books are kept at kT.

    Raises:
        ValueError: shapes that disagree, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    _check_path(trajectory, times)
    heat = stochastic_heat(trajectory, times, energy_at, force_at)
    if log_density is None:
        start, end = gaussian_log_density(trajectory[0]), gaussian_log_density(trajectory[-1])
    else:
        start = log_density(trajectory[0], float(times[0])).detach().double()
        end = log_density(trajectory[-1], float(times[-1])).detach().double()
    system, bath = start - end, -heat / kT
    total = system + bath
    n = len(total)
    mean, error = float(total.mean()), float(total.std()) / math.sqrt(n)
    tolerance = sigmas * error + slack
    return ConsistencyCheck(
        "entropy production", mean, 0.0, error, tolerance, mean >= -tolerance,
        f"⟨Δs_tot⟩ ≥ 0 over {n} trajectories: ⟨Δs_sys⟩ = {float(system.mean()):.4g}, "
        f"⟨Q_bath⟩/kT = {float(bath.mean()):.4g} (one-sided: passes above −tolerance).",
    )  # fmt: skip


def _autocovariance(a: Tensor) -> Tensor:
    """(1/(K+1−τ)) Σ_s a(s) a(s+τ) of each column of ``a`` ``(K + 1, chains)``, by FFT."""
    records = len(a)
    spectrum = torch.fft.rfft(a, n=2 * records, dim=0)
    sums = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * records, dim=0)[:records]
    counts = torch.arange(records, 0, -1, dtype=a.dtype, device=a.device)
    return sums / counts[:, None]


def check_fluctuation_dissipation(
    unperturbed: Tensor,
    perturbed: Tensor,
    force: Tensor,
    kT: float,
    *,
    lags: Sequence[int] | None = None,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    r"""The fluctuation–dissipation theorem in its step-response form. ``unperturbed`` and
    ``perturbed`` are trajectories ``(records, chains, n)`` recorded at equal intervals from the
    same equilibrium states at record 0, without and with the constant ``force`` f ``(n,)``
    (energy V − f·x) from then on; sharing the noise too (the same generator seed) makes the
    response nearly noise-free. For A = f·x and each lag τ (in records),

    .. math::  R(\tau) = \langle A(\tau) \rangle_f - \langle A(\tau) \rangle_0
               \quad\text{against}\quad \frac{C(0) - C(\tau)}{kT},

    C(τ) the autocovariance of A in the unperturbed (stationary) trajectories, averaged over
    chains and time origins. Per chain the difference of the two sides is a sum of that chain's
    terms, so its standard error is the spread over chains / √chains. Measured: R at the lag
    farthest from the prediction (in standard errors); it passes when every lag in ``lags``
    (default: ten spread over the records) is within ``sigmas`` standard errors + ``slack``.
    f must be small where V is not quadratic (the response is linear only to O(f³)).

    The detail reports the effective temperature kT_eff = Σ ΔC² / Σ ΔC·R, the least-squares
    slope: a bath whose noise belongs to kT' gives kT_eff = kT'; a non-conservative force
    (broken detailed balance) bends R away from ΔC/kT even where equipartition holds.

    Raises:
        ValueError: shapes that disagree, lags outside 1 … records − 1, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    if (
        unperturbed.dim() != 3
        or perturbed.shape != unperturbed.shape
        or len(unperturbed) < 2
        or unperturbed.shape[1] < 2
    ):
        raise ValueError(
            "unperturbed, perturbed: expected equal shapes (records >= 2, chains >= 2, n), got "
            f"{tuple(unperturbed.shape)} and {tuple(perturbed.shape)}"
        )
    n = unperturbed.shape[-1]
    if force.shape != (n,):
        raise ValueError(f"force: expected shape ({n},), got {tuple(force.shape)}")
    records = len(unperturbed)
    if lags is None:
        lag_list = sorted({round(x) for x in torch.linspace(1, records - 1, 10).tolist()})
    else:
        lag_list = sorted({int(x) for x in lags})
        if not lag_list or lag_list[0] < 1 or lag_list[-1] > records - 1:
            raise ValueError(f"lags: expected lags in 1 … {records - 1}, got {list(lags)}")
    f = force.detach().double()
    a0 = unperturbed.detach().double() @ f  # (records, chains)
    af = perturbed.detach().double() @ f
    c = _autocovariance(a0 - a0.mean())
    idx = torch.tensor(lag_list)
    response = af[idx] - a0[idx]  # per chain
    predicted = (c[0] - c[idx]) / kT
    difference = response - predicted
    chains = a0.shape[1]
    error = difference.std(1) / math.sqrt(chains)
    gap = difference.mean(1)
    z = gap.abs() / error.clamp_min(1e-300)
    worst = int(z.argmax())
    r, dc = response.mean(1), predicted.mean(1) * kT
    kT_eff = float((dc * dc).sum() / (dc * r).sum())
    result = _verdict(
        "fluctuation-dissipation", float(r[worst]), float(predicted[worst].mean()),
        float(error[worst]), sigmas, slack,
        f"response of f·x to f against (C(0) − C(τ))/kT at {len(lag_list)} lags over {chains} "
        f"chains; the worst is τ = {lag_list[worst]} records at {float(z[worst]):.1f} standard "
        f"errors; effective temperature ΔC/R = {kT_eff:.4g} (kT = {kT:g}).",
    )  # fmt: skip
    passed = bool((gap.abs() <= sigmas * error + slack).all())
    return ConsistencyCheck(**{**result.__dict__, "passed": passed})


def _pooled(forward_work: Tensor, reverse_work: Tensor, kT: float) -> tuple[Tensor, Tensor, float]:
    """β·(W_F, −W_R) pooled, labels 1 (forward) / 0 (reverse), and M = ln(n_F / n_R)."""
    wf = _check_work("forward_work", forward_work)
    wr = _check_work("reverse_work", reverse_work)
    w = torch.cat([wf, -wr]) / kT
    labels = torch.cat([torch.ones_like(wf), torch.zeros_like(wr)])
    return w, labels, math.log(len(wf) / len(wr))


def bennett_acceptance_ratio(
    forward_work: Tensor, reverse_work: Tensor, kT: float
) -> FreeEnergyEstimate:
    r"""Bennett's acceptance ratio ΔF from the works of a protocol run forward (from the
    equilibrium of the start) and reversed (from the equilibrium of the end): the root of

    .. math::  \sum_F \frac{1}{1 + e^{M + \beta (W_F - \Delta F)}}
               = \sum_R \frac{1}{1 + e^{-M + \beta (W_R + \Delta F)}}, \qquad M = \ln\frac{n_F}{n_R},

    found by bisection (the left side rises and the right falls with ΔF). Its standard error is
    the asymptotic one of Shirts et al. (2003), σ²(βΔF) = [Σ_w p(1 − p)]⁻¹ − 1/n_F − 1/n_R with
    p = σ(M + β(w − ΔF)) over the pooled works w ∈ {W_F, −W_R}.

    Raises:
        ValueError: fewer than two or non-finite works on either side, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    w, labels, m = _pooled(forward_work, reverse_work, kT)
    forward, reverse = w[labels == 1], -w[labels == 0]  # β W_F and β W_R

    def imbalance(beta_df: float) -> float:  # ln Σ_F fF − ln Σ_R fR, increasing in ΔF
        log_f = -torch.nn.functional.softplus(m + forward - beta_df)
        log_r = -torch.nn.functional.softplus(-m + reverse + beta_df)
        return float(torch.logsumexp(log_f, 0) - torch.logsumexp(log_r, 0))

    lo = min(float(forward.min()), float(-reverse.max())) - abs(m) - 50.0
    hi = max(float(forward.max()), float(-reverse.min())) + abs(m) + 50.0
    while hi - lo > 1e-13 * (1.0 + abs(lo) + abs(hi)):  # ~50 halvings to float64 resolution
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if imbalance(mid) > 0 else (mid, hi)
    beta_df = 0.5 * (lo + hi)
    p = torch.sigmoid(m + w - beta_df)
    variance = 1.0 / float((p * (1 - p)).sum()) - 1.0 / len(forward) - 1.0 / len(reverse)
    return FreeEnergyEstimate(kT * beta_df, kT * math.sqrt(max(variance, 0.0)), "BAR")


@dataclass(frozen=True)
class CrooksFit:
    """The line ln P_F(W)/P_R(−W) = a (W − ΔF) fitted to forward and reverse works:
    ``slope`` a (Crooks: 1/kT) and ``crossing`` ΔF (where P_F(W) = P_R(−W), Crooks: the
    free-energy difference), with standard errors from the logistic likelihood's curvature (the
    intercept's corrected for sample sizes that are fixed, not drawn);
    ``bar`` and ``jarzynski_forward`` / ``jarzynski_reverse`` (ΔF = +kT ln⟨e^{−W_R/kT}⟩) the
    other estimates of the same ΔF."""

    slope: float
    slope_error: float
    crossing: float
    crossing_error: float
    bar: FreeEnergyEstimate
    jarzynski_forward: FreeEnergyEstimate
    jarzynski_reverse: FreeEnergyEstimate = field(repr=False)


def crooks_fit(forward_work: Tensor, reverse_work: Tensor, kT: float) -> CrooksFit:
    r"""Fit Crooks' log ratio without histograms: the logistic regression of the label
    (forward / reverse) on the pooled works w ∈ {W_F, −W_R},
    logit P(F | w) = M + a (w − ΔF), by Newton's method with step halving (the likelihood is
    concave). See the module docstring.

    Raises:
        ValueError: works that do not overlap (no crossing to fit), fewer than two works on a
            side, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    w, labels, m = _pooled(forward_work, reverse_work, kT)
    wf, wr = w[labels == 1], w[labels == 0]
    if not (float(wf.min()) < float(wr.max()) and float(wr.min()) < float(wf.max())):
        raise ValueError(
            "forward_work, reverse_work: expected overlapping W_F and −W_R, got separated "
            "distributions (a protocol too fast for a crossing)"
        )
    centre, scale = float(w.mean()), float(w.std())
    design = torch.stack([(w - centre) / scale, torch.ones_like(w)], 1)

    def loss(theta: Tensor) -> float:  # −log-likelihood of the labels
        logits = design @ theta
        return float((torch.nn.functional.softplus(logits) - labels * logits).sum())

    theta = torch.tensor([1.0, m], dtype=torch.float64)
    for _ in range(100):
        p = torch.sigmoid(design @ theta)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = torch.linalg.solve(hessian, design.T @ (labels - p))
        current, scale_step = loss(theta), 1.0
        while loss(theta + scale_step * step) > current and scale_step > 1e-6:
            scale_step /= 2
        theta = theta + scale_step * step
        if float(step.abs().max()) < 1e-12:
            break
    p = torch.sigmoid(design @ theta)
    cov = torch.linalg.inv(design.T @ (design * (p * (1 - p))[:, None]))
    # the sample sizes are fixed, not drawn: the intercept's variance is smaller by
    # 1/n_F + 1/n_R than the Fisher information says (Prentice & Pyke 1979; BAR's same term)
    cov[1, 1] -= 1.0 / len(wf) + 1.0 / len(wr)
    # logit = θ₀ (w − c)/s + θ₁ = a (w − ΔF) + M  ⇒  a = θ₀/s, ΔF = c + s (M − θ₁)/θ₀
    t0, t1 = float(theta[0]), float(theta[1])
    slope = t0 / scale
    crossing = centre + scale * (m - t1) / t0
    grad = torch.tensor([-scale * (m - t1) / t0**2, -scale / t0], dtype=torch.float64)
    return CrooksFit(
        slope=slope / kT,
        slope_error=math.sqrt(float(cov[0, 0])) / scale / kT,
        crossing=kT * crossing,
        crossing_error=kT * math.sqrt(float(grad @ cov @ grad)),
        bar=bennett_acceptance_ratio(forward_work, reverse_work, kT),
        jarzynski_forward=jarzynski_estimate(forward_work, kT),
        jarzynski_reverse=_negated(jarzynski_estimate(reverse_work, kT)),
    )


def _negated(estimate: FreeEnergyEstimate) -> FreeEnergyEstimate:
    """The reverse protocol's estimate of −ΔF, as an estimate of ΔF."""
    return FreeEnergyEstimate(-estimate.delta_f, estimate.error, "Jarzynski (reverse)")


def check_crooks(
    forward_work: Tensor,
    reverse_work: Tensor,
    kT: float,
    *,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    r"""Crooks' fluctuation theorem: the slope a of ln P_F(W)/P_R(−W) against W
    (:func:`crooks_fit`) is 1/kT. Measured: a·kT, expected 1, within ``sigmas`` standard errors
    + ``slack``. The works must come from a forward protocol started in the equilibrium of its
    start and the time-reversed protocol started in the equilibrium of its end; a bath whose
    noise belongs to another temperature kT' tilts the slope towards 1/kT'.

    Raises:
        ValueError: as :func:`crooks_fit`.
    """
    fit = crooks_fit(forward_work, reverse_work, kT)
    return _verdict(
        "Crooks", fit.slope * kT, 1.0, fit.slope_error * kT, sigmas, slack,
        f"slope·kT of ln P_F(W)/P_R(−W) over {len(forward_work)} + {len(reverse_work)} works; "
        f"crossing ΔF = {fit.crossing:.4g} ± {fit.crossing_error:.2g}, BAR {fit.bar.delta_f:.4g} "
        f"± {fit.bar.error:.2g}, Jarzynski forward {fit.jarzynski_forward.delta_f:.4g}, "
        f"reverse {fit.jarzynski_reverse.delta_f:.4g}.",
    )  # fmt: skip


def check_bar(
    forward_work: Tensor,
    reverse_work: Tensor,
    kT: float,
    delta_f: float,
    *,
    sigmas: float = 4.0,
    slack: float = 0.0,
) -> ConsistencyCheck:
    """Bennett's ΔF (:func:`bennett_acceptance_ratio`) from forward and reverse works against
    the exact ``delta_f``, within ``sigmas`` standard errors + ``slack``; the detail gives both
    Jarzynski estimates for comparison.

    Raises:
        ValueError: as :func:`bennett_acceptance_ratio`, a non-finite ``delta_f``.
    """
    check_float("delta_f", delta_f)
    bar = bennett_acceptance_ratio(forward_work, reverse_work, kT)
    forward = jarzynski_estimate(forward_work, kT)
    reverse = _negated(jarzynski_estimate(reverse_work, kT))
    return _verdict(
        "BAR", bar.delta_f, delta_f, bar.error, sigmas, slack,
        f"{len(forward_work)} forward + {len(reverse_work)} reverse works; Jarzynski forward "
        f"{forward.delta_f:.4g} ± {forward.error:.2g}, reverse {reverse.delta_f:.4g} ± "
        f"{reverse.error:.2g}.",
    )  # fmt: skip
