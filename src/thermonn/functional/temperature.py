r"""Entropy estimates, the temperature target map of TEL's adaptive temperature, and the
temperature range each dtype supports.

The temperature follows the entropy of the iterate on a slow time scale:

.. math::

    \hat S(y) = \tfrac12 \log\bigl(2\pi e\,(\operatorname{Var}(y) + \varepsilon)\bigr), \qquad
    \tau(\hat S) = T_{\min} + (T_{\max} - T_{\min})\,\sigma\bigl(w_T(\hat S - s_0)\bigr),

    T_{k+1} = (1 - \beta)\,T_k + \beta\,\tau(\hat S_{k+1}).

Statistics are taken per sample over the feature (last) dimension, in at least float32.

Numeric range.  A row whose largest magnitude :math:`a = \max_i |y_i|` exceeds
:math:`A = 2^{-16}\sqrt{\text{finfo.max}}` (about 2.8e14 in float32, 2e149 in float64) is first
scaled by :math:`c = A/a` (no gradient flows through :math:`c`), so that
no sum, square or variance of the statistics can overflow — for any finite input and up to
:math:`2^{30}` features.  Rows below :math:`A` are untouched (multiplied by exactly 1), so
their statistics are bit-for-bit those of the plain formulas.  The Gaussian estimate undoes the
scaling exactly, :math:`\log\operatorname{Var}(y) = \log\operatorname{Var}(cy) - 2\log c`
(:math:`\varepsilon` is below rounding there, as :math:`\operatorname{Var}(y)` is either 0 or
:math:`\gtrsim (a\,\epsilon_{\text{mach}})^2/d`); the moment features of such a row are those of
the scaled row, i.e. of the same row shrunk to :math:`\max_i|y_i| = A`, where the MLP's ``tanh``
units are saturated anyway.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = [
    "ENTROPY_CAP",
    "check_rate",
    "check_temperature_box",
    "check_temperature_range",
    "ema",
    "gaussian_entropy",
    "gaussian_entropy_terms",
    "moment_features",
    "target_temperature",
    "temperature_bounds",
]

ENTROPY_CAP = 50.0
"""Upper clamp of entropy estimates, reached at :math:`\\operatorname{Var}(y) \\approx 1.6\\text{e}42`
(:math:`|y| \\gtrsim 10^{21}`): keeps :math:`T` and its gradient bounded for any finite input."""

_HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)


def _at_least_float32(y: Tensor) -> Tensor:
    """``y`` in the statistics dtype: unchanged in float32/float64, else cast to float32."""
    return y if y.dtype in (torch.float32, torch.float64) else y.float()


def row_threshold(dtype: torch.dtype) -> float:
    """:math:`A = 2^{-16}\\sqrt{\\text{finfo.max}}`: rows with all :math:`|y_i| \\le A` cannot
    overflow a sum of up to :math:`2^{30}` squared deviations (:math:`2^{30} \\cdot 4A^2 \\le`
    finfo.max)."""
    return math.sqrt(torch.finfo(dtype).max) * 2.0**-16


def _rescale_rows(y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(c * y, c, big)``: rows with :math:`\\max|y| > A` scaled to :math:`\\max|c y| = A`.

    ``c`` is 1 (exactly) on the other rows and carries no gradient.  A NaN row keeps
    ``c = 1`` (NaN fails the comparison) and an infinite row gets ``c = 0``, so non-finite rows
    give non-finite statistics -- confined to their own row.
    """
    thr = row_threshold(y.dtype)
    with torch.no_grad():
        amax = y.abs().amax(dim=-1, keepdim=True)
        big = amax > thr
        scale = torch.where(big, thr / amax, torch.ones_like(amax))
    return y * scale, scale, big


def gaussian_entropy(y: Tensor, eps: float = 1e-5) -> Tensor:
    r"""Gaussian entropy estimate per sample, :math:`\tfrac12\log(2\pi e(\operatorname{Var}(y)+\varepsilon))`.

    Shape: ``(..., d) -> (..., 1)``; computed in float32 for half-precision inputs and clamped at
    :data:`ENTROPY_CAP`.  Its Lipschitz constant in :math:`y` is at most
    :math:`1/(2\sqrt{d\varepsilon})`.  Finite, with a finite gradient, for every finite input
    (huge rows are rescaled exactly, see the module docstring).
    """
    return _GaussianStats.of(y, eps, rescale=True).s_hat.clamp(max=ENTROPY_CAP)


def gaussian_entropy_terms(
    y: Tensor, eps: float = 1e-5, *, rescale: bool = True
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r""":func:`gaussian_entropy` with what its derivative needs: ``(S_hat, g, m, c)``, each
    ``(..., 1)``, such that :math:`\partial\hat S/\partial y_i = g\,(c\,y_i - m)` -- the derivative
    autograd takes of :func:`gaussian_entropy` (:math:`c` the row scale, :math:`m` the mean of the
    scaled row, :math:`g = 1/(d(\operatorname{Var} + \varepsilon))` on ordinary rows, 0 where the
    estimate is capped).  ``rescale=False`` skips the huge-row check (one reduction less): exact
    only where every :math:`|y_i| \le A` (see the module docstring)."""
    st = _GaussianStats.of(y, eps, rescale=rescale)
    d = y.shape[-1]
    v, capped = st.var.detach(), st.s_hat.detach() > ENTROPY_CAP
    gain = 1.0 / (d * (v + eps))
    if st.big is not None and st.scale is not None:
        tiny = torch.finfo(v.dtype).tiny
        big_gain = torch.where(v >= tiny, 1.0 / (d * v.clamp(min=tiny)), 0.0)
        gain = torch.where(st.big, big_gain, gain)
        scale = st.scale
    else:
        scale = torch.ones_like(gain)
    gain = torch.where(capped, 0.0, gain) * scale
    return st.s_hat.clamp(max=ENTROPY_CAP), gain, st.mean.detach(), scale


class _GaussianStats(NamedTuple):
    """The unclamped Gaussian estimate of each row and the statistics it came from."""

    s_hat: Tensor
    var: Tensor
    mean: Tensor
    scale: Tensor | None  # the row scale c (None: no huge-row check)
    big: Tensor | None

    @staticmethod
    def of(y: Tensor, eps: float, *, rescale: bool) -> _GaussianStats:
        scale: Tensor | None = None
        big: Tensor | None = None
        if rescale:
            ys, scale, big = _rescale_rows(_at_least_float32(y))
        else:
            ys = _at_least_float32(y)
        if ys.numel() == 0:  # an empty batch: nothing to estimate (and no torch warning about it)
            zero = ys.new_zeros(*ys.shape[:-1], 1)
            return _GaussianStats(zero, zero, zero, scale, big)
        var, mean = torch.var_mean(ys, dim=-1, unbiased=False, keepdim=True)
        plain = _HALF_LOG_2PI_E + 0.5 * torch.log(var + eps)
        if big is None or scale is None:
            return _GaussianStats(plain, var, mean, None, None)
        # log Var(y) = log Var(c y) - 2 log c; Var(y) is 0 or far above eps on these rows.
        tiny = torch.finfo(var.dtype).tiny
        log_var = torch.where(
            var > 0.0,
            torch.log(var.clamp(min=tiny)) - 2.0 * torch.log(scale),
            math.log(eps) if eps > 0.0 else -math.inf,
        )
        s_hat = torch.where(big, _HALF_LOG_2PI_E + 0.5 * log_var, plain)
        return _GaussianStats(s_hat, var, mean, scale, big)


def moment_features(y: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Per-sample ``(mean, var, mean |y|)`` over the last dimension: ``(..., d) -> (..., 3)``.

    Computed in at least float32 on rows rescaled as in the module docstring, so every feature
    of a finite row is finite (at most :math:`A^2 \\approx 7.9\\text{e}28` in float32).  With
    ``dtype``, the features are cast to that dtype saturating at its largest finite value (a
    float16 MLP would otherwise read ``inf`` for a variance above 65504, and ``0 * inf`` in its
    weight gradient); without it, they stay in the statistics dtype.
    """
    y = _at_least_float32(y)
    if y.numel() == 0:
        return y.new_zeros(*y.shape[:-1], 3, dtype=dtype or y.dtype)
    ys, scale, _ = _rescale_rows(y)
    var, mean = torch.var_mean(ys, dim=-1, unbiased=False, keepdim=True)
    # |c y| = c |y| exactly; scaling each use separately keeps autograd's summation order
    feats = torch.cat([mean, var, (y.abs() * scale).mean(dim=-1, keepdim=True)], dim=-1)
    if dtype is None:
        return feats
    cap = torch.finfo(dtype).max
    if cap < torch.finfo(feats.dtype).max:
        feats = feats.clamp(-cap, cap)  # a saturating cast: inf would poison the MLP's gradient
    return feats.to(dtype)


def target_temperature(
    s_hat: Tensor, slope: Tensor, offset: Tensor, t_min: float, t_max: float
) -> Tensor:
    r""":math:`\tau(\hat S) = T_{\min} + (T_{\max} - T_{\min})\,\sigma(w_T(\hat S - s_0))`; always in the box."""
    return t_min + (t_max - t_min) * torch.sigmoid(slope * (s_hat - offset))


def ema(t: Tensor, target: Tensor, beta: float) -> Tensor:
    r""":math:`(1-\beta)\,T + \beta\,\tau` — a convex combination, so it stays in the box."""
    return t + beta * (target - t)


def temperature_bounds(dtype: torch.dtype) -> tuple[float, float]:
    r"""The temperatures ``(lo, hi)`` a TEL computing in ``dtype`` supports.

    .. math::

        \text{lo} = 8/M, \qquad \text{hi} = \min\bigl(2^{e/4},\ \operatorname{ulp}(M)/2\bigr),
        \qquad M = \text{finfo(dtype).max} < 2^e.

    ``lo`` keeps the ``shannon`` Newton step :math:`g(u)/(e^u + T)` below :math:`M/4` (its
    numerator is bounded by the step's own clamps, its denominator by :math:`T`); it is a normal
    number in every float dtype (float16: 1.2e-4, float32: 2.4e-38).  ``hi`` keeps
    :math:`T + e^u` and :math:`T\varphi` from pushing an iterate near :math:`\pm M` past it, leaves
    the dual clips :math:`B \propto M/T_{hi}` far beyond any ordinary iterate, and keeps the
    gradients of the temperature's parameters (proportional to :math:`T_{\max}`) far from overflow
    (float16: 16, float32/bfloat16: :math:`2^{32} \approx 4.3\text{e}9`, float64: :math:`2^{256}`).

    Raises:
        TypeError: for a non-floating-point dtype.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    fi = torch.finfo(dtype)
    top_ulp = 2.0 ** (math.frexp(fi.max)[1] - 1) * fi.eps  # spacing of the largest binade
    quarter_range = 2.0 ** (math.frexp(fi.max)[1] / 4)  # M^(1/4), rounded up to a power of 2
    return 8.0 / fi.max, min(quarter_range, top_ulp / 2.0)


def check_temperature_box(t_min: float, t_max: float, dtype: torch.dtype) -> None:
    """Raise unless ``[t_min, t_max]`` lies within :func:`temperature_bounds` of ``dtype``.

    Call it once at construction with the dtype the layer computes in (its parameters' dtype).

    Raises:
        ValueError: naming ``t_min`` or ``t_max``: "expected ... for dtype ..., got ...".
        TypeError: for a non-float temperature or a non-floating-point dtype.
    """
    lo, hi = temperature_bounds(dtype)
    t_min = check_float("t_min", t_min)
    t_max = check_float("t_max", t_max)
    name = str(dtype).removeprefix("torch.")
    if not t_min >= lo:
        raise ValueError(
            f"t_min: expected a temperature >= {lo:.3g} (the smallest {name} supports), "
            f"got {t_min!r}"
        )
    if not t_max <= hi:
        raise ValueError(
            f"t_max: expected a temperature <= {hi:.3g} (the largest {name} supports), "
            f"got {t_max!r}"
        )


def check_temperature_range(t_min: object, t_max: object) -> tuple[float, float]:
    """``(t_min, t_max)`` as floats with 0 < t_min ≤ t_max.

    Raises:
        ValueError / TypeError: naming the temperature at fault.
    """
    lo, hi = check_float("t_min", t_min), check_float("t_max", t_max)
    if lo <= 0.0:
        raise ValueError(f"t_min: expected a temperature > 0, got {lo}")
    if lo > hi:
        raise ValueError(f"t_max: expected t_max >= t_min = {lo}, got {hi}")
    return lo, hi


def check_rate(name: str, value: object) -> float:
    """An EMA rate in (0, 1]."""
    rate = check_float(name, value)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"{name}: expected a rate in (0, 1], got {rate}")
    return rate
