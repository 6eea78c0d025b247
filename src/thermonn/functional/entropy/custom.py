r"""User-supplied primal entropies: :class:`CustomEntropy`, checked once at construction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.functional.entropy.base import Entropy

__all__ = ["CustomEntropy"]

# 16-point Gauss–Legendre nodes and weights on [0, 1], for s(y) = y * sum_i w_i phi(x_i y).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_GAUSS_LEGENDRE = ((_GL_NODES + 1.0) / 2.0, _GL_WEIGHTS / 2.0)


def _checked_call(name: str, fn: Callable[[Tensor], Tensor], y: Tensor) -> Tensor:
    """``fn(y)`` for the construction-time grid check: a tensor of ``y``'s shape with a graph."""
    out = fn(y)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: expected a function returning a tensor, got {type(out).__name__}")
    if out.shape != y.shape:
        raise ValueError(
            f"{name}: expected an elementwise function (output shape {tuple(y.shape)} for an "
            f"input of that shape), got output shape {tuple(out.shape)}"
        )
    if not out.requires_grad:
        raise ValueError(
            f"{name}: expected a function of y differentiable by torch.autograd, got an output "
            f"without a gradient graph (detached, or not computed from y; write a constant as "
            f"0 * y)"
        )
    return out


def _check_finite(name: str, y: Tensor, value: Tensor, derivative: Tensor, r: float) -> None:
    """``value`` and ``derivative`` finite on the grid: NaN would pass every bound comparison."""
    bad = ~(torch.isfinite(value) & torch.isfinite(derivative))
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{name}: expected finite values and a finite derivative on the check grid "
            f"[-{r}, {r}], got {name}({y[i].item():.6g}) = {value[i].item():.6g} with "
            f"derivative {derivative[i].item():.6g}"
        )


class CustomEntropy(Entropy):
    r"""A user-supplied primal entropy: the extension point.

    Args:
        phi: the activation :math:`\varphi = s'`, a differentiable elementwise tensor function.
        entropy: the elementwise entropy :math:`s`, used only by the free-energy diagnostics.  If
            omitted, :math:`s(y) = \int_0^y \varphi` by 16-point Gauss–Legendre quadrature.
        m_minus, m_plus: curvature bounds, :math:`\varphi' \in [-m_-, m_+]` everywhere.
        check_range: :math:`\varphi'` (and :math:`s' = \varphi` when ``entropy`` is given) are
            checked on a grid over ``[-check_range, check_range]`` at construction; ``0`` skips it.

    Raises:
        ValueError: if a bound or ``check_range`` is negative or non-finite, or the grid check
            finds :math:`\varphi` (or :math:`s`) not elementwise, not differentiable by autograd,
            not finite or with a non-finite derivative, :math:`\varphi'` outside the bounds or
            :math:`s' \ne \varphi`.
        TypeError: if ``phi`` or ``entropy`` is not callable or does not return a tensor.

    Example:
        >>> softsign = CustomEntropy(lambda y: -y / (1 + y.abs()), m_minus=1.0, m_plus=0.0)
        >>> layer = TEL(16, 32, entropy=softsign, nonexpansive=True)
    """

    def __init__(
        self,
        phi: Callable[[Tensor], Tensor],
        entropy: Callable[[Tensor], Tensor] | None = None,
        *,
        m_minus: float,
        m_plus: float,
        check_range: float = 8.0,
    ) -> None:
        super().__init__()
        if not callable(phi) or not (entropy is None or callable(entropy)):
            raise TypeError(
                f"phi and entropy: expected callables, got {type(phi).__name__} and "
                f"{type(entropy).__name__}"
            )
        self._phi, self._entropy = phi, entropy
        self.m_minus = check_float("m_minus", m_minus, at_least=0.0)
        self.m_plus = check_float("m_plus", m_plus, at_least=0.0)
        check_range = check_float("check_range", check_range, at_least=0.0)
        if check_range > 0:
            self._check(check_range)

    def _check(self, r: float) -> None:
        y = torch.linspace(-r, r, 4001, dtype=torch.float64, requires_grad=True)
        phi = _checked_call("phi", self._phi, y)
        (dphi,) = torch.autograd.grad(phi.sum(), y, retain_graph=True)
        _check_finite("phi", y, phi, dphi, r)
        tol = 1e-6 * (1.0 + self.m_minus + self.m_plus)
        lo, hi = dphi.min().item(), dphi.max().item()
        if lo < -self.m_minus - tol or hi > self.m_plus + tol:
            raise ValueError(
                f"CustomEntropy: expected phi' in [-m_minus, m_plus] = [{-self.m_minus}, "
                f"{self.m_plus}], got phi' spanning [{lo:.6g}, {hi:.6g}] on [-{r}, {r}]"
            )
        if self._entropy is None:
            return
        s = _checked_call("entropy", self._entropy, y)
        (ds,) = torch.autograd.grad(s.sum(), y)
        _check_finite("entropy", y, s, ds, r)
        err = (ds - phi.detach()).abs().max().item()
        if err > 1e-5 * (1.0 + phi.detach().abs().max().item()):
            raise ValueError(
                f"CustomEntropy: expected phi to be the derivative of entropy, got "
                f"max |entropy' - phi| = {err:.3g} on [-{r}, {r}]"
            )

    def phi(self, y: Tensor) -> Tensor:
        return self._phi(y)

    def entropy(self, y: Tensor) -> Tensor:
        if self._entropy is not None:
            return self._entropy(y)
        nodes, weights = (
            torch.as_tensor(a, dtype=y.dtype, device=y.device) for a in _GAUSS_LEGENDRE
        )
        return y * (self._phi(y.unsqueeze(-1) * nodes) * weights).sum(-1)

    def curvature_bounds(self) -> tuple[float, float]:
        return self.m_minus, self.m_plus

    def extra_repr(self) -> str:
        return f"m_minus={self.m_minus}, m_plus={self.m_plus}"
