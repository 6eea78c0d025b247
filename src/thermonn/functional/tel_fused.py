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

Both kernels are pure functions of tensors and a static configuration, registered as the
custom operators ``thermonn::tel_forward`` / ``thermonn::tel_backward`` (so an outer
``torch.compile`` treats them as one opaque, differentiable operation) and run eagerly or under
``torch.compile`` on chunks of samples (:func:`_rows_per_call`; CPU: C++ loop nests over each
chunk, which stays in L2; CUDA: Triton, untested here).  In float32 (and below, computed in
float32) ``tanh`` is a clamped rational approximation, :math:`x P(x^2)/Q(x^2)`,
within 3.8e-7 of the exact value (measured against float64 on a 4e6-point grid over
:math:`[-12, 12]`; float32 rounding of ``tanh`` itself is 6e-8); float64 uses ``torch.tanh``.
"""

from __future__ import annotations

import math
import shutil
import types
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from thermonn.functional.entropy import Entropy
from thermonn.functional.entropy.primal import _sigmoid_flat
from thermonn.functional.tel import TELResult, TELTrace, TemperatureUpdate
from thermonn.functional.tel_adjoint import DescentProgram, StepwiseProgram, chunk_rows
from thermonn.functional.temperature import (
    ema,
    gaussian_entropy_terms,
    row_threshold,
    target_temperature,
)

__all__ = ["FusedProgram", "fast_tanh"]

_COMPILE_MIN_ELEMENTS = 1 << 16
_CHUNK_ELEMENTS = 1 << 17  # elements per compiled call at K = 4 (see _rows_per_call)
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


class _Config(NamedTuple):
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


def _phi(cfg: _Config, y: Tensor, ent: list[Tensor]) -> Tensor:
    if cfg.entropy == "logcosh":
        return -fast_tanh(y)
    a, c = ent
    bound = _sigmoid_flat(y.dtype)
    u = (a * y + c).clamp(-bound, bound)
    s = torch.sigmoid(u)
    return -a * u * s * (1.0 - s)


def _phi_terms(cfg: _Config, y: Tensor, ent: list[Tensor]) -> tuple[Tensor, ...]:
    """``(phi, phi')`` and, for ``gate``, ``(dphi/da, dphi/dc)``."""
    if cfg.entropy == "logcosh":
        t = fast_tanh(y)
        return -t, t * t - 1.0
    a, c = ent
    bound = _sigmoid_flat(y.dtype)
    u = (a * y + c).clamp(-bound, bound)
    s = torch.sigmoid(u)
    ds = s * (1.0 - s)  # exactly 0 beyond the clip, so the clip's zero gradient is implied
    dphi_du = -a * (ds + u * ds * (1.0 - 2.0 * s))
    return -a * u * ds, a * dphi_du, y * dphi_du - u * ds, dphi_du


def _entropy_of(cfg: _Config, y: Tensor, ent: list[Tensor]) -> Tensor:
    """Elementwise :math:`s(y)` (trace only)."""
    if cfg.entropy == "logcosh":
        m = y.abs()
        return _LOG2 - m - torch.nn.functional.softplus(-2.0 * m)
    a, c = ent
    u = a * y + c
    sp = torch.nn.functional.softplus
    return torch.sigmoid(u) * sp(-u) + torch.sigmoid(-u) * sp(u)


# ---- the kernels ----------------------------------------------------------------------------


def _forward_kernel(
    z: Tensor, y_out: Tensor, etas: Tensor, ent: list[Tensor], temp: list[Tensor], cfg: _Config
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
    trace_out = torch.stack(trace, dim=1) if trace else z.new_empty(0, dtype=_wide(z))
    needs_peak = not cfg.rescale and (gaussian or bool(est))
    peak = z.abs().amax(-1) if needs_peak else z.new_empty(0)
    y_out.copy_(y)
    return t_out, packed, est_out, trace_out, peak


def _wide(z: Tensor) -> torch.dtype:
    """The trace's accumulation dtype: float64 (float32 on MPS, which has none)."""
    return torch.float32 if z.device.type == "mps" else torch.float64


def _trace_row(
    cfg: _Config, y: Tensor, z: Tensor, t: Tensor, s_hat: Tensor, ent: list[Tensor]
) -> Tensor:
    """Per sample ``(T, S_hat, F, ||grad F||)`` in float64 (``(R, 4)``)."""
    wide = _wide(z)
    y64, z64 = y.to(wide), z.to(wide)
    t64 = t.to(wide).expand(y.shape[0], 1)
    ent64 = [e.to(wide) for e in ent]
    f = 0.5 * (y64 - z64).square().sum(-1, keepdim=True) - t64 * _entropy_of(cfg, y64, ent64).sum(
        -1, keepdim=True
    )
    g = (y64 - z64) - t64 * _phi(cfg, y64, ent64)
    norm = torch.linalg.vector_norm(g, dim=-1, keepdim=True)
    return torch.cat([t64, s_hat.to(wide).expand(y.shape[0], 1), f, norm], -1)


def _backward_kernel(
    z: Tensor,
    grad: Tensor,
    t_rows: Tensor,
    packed: Tensor,
    dz_out: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    cfg: _Config,
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


# ---- running the kernels: eagerly or compiled ------------------------------------------------

_COMPILED: dict[tuple[Any, ...], Callable[..., Any]] = {}
_FAILED: dict[tuple[Any, ...], str] = {}  # configurations whose compile failed: run eagerly


_HAVE_CXX = any(shutil.which(c) for c in ("g++", "c++", "clang++"))  # once: Inductor's CPU backend


def _compiler_available(device: torch.device) -> bool:
    return device.type == "cuda" or (device.type == "cpu" and _HAVE_CXX)


def _compiled_copy(fn: Callable[..., Any], key: tuple[Any, ...]) -> Callable[..., Any]:
    """``torch.compile`` of a fresh copy of ``fn`` for one configuration: its own code object,
    so each configuration has its own compile cache (Dynamo keeps a few entries per code
    object) and a shape change recompiles only its own."""
    if key not in _COMPILED:
        copy = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__)
        dynamic = None if key[0] == "forward" else False  # the backward pads to one shape
        _COMPILED[key] = torch.compile(copy, fullgraph=True, dynamic=dynamic)
    return _COMPILED[key]


def _call(name: str, fn: Callable[..., Any], compiled: bool, *args: Any) -> Any:
    """``fn(*args)``, through ``torch.compile`` when ``compiled``; if compiling one
    configuration fails (no working compiler, say), warn once and run it eagerly from then on --
    the same arithmetic."""
    z, cfg = args[0], args[-1]
    key = (name, cfg, z.dtype, z.device.type, z.shape[-1])
    if compiled and key not in _FAILED:
        try:
            return _compiled_copy(fn, key)(*args)
        except Exception as err:  # the backend's failures have no common type
            _FAILED[key] = f"{type(err).__name__}: {err}"
            warnings.warn(
                f"thermonn: torch.compile of a fused TEL kernel failed ({_FAILED[key][:300]}); "
                f"running it eagerly (same numbers, slower). Pass kernel='eager' to skip "
                f"compiling.",
                RuntimeWarning,
                stacklevel=4,
            )
    return fn(*args)


def _config(
    entropy: str, temperature: str, steps: int, floats: list[float], flags: list[bool]
) -> _Config:
    beta, t_min, t_max, eps = floats
    trace, estimates, rescale = flags
    return _Config(entropy, temperature, steps, beta, t_min, t_max, eps, trace, estimates, rescale)


def _rows_per_call(rows: int, features: int, compiled: bool, copies: int) -> int:
    """Samples per kernel call: compiled, ``copies`` chunk-sized buffers fit a fixed budget of
    about 12 * 2^17 elements (so the chunk's iterates stay in L2 at K = 4 and the scratch does
    not grow with K); eagerly, the scratch budget of :func:`chunk_rows`."""
    if compiled:
        return max(1, min(rows, 12 * _CHUNK_ELEMENTS // (copies * features)))
    return chunk_rows(rows, features, copies)


def _over_chunks(
    name: str,
    fn: Callable[..., Any],
    compiled: bool,
    size: int,
    per_row: list[Tensor],
    outputs: list[Tensor],
    shared: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    """``fn(*chunk(per_row), *chunk(outputs), *shared)`` for each chunk of ``size`` samples; the
    kernel writes its large outputs into the chunks of ``outputs`` and returns small per-sample
    ones.  A compiled kernel sees one shape: the last chunk is padded with zero samples (which
    contribute zero to every sum) and cut back."""
    rows = outputs[0].shape[0]
    results = []
    for lo in range(0, rows, size):
        hi = min(rows, lo + size)
        n = hi - lo
        pieces = [t[lo:hi] if t.shape[0] == rows else t for t in per_row]
        outs = [o[lo:hi] for o in outputs]
        if not (compiled and n < size):
            results.append(_call(name, fn, compiled, *pieces, *outs, *shared))
            continue
        pieces = [
            torch.cat([p, p.new_zeros(size - n, *p.shape[1:])]) if t.shape[0] == rows else p
            for p, t in zip(pieces, per_row, strict=True)
        ]
        scratch = [o.new_empty(size, *o.shape[1:]) for o in outs]
        res = _call(name, fn, compiled, *pieces, *scratch, *shared)
        for o, t in zip(outs, scratch, strict=True):
            o.copy_(t[:n])
        results.append(tuple(r[:n] if isinstance(r, Tensor) and r.dim() else r for r in res))
    return results


@torch.library.custom_op("thermonn::tel_forward", mutates_args=())
def _forward_op(
    z: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    entropy: str,
    temperature: str,
    floats: list[float],
    flags: list[bool],
    compiled: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    cfg = _config(entropy, temperature, etas.shape[0], floats, flags)
    rows, d = z.shape
    y = torch.empty_like(z)
    size = _rows_per_call(rows, d, compiled, 12)  # a few buffers: chunks as at K = 4
    outs = _over_chunks(
        "forward", _forward_kernel, compiled, size, [z], [y], (etas, ent, temp, cfg)
    )
    small = [
        torch.cat([o[i] for o in outs]) if outs[0][i].numel() else outs[0][i] for i in range(5)
    ]
    return (y, *small)  # type: ignore[return-value]


@_forward_op.register_fake
def _(z, etas, ent, temp, entropy, temperature, floats, flags, compiled):
    steps, rows = etas.shape[0], z.shape[0]
    trace, estimates, rescale = flags
    gaussian = temperature == "gaussian"
    n_est = (steps + 1 if trace else steps) if (trace or estimates) else 0
    return (
        torch.empty_like(z),
        z.new_empty((rows, steps) if gaussian else (0,)),
        z.new_empty((rows, 4 * steps) if gaussian else (0,)),
        z.new_empty((rows, n_est) if n_est else (0,)),
        z.new_empty((rows, steps + 1, 4) if trace else (0,), dtype=_wide(z)),
        z.new_empty((rows,) if not rescale and (gaussian or n_est) else (0,)),
    )


@torch.library.custom_op("thermonn::tel_backward", mutates_args=())
def _backward_op(
    z: Tensor,
    grad: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    t_rows: Tensor,
    packed: Tensor,
    entropy: str,
    temperature: str,
    floats: list[float],
    compiled: bool,
) -> list[Tensor]:
    cfg = _config(entropy, temperature, etas.shape[0], floats, [False, False, False])
    rows, d = z.shape
    size = _rows_per_call(rows, d, compiled, 2 * cfg.steps + 4)
    dz = torch.empty_like(z)
    outs = _over_chunks(
        "backward", _backward_kernel, compiled, size, [z, grad, t_rows, packed], [dz],
        (etas, ent, temp, cfg),
    )  # fmt: skip
    deta = sum(o[0].sum(0) for o in outs)
    dent = [sum(o[1][i] for o in outs).sum_to_size(e.shape) for i, e in enumerate(ent)]
    dtemp_rows = torch.cat([o[2] for o in outs])
    if cfg.temperature == "gaussian":
        dtemp = [dtemp_rows[:, 0].sum(), dtemp_rows[:, 1].sum()]
    elif cfg.temperature == "running":
        dtemp = [torch.cat([dtemp_rows.sum(0), temp[0].new_zeros(temp[0].shape[0] - cfg.steps)])]
    else:
        dtemp = [dtemp_rows.sum()]
    return [
        dz,
        deta,
        *dent,
        *[g.reshape(t.shape).to(t.dtype) for g, t in zip(dtemp, temp, strict=True)],
    ]


@_backward_op.register_fake
def _(z, grad, etas, ent, temp, t_rows, packed, entropy, temperature, floats, compiled):
    return [torch.empty_like(z), torch.empty_like(etas)] + [torch.empty_like(t) for t in ent + temp]


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    z, etas, ent, temp, entropy, temperature, floats, _, compiled = inputs
    ctx.save_for_backward(z, etas, output[1], output[2], *ent, *temp)
    ctx.meta = (len(ent), entropy, temperature, floats, compiled)


def _backward(ctx: Any, gy: Tensor, *unused: Tensor) -> tuple[Any, ...]:
    z, etas, t_rows, packed, *tensors = ctx.saved_tensors
    n_ent, entropy, temperature, floats, compiled = ctx.meta
    ent, temp = tensors[:n_ent], tensors[n_ent:]
    grads = _backward_op(
        z, gy.contiguous(), etas, ent, temp, t_rows, packed, entropy, temperature, floats, compiled
    )
    dz, deta, rest = grads[0], grads[1], grads[2:]
    return dz, deta, rest[:n_ent], rest[n_ent:], None, None, None, None, None


torch.library.register_autograd("thermonn::tel_forward", _backward, setup_context=_setup_context)


class FusedProgram(DescentProgram):
    """The closed-form kernels for an entropy and temperature rule that have a
    :meth:`~thermonn.functional.Entropy.fused_form`; see the module docstring."""

    def __init__(self, entropy: Entropy, temperature: TemperatureUpdate, *, kernel: str) -> None:
        super().__init__(entropy, temperature)
        self.kernel = kernel

    @staticmethod
    def supports(entropy: Entropy, temperature: TemperatureUpdate) -> bool:
        memo = temperature.memo()
        return entropy.fused_form() is not None and temperature.fused_form(memo) is not None

    def run(self, z: Tensor, etas: Tensor, diagnostics: bool) -> TELResult:
        entropy, rule = self.entropy, self.temperature
        memo = rule.memo()
        ent_form, temp_form = entropy.fused_form(), rule.fused_form(memo)
        assert ent_form is not None and temp_form is not None  # supports() said so
        compute = torch.float64 if z.dtype == torch.float64 else torch.float32
        d = z.shape[-1]
        zf = z.reshape(-1, d).to(compute)
        ent = [e.to(compute) for e in ent_form[1]]
        temp = [t.to(compute) for t in temp_form[1]]
        running = temp_form[0] == "running"
        estimates = running and getattr(rule, "training", False)
        record = diagnostics and not torch.compiler.is_compiling()
        # On the CPU the Gaussian estimate skips its per-step huge-row check: the iterates stay
        # within max|z| + T_max sup|phi| (every step is a convex combination), so below half
        # its threshold no sample needs it; the kernel reports max|z| and the rare batch with a
        # huge finite sample is redone step-wise.  (A GPU keeps the check: no host sync.)
        rescale = zf.device.type != "cpu" or torch.compiler.is_compiling()
        compiled = self._compiled(z)
        floats = [float(getattr(rule, "beta", 1.0)), rule.t_min, rule.t_max, rule.eps]  # type: ignore[attr-defined]
        y, _, _, est, trace, peak = _forward_op(
            zf, etas.to(compute), ent, temp, ent_form[0], temp_form[0], floats,
            [record, estimates, rescale], compiled,
        )  # fmt: skip
        if peak.numel():
            huge = (peak > 0.5 * row_threshold(compute)) & torch.isfinite(peak)
            if bool(huge.any()):
                return StepwiseProgram(entropy, rule).run(z, etas, diagnostics)
        if estimates or (record and running):
            for k in range(est.shape[1]):
                rule.observe(z, k, est[:, k : k + 1].detach())
        out = y.to(z.dtype).reshape(z.shape)
        return TELResult(out, _trace(trace.detach()) if record else None)

    def _compiled(self, z: Tensor) -> bool:
        """Whether the operator runs its kernels compiled.  Under an outer ``torch.compile`` the
        operator is one opaque node; its kernels still run compiled, when the graph runs."""
        if self.kernel == "eager":
            return False
        if self.kernel == "compiled":
            return True
        return z.numel() >= _COMPILE_MIN_ELEMENTS and _compiler_available(z.device)


def _trace(rows: Tensor) -> TELTrace:
    """Batch means of the per-sample trace ``(R, K+1, 4)`` in float64, as a float32 trace."""
    mean = rows.mean(0)
    change = (rows[:, :, 2] - rows[:, :1, 2]).mean(0)
    t, s, f, g = mean.unbind(-1)
    return TELTrace(t.float(), s.float(), f.float(), g.float(), change.float())
