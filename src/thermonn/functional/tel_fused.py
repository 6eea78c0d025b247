r"""Fused TEL kernels: the descent and its adjoint in closed form, for the built-in primal
entropies with Gaussian, running or constant temperatures.

Forward, per sample, from :math:`y_0 = z`:

.. math::

    y_{k+1} = y_k - \eta_k\bigl((y_k - z) - T_k\varphi(y_k)\bigr), \qquad
    T_{k+1} = T_k + \beta\,(\tau(\hat S(y_{k+1})) - T_k),

keeping only :math:`T_k` and three numbers per sample and step that give
:math:`\partial\hat S/\partial y_k` (:func:`~thermonn.functional.temperature.gaussian_entropy_terms`).
The backward recomputes the iterates of a chunk of samples and runs the adjoint recursion of
:mod:`thermonn.functional.tel_adjoint` with

* ``logcosh``: :math:`\varphi = -\tanh y`, :math:`\varphi' = \tanh^2 y - 1`;
* ``gate``: :math:`u = ay + c`, :math:`\varphi = -a u\sigma'(u)`,
  :math:`\partial\varphi/\partial u = -a(\sigma'(u) + u\sigma''(u))`,
  :math:`\varphi' = a\,\partial\varphi/\partial u`,
  :math:`\partial\varphi/\partial a = -u\sigma'(u) + y\,\partial\varphi/\partial u`,
  :math:`\partial\varphi/\partial c = \partial\varphi/\partial u`.

Both kernels are pure functions of tensors and a static configuration; :mod:`thermonn.functional.tel_ops`
registers them as the custom operators ``thermonn::tel_forward`` / ``thermonn::tel_backward`` (so
an outer ``torch.compile`` treats them as one opaque, differentiable operation) and runs them
eagerly or under ``torch.compile`` on chunks of samples (CPU: C++ loop nests over each chunk,
which stays in L2; CUDA: Triton, untested here).  In float32 (and below, computed in
float32) ``tanh`` is a clamped rational approximation, :math:`x P(x^2)/Q(x^2)`,
within 3.8e-7 of the exact value (measured against float64 on a 4e6-point grid over
:math:`[-12, 12]`; float32 rounding of ``tanh`` itself is 6e-8); float64 uses ``torch.tanh``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn.functional.entropy.primal import _sigmoid_flat
from thermonn.functional.temperature import ema, gaussian_entropy_terms, target_temperature

__all__ = ["Config", "backward_kernel", "fast_tanh", "forward_kernel", "wide_dtype"]
_LOG2 = math.log(2.0)

# tanh(x) ~ x P(x^2) / Q(x^2) on |x| <= 9 (a weighted least-squares fit of this project, see
# the module docstring for its accuracy); beyond 9, tanh is 1 to float32 rounding.
_TANH_CLAMP = 9.0
_TANH_P = (
    0.9999997363136617, 0.12910662473895862, 0.0029119726441680475, 9.194905350484259e-06,
    -1.259079087899636e-08, 1.7837510320780597e-11,
)  # fmt: skip
_TANH_Q = (1.0, 0.46243895430068044, 0.02372607775815192, 0.00022693811384884375)


def fast_tanh(x: Tensor) -> Tensor:
    """``tanh`` for the fused kernels: exact in float64, the rational approximation (max error
    3.8e-7, output within [-1, 1]) in other dtypes."""
    if x.dtype == torch.float64:
        return torch.tanh(x)
    x = x.clamp(-_TANH_CLAMP, _TANH_CLAMP)
    x2 = x * x
    p = x2 * _TANH_P[5] + _TANH_P[4]
    for coef in _TANH_P[3::-1]:
        p = p * x2 + coef
    q = x2 * _TANH_Q[3] + _TANH_Q[2]
    for coef in _TANH_Q[1::-1]:
        q = q * x2 + coef
    return (x * p / q).clamp(-1.0, 1.0)


class Config(NamedTuple):
    """The static part of a fused descent (everything but tensors)."""

    entropy: str  # "logcosh" | "gate"
    temperature: str  # "fixed" | "gaussian" | "running"
    steps: int
    beta: float
    t_min: float
    t_max: float
    eps: float
    trace: bool  # also return per-sample trace statistics
    estimates: bool  # also return the Gaussian estimates of y_0..y_{K-1} (running statistics)
    rescale: bool  # the Gaussian estimate's huge-row check (off where no row can be huge)


# ---- elementwise closed forms ---------------------------------------------------------------


def _gate_sigmoid(y: Tensor, a: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(u, sigma(u))`` for the gate, ``u = a y + c`` clipped where :math:`\sigma'` is exactly 0
    (as in :meth:`~thermonn.functional.Gate.phi`)."""
    bound = _sigmoid_flat(y.dtype)
    u = (a * y + c).clamp(-bound, bound)
    return u, torch.sigmoid(u)


def _phi(cfg: Config, y: Tensor, ent: list[Tensor]) -> Tensor:
    if cfg.entropy == "logcosh":
        return -fast_tanh(y)
    u, s = _gate_sigmoid(y, *ent)
    return -ent[0] * u * s * (1.0 - s)


def _phi_terms(cfg: Config, y: Tensor, ent: list[Tensor]) -> tuple[Tensor, ...]:
    """``(phi, phi')`` and, for ``gate``, ``(dphi/da, dphi/dc)``."""
    if cfg.entropy == "logcosh":
        t = fast_tanh(y)
        return -t, t * t - 1.0
    a = ent[0]
    u, s = _gate_sigmoid(y, *ent)
    ds = s * (1.0 - s)  # exactly 0 beyond the clip, so the clip's zero gradient is implied
    dphi_du = -a * (ds + u * ds * (1.0 - 2.0 * s))
    return -a * u * ds, a * dphi_du, y * dphi_du - u * ds, dphi_du


def _entropy_of(cfg: Config, y: Tensor, ent: list[Tensor], wide: torch.dtype) -> Tensor:
    r"""Elementwise :math:`s(y)` in ``wide`` (trace only).  Its unbounded part is taken in
    ``wide`` from the iterate's exact value; the bounded rest (in :math:`[0, \log 2]`) in the
    descent's dtype, whose absolute rounding then limits the trace's F to about 1e-7 per
    feature -- whatever the size of F."""
    sp = torch.nn.functional.softplus
    if cfg.entropy == "logcosh":
        m = y.abs()
        return (_LOG2 - m.to(wide)) - sp(-2.0 * m).to(wide)
    a, c = ent
    u = a * y + c
    return (torch.sigmoid(u) * sp(-u) + torch.sigmoid(-u) * sp(u)).to(wide)


# ---- the kernels ----------------------------------------------------------------------------


def forward_kernel(
    z: Tensor, y_out: Tensor, etas: Tensor, ent: list[Tensor], temp: list[Tensor], cfg: Config
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Writes :math:`y_K` into ``y_out``; returns ``(T, packed, estimates, trace, peak)``:
    ``T`` the ``(R, K)`` temperatures and ``packed`` the ``(R, 4K)`` estimate terms
    ``[S_0..S_{K-1}, (gain, mean, scale)_0, ...]`` for Gaussian temperatures (else empty), the
    estimates of ``y_0..`` for running statistics, the ``(R, K+1, 4)`` trace when asked for, and
    ``max |z|`` per sample where the estimate skipped its huge-row check (else empty)."""
    steps, gaussian = cfg.steps, cfg.temperature == "gaussian"
    y = z
    if cfg.temperature == "fixed":
        t = temp[0]
    elif cfg.temperature == "running":
        t = temp[0][0]
    else:
        s_hat, gain, mean, scale = gaussian_entropy_terms(y, cfg.eps, rescale=cfg.rescale)
        t = target_temperature(s_hat.to(y.dtype), temp[0], temp[1], cfg.t_min, cfg.t_max)
    ts, ss, terms, est, trace = [], [], [], [], []
    for k in range(steps + (1 if cfg.trace else 0)):
        if gaussian:
            ts.append(t)
            ss.append(s_hat)
            terms += [gain, mean, scale]
        elif cfg.estimates or cfg.trace:
            s_hat = gaussian_entropy_terms(y, cfg.eps, rescale=cfg.rescale)[0]
        if cfg.estimates or cfg.trace:
            est.append(s_hat)
        if cfg.trace:
            trace.append(_trace_row(cfg, y, z, t, s_hat, ent))
        if k == steps:
            break
        y = y - etas[k] * ((y - z) - t * _phi(cfg, y, ent))
        if k + 1 < steps or cfg.trace:
            if gaussian:
                s_hat, gain, mean, scale = gaussian_entropy_terms(y, cfg.eps, rescale=cfg.rescale)
                tau = target_temperature(s_hat.to(y.dtype), temp[0], temp[1], cfg.t_min, cfg.t_max)
                t = ema(t, tau, cfg.beta)
            elif cfg.temperature == "running":
                t = ema(t, temp[0][k + 1], cfg.beta)
    if gaussian:
        t_out = torch.cat(ts[:steps], dim=-1)
        packed = torch.cat([torch.cat(ss[:steps], -1), torch.cat(terms[: 3 * steps], -1)], -1)
        packed = packed.to(z.dtype)
    else:
        t_out, packed = z.new_empty(0), z.new_empty(0)
    est_out = torch.cat(est, -1).to(z.dtype) if est else z.new_empty(0)
    trace_out = torch.stack(trace, dim=1) if trace else z.new_empty(0, dtype=wide_dtype(z))
    needs_peak = not cfg.rescale and (gaussian or bool(est))
    peak = z.abs().amax(-1) if needs_peak else z.new_empty(0)
    y_out.copy_(y)
    return t_out, packed, est_out, trace_out, peak


def wide_dtype(z: Tensor) -> torch.dtype:
    """The trace's accumulation dtype: float64 (float32 on MPS, which has none)."""
    return torch.float32 if z.device.type == "mps" else torch.float64


def _trace_row(
    cfg: Config, y: Tensor, z: Tensor, t: Tensor, s_hat: Tensor, ent: list[Tensor]
) -> Tensor:
    """Per sample ``(T, S_hat, F, ||grad F||)`` (``(R, 4)``, float64): F accumulated in float64
    from the iterate's values (its changes are resolved where F is huge, see
    :func:`_entropy_of`); the norm of the gradient, which has no such cancellation, in the
    descent's dtype."""
    wide = wide_dtype(z)
    y64, z64 = y.to(wide), z.to(wide)
    t64 = t.to(wide).expand(y.shape[0], 1)
    enthalpy = 0.5 * (y64 - z64).square().sum(-1, keepdim=True)
    f = enthalpy - t64 * _entropy_of(cfg, y, ent, wide).sum(-1, keepdim=True)
    g = (y - z) - t * _phi(cfg, y, ent)
    norm = torch.linalg.vector_norm(g, dim=-1, keepdim=True).to(wide)
    return torch.cat([t64, s_hat.to(wide).expand(y.shape[0], 1), f, norm], -1)


def backward_kernel(
    z: Tensor,
    grad: Tensor,
    t_rows: Tensor,
    packed: Tensor,
    dz_out: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    cfg: Config,
) -> tuple[Tensor, list[Tensor], Tensor]:
    """Writes ``dz`` into ``dz_out``; returns ``(d eta per sample (R, K), [d entropy tensors,
    column sums], d temperature per sample)`` for one chunk of samples (the recursion of the
    module docstring)."""
    steps, beta = cfg.steps, cfg.beta
    gaussian, running = cfg.temperature == "gaussian", cfg.temperature == "running"
    if gaussian:
        temps = list(t_rows.unbind(-1))
        temps = [t.unsqueeze(-1) for t in temps]
    elif running:
        temps = [temp[0][0]]
        for k in range(1, steps):
            temps.append(ema(temps[-1], temp[0][k], beta))
    else:
        temps = [temp[0]] * steps
    ys, terms = [], []
    y = z
    for k in range(steps):
        ys.append(y)
        terms.append(_phi_terms(cfg, y, ent))
        if k + 1 < steps:
            y = y - etas[k] * ((y - z) - temps[k] * terms[k][0])
    adj = grad
    dz = torch.zeros_like(z)
    t_bar = torch.zeros_like(z[:, :1])
    deta, dtemp, dent = [], [], [torch.zeros_like(z[0]) for _ in ent]
    for k in reversed(range(steps)):
        eta, tk, yk = etas[k], temps[k], ys[k]
        phi, dphi = terms[k][0], terms[k][1]
        deta.append(-(adj * ((yk - z) - tk * phi)).sum(-1))
        t_bar = t_bar + eta * (adj * phi).sum(-1, keepdim=True)
        dz = dz + eta * adj
        for i, dphi_dtheta in enumerate(terms[k][2:]):
            dent[i] = dent[i] + (adj * (eta * tk) * dphi_dtheta).sum(0)
        adj = adj * (1.0 - eta * (1.0 - tk * dphi))
        tau_bar = t_bar * beta if k > 0 else t_bar  # T_0 = tau_0
        if gaussian:
            s_k = packed[:, k : k + 1]
            gain = packed[:, steps + 3 * k : steps + 3 * k + 1]
            mean = packed[:, steps + 3 * k + 1 : steps + 3 * k + 2]
            scale = packed[:, steps + 3 * k + 2 : steps + 3 * k + 3]
            sig = torch.sigmoid(temp[0] * (s_k - temp[1]))
            dtau = (cfg.t_max - cfg.t_min) * sig * (1.0 - sig) * tau_bar
            dtemp.append(torch.cat([dtau * (s_k - temp[1]), -dtau * temp[0]], -1))
            adj = adj + (dtau * temp[0] * gain) * (scale * yk - mean)
        elif running:
            dtemp.append(tau_bar)
        if gaussian or running:  # T_k = T_{k-1} + beta (tau_k - T_{k-1}); a constant T just adds up
            t_bar = t_bar * (1.0 - beta)
    dz_out.copy_(dz + adj)
    deta_rows = torch.stack(deta[::-1], dim=-1)
    if gaussian:
        dtemp_rows = torch.stack(dtemp, 0).sum(0)  # (R, 2): slope, offset
    elif running:
        dtemp_rows = torch.cat(dtemp[::-1], -1)  # (R, K): the targets
    else:
        dtemp_rows = t_bar  # (R, 1): the constant temperature
    return deta_rows, dent, dtemp_rows
