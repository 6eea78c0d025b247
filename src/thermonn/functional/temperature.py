r"""Entropy estimates and the temperature target map of TEL's adaptive temperature.

The temperature follows the entropy of the iterate on a slow time scale:

.. math::

    \hat S(y) = \tfrac12 \log\bigl(2\pi e\,(\operatorname{Var}(y) + \varepsilon)\bigr), \qquad
    \tau(\hat S) = T_{\min} + (T_{\max} - T_{\min})\,\sigma\bigl(w_T(\hat S - s_0)\bigr),

    T_{k+1} = (1 - \beta)\,T_k + \beta\,\tau(\hat S_{k+1}).

Statistics are taken per sample over the feature (last) dimension, in at least float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["ENTROPY_CAP", "ema", "gaussian_entropy", "moment_features", "target_temperature"]

ENTROPY_CAP = 50.0
"""Upper clamp of entropy estimates: keeps T finite when Var(y) overflows (inputs beyond ~1e19)."""

_HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)


def _stat_dtype(y: Tensor) -> Tensor:
    return y if y.dtype in (torch.float32, torch.float64) else y.float()


def gaussian_entropy(y: Tensor, eps: float = 1e-5) -> Tensor:
    r"""Gaussian entropy estimate per sample, :math:`\tfrac12\log(2\pi e(\operatorname{Var}(y)+\varepsilon))`.

    Shape: ``(..., d) -> (..., 1)``; computed in float32 for half-precision inputs.  Its
    Lipschitz constant in :math:`y` is at most :math:`1/(2\sqrt{d\varepsilon})`.
    """
    var = _stat_dtype(y).var(dim=-1, unbiased=False, keepdim=True)
    return (_HALF_LOG_2PI_E + 0.5 * torch.log(var + eps)).clamp(max=ENTROPY_CAP)


def moment_features(y: Tensor) -> Tensor:
    """Per-sample ``(mean, var, mean |y|)`` over the last dimension: ``(..., d) -> (..., 3)``."""
    y = _stat_dtype(y)
    var, mean = torch.var_mean(y, dim=-1, unbiased=False, keepdim=True)
    return torch.cat([mean, var, y.abs().mean(dim=-1, keepdim=True)], dim=-1)


def target_temperature(
    s_hat: Tensor, slope: Tensor, offset: Tensor, t_min: float, t_max: float
) -> Tensor:
    r""":math:`\tau(\hat S) = T_{\min} + (T_{\max} - T_{\min})\,\sigma(w_T(\hat S - s_0))`; always in the box."""
    return t_min + (t_max - t_min) * torch.sigmoid(slope * (s_hat - offset))


def ema(t: Tensor, target: Tensor, beta: float) -> Tensor:
    r""":math:`(1-\beta)\,T + \beta\,\tau` — a convex combination, so it stays in the box."""
    return t + beta * (target - t)
