r"""Primal entropy families, iterated in :math:`y` itself: ``logcosh`` and the learnable
``gate``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as tf
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.functional.entropy.base import Entropy, _binary_entropy_logits

__all__ = ["Gate", "LogCosh"]

# sup_u -(sigma'(u) + u sigma''(u)); the positive part of the gate's phi' is at most this * a^2.
_GATE_POSITIVE_CURVATURE = 0.0803


def _sigmoid_flat(dtype: torch.dtype) -> float:
    r""":math:`2\log(1/\text{smallest subnormal})`: beyond it :math:`e^{-|u|}` is 0 in ``dtype``
    by a wide margin, so :math:`\sigma(u)(1 - \sigma(u))` is exactly 0 in any implementation."""
    return -2.0 * math.log(torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps)


class LogCosh(Entropy):
    r"""Concave ``logcosh`` entropy: :math:`s(y) = -\log\cosh y`, :math:`\varphi = -\tanh y`.

    Equilibrium :math:`y + T\tanh y = z`; identity as :math:`T \to 0`. :math:`\varphi' \in [-1, 0]`.
    """

    def phi(self, y: Tensor) -> Tensor:
        return -torch.tanh(y)

    def entropy(self, y: Tensor) -> Tensor:
        a = y.abs()
        return math.log(2.0) - a - tf.softplus(-2.0 * a)

    def curvature_bounds(self) -> tuple[float, float]:
        return 1.0, 0.0

    def fused_form(self) -> tuple[str, list[Tensor]] | None:
        # a subclass may redefine phi: only LogCosh itself is known in closed form
        return ("logcosh", []) if type(self) is LogCosh else None


class Gate(Entropy):
    r"""Learnable ``gate`` entropy: :math:`s(y) = h(\sigma(a y + c))`, :math:`h` the binary entropy.

    .. math::  \varphi(y) = -a\,u\,\sigma'(u), \quad u = a y + c,
               \qquad \varphi' \in [-a^2/4,\; 0.0803\,a^2].

    :math:`u` is clipped where :math:`\sigma'(u)` is exactly 0 in the dtype (no value changes; the
    backward then stays finite for :math:`y` up to the dtype's largest value).

    The slope is kept in :math:`(0, a_{\max})` by :math:`a = a_{\max}\sigma(\alpha)`, so the curvature
    bounds (and with them the layer's step-size bound) hold for every learned value.

    Args:
        features: number of features for per-feature ``a, c``; ``None`` for scalars.
        a_max: upper bound of the slope ``a``.
        a_init: initial slope, in ``(0, a_max)``.
    """

    def __init__(
        self,
        features: int | None = None,
        *,
        a_max: float = 2.0,
        a_init: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        a_max = check_float("a_max", a_max, above=0.0)
        if not 0.0 < a_init < a_max:
            raise ValueError(f"a_init: expected a value in (0, a_max={a_max}), got {a_init!r}")
        self.a_max = float(a_max)
        self.a_init = float(a_init)
        shape = () if features is None else (check_int("features", features, 1),)
        self.alpha = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        self.c = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        p = self.a_init / self.a_max
        nn.init.constant_(self.alpha, math.log(p / (1.0 - p)))
        nn.init.zeros_(self.c)

    @property
    def a(self) -> Tensor:
        return self.a_max * torch.sigmoid(self.alpha)

    def phi(self, y: Tensor) -> Tensor:
        a = self.a
        # Beyond |u| = 2 log(1/smallest subnormal), s (1 - s) is exactly 0 in the dtype, so the
        # clip changes no value; it keeps the backward's product a u * grad finite near y = +-max.
        bound = _sigmoid_flat(y.dtype)
        u = (a * y + self.c).clamp(-bound, bound)
        s = torch.sigmoid(u)
        return -a * u * s * (1.0 - s)

    def entropy(self, y: Tensor) -> Tensor:
        return _binary_entropy_logits(self.a * y + self.c)

    def fused_form(self) -> tuple[str, list[Tensor]] | None:
        return ("gate", [self.a, self.c]) if type(self) is Gate else None

    def curvature_bounds(self) -> tuple[float, float]:
        a2 = self.a_max**2
        return a2 / 4.0, _GATE_POSITIVE_CURVATURE * a2

    def extra_repr(self) -> str:
        return f"a_max={self.a_max}, features={tuple(self.alpha.shape) or 'scalar'}"
