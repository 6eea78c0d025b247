r"""Entropy families for the Thermodynamic Equilibrium Layer.

An entropy :math:`S(y) = \sum_i s(y_i)` enters the free energy

.. math::

    F_T(y) = \tfrac12 \lVert y - z \rVert^2 - T\,S(y), \qquad
    \nabla F_T(y) = (y - z) - T\,\varphi(y), \quad \varphi = s'.

Its gradient :math:`\varphi` is the layer's activation; the equilibrium map
:math:`z \mapsto y^\star` solves :math:`y - T\varphi(y) = z`.

Each entropy is a *strategy object*: besides :math:`\varphi` and :math:`s` it owns the step rule of
the descent (``init``/``step``/``output`` on a *state*) and the curvature facts from which the layer
derives its step-size bound.  Two kinds exist:

* **primal** entropies (``logcosh``, ``gate``, user-supplied) iterate on :math:`y` itself,
  :math:`y_{k+1} = y_k - \eta_k \nabla F_{T_k}(y_k)`.  With
  :math:`\varphi' \in [-m_-, m_+]` and :math:`T \le T_{\max}`, :math:`F_T` is
  :math:`\mu`-strongly convex and :math:`L`-smooth with :math:`\mu = 1 - T_{\max} m_+`,
  :math:`L = 1 + T_{\max} m_-`.
* **dual** entropies (``bernoulli``, ``spin``, ``shannon``) live on a bounded or half-open domain;
  plain steps in :math:`y` would leave it.  They iterate on :math:`u` with :math:`y = \rho(u)`,
  :math:`\varphi(y) = -\rho^{-1}(y)`:
  :math:`u_{k+1} = u_k - \eta_k (\rho(u_k) + T u_k - z)`, gradient descent on the
  :math:`T`-strongly convex, :math:`(T + L_\rho)`-smooth function
  :math:`G(u) = \int\rho + \tfrac{T}{2}u^2 - zu`, whose minimiser is the same equilibrium.

Numeric range.  With :math:`M` the dtype's largest finite value and :math:`T` within
:func:`~thermonn.functional.temperature_bounds`, every step rule keeps its iterates and all of
their intermediates finite for every finite :math:`z`, and its backward free of ``0 * inf``:
the primal steps need nothing (:math:`y - z` stays of the order of :math:`T`), the dual ones
project onto boxes so wide that they never act in ordinary use (see :class:`DualEntropy` and
:class:`Shannon`).  The projections are identities inside their boxes, so inside them the
arithmetic -- and every output bit -- is that of the plain formulas.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as tf
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.functional.free_energy import free_energy_grad
from thermonn.functional.temperature import temperature_bounds

__all__ = [
    "ENTROPIES",
    "Bernoulli",
    "CustomEntropy",
    "DualEntropy",
    "Entropy",
    "Gate",
    "LogCosh",
    "Shannon",
    "Spin",
    "resolve_entropy",
]

# sup_u -(sigma'(u) + u sigma''(u)); the positive part of the gate's phi' is at most this * a^2.
_GATE_POSITIVE_CURVATURE = 0.0803


# 16-point Gauss–Legendre nodes and weights on [0, 1], for s(y) = y * sum_i w_i phi(x_i y).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_GAUSS_LEGENDRE = ((_GL_NODES + 1.0) / 2.0, _GL_WEIGHTS / 2.0)


def _largest_exp_argument(dtype: torch.dtype) -> float:
    """The largest ``u`` of ``dtype`` with a finite ``exp(u)`` (``log(max)`` itself rounds up in
    float16 and float32)."""
    u = torch.tensor(math.log(torch.finfo(dtype).max), dtype=dtype)
    down = torch.tensor(-math.inf, dtype=dtype)
    while not torch.isfinite(torch.exp(u)):
        u = torch.nextafter(u, down)
    return float(u)


# Shannon reads z <= 15/16 of finfo.max: near the top, the backward's intermediate products
# (about z times a few roundings) would overflow a dtype with an 8-bit mantissa.
_SHANNON_TOP = 15.0 / 16.0

_EXP_ARGUMENT_MAX = {
    dt: _largest_exp_argument(dt)
    for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}


def _exp_argument_max(dtype: torch.dtype) -> float:
    value = _EXP_ARGUMENT_MAX.get(dtype)
    return _largest_exp_argument(dtype) if value is None else value


def _sigmoid_flat(dtype: torch.dtype) -> float:
    r""":math:`2\log(1/\text{smallest subnormal})`: beyond it :math:`e^{-|u|}` is 0 in ``dtype``
    by a wide margin, so :math:`\sigma(u)(1 - \sigma(u))` is exactly 0 in any implementation."""
    return -2.0 * math.log(torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps)


def _binary_entropy_logits(u: Tensor) -> Tensor:
    """h(sigmoid(u)) for h(p) = -p log p - (1-p) log(1-p), stable for every finite u."""
    return torch.sigmoid(u) * tf.softplus(-u) + torch.sigmoid(-u) * tf.softplus(u)


class Entropy(nn.Module, abc.ABC):
    r"""Base class of a primal entropy :math:`S(y) = \sum_i s(y_i)`.

    Subclasses implement :meth:`phi` (:math:`s'`), :meth:`entropy` (elementwise :math:`s`) and
    :meth:`curvature_bounds` (:math:`m_-, m_+` with :math:`\varphi' \in [-m_-, m_+]` for every value
    the entropy's parameters can take).  The descent-state methods below are the step rule of the
    primal iteration and rarely need overriding.
    """

    coordinate: ClassVar[str] = "primal"

    @abc.abstractmethod
    def phi(self, y: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def entropy(self, y: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def curvature_bounds(self) -> tuple[float, float]: ...

    @property
    def concave(self) -> bool:
        """True when :math:`m_+ = 0`, i.e. :math:`s` is concave everywhere."""
        return self.curvature_bounds()[1] == 0.0

    # ---- descent state -------------------------------------------------------------------
    def descent_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """The dtype the descent runs in for inputs of ``dtype``: ``dtype`` itself here."""
        return dtype

    def descent_input(self, z: Tensor) -> Tensor:
        """The projection as the descent sees it, computed once per forward: ``z`` itself for
        primal entropies (dual ones clip it far out, where their output is saturated)."""
        return z

    def init(self, z: Tensor) -> Tensor:
        """Initial descent state: :math:`y_0 = z`."""
        return z

    def output(self, state: Tensor) -> Tensor:
        """The iterate :math:`y` of a descent state."""
        return state

    def step(self, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor:
        r""":math:`y - \eta\,((y - z) - T\varphi(y))`."""
        return state - eta * free_energy_grad(self, state, z, t)

    def phi_of_state(self, state: Tensor) -> Tensor:
        return self.phi(state)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        return self.entropy(state)

    # ---- guarantees ----------------------------------------------------------------------
    def smoothness(self, t_max: float) -> tuple[float, float]:
        r"""Strong-convexity and smoothness constants :math:`(\mu, L)` of :math:`F_T`, T ≤ t_max."""
        m_minus, m_plus = self.curvature_bounds()
        return 1.0 - t_max * m_plus, 1.0 + t_max * m_minus

    def step_bound(self, t_min: float, t_max: float, *, nonexpansive: bool = False) -> float:
        r"""Largest step :math:`\eta_{\max}` for which the layer's guarantees hold.

        :math:`2/(\mu + L)` in general; :math:`\min(1, 2/L)` in non-expansive mode, which needs a
        concave entropy (:math:`\mu = 1`).

        Raises:
            ValueError: if :math:`\mu \le 0` (the free energy is not strongly convex on the box).
        """
        mu, lip = self.smoothness(t_max)
        if mu <= 0.0:
            m_plus = self.curvature_bounds()[1]
            raise ValueError(
                f"entropy {type(self).__name__}: expected t_max * m_plus < 1 so that the free "
                f"energy is strongly convex, got t_max={t_max} and m_plus={m_plus} (mu={mu:.4g})"
            )
        if nonexpansive:
            if not self.concave:
                raise ValueError(
                    f"nonexpansive=True needs a concave entropy (m_plus = 0), got "
                    f"{type(self).__name__} with curvature bounds {self.curvature_bounds()}"
                )
            return min(1.0, 2.0 / lip)
        return 2.0 / (mu + lip)


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

    def curvature_bounds(self) -> tuple[float, float]:
        a2 = self.a_max**2
        return a2 / 4.0, _GATE_POSITIVE_CURVATURE * a2

    def extra_repr(self) -> str:
        return f"a_max={self.a_max}, features={tuple(self.alpha.shape) or 'scalar'}"


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


class DualEntropy(Entropy):
    r"""Base of the domain-constrained entropies, iterated in the dual coordinate :math:`u`.

    :math:`y = \rho(u)`, :math:`\varphi(y) = -\rho^{-1}(y)`; the step is
    :math:`u - \eta\,(\rho(u) + T u - z)`. With :math:`\rho' \le L_\rho` the step map contracts for
    :math:`\eta < 2/(T + L_\rho)`; the bound used is :math:`2/(T_{\min} + T_{\max} + L_\rho)`.

    Numeric range (:math:`M` = finfo.max, :math:`\ell = \min(L_\rho, 1)`, :math:`|\rho| \le 1`,
    :math:`T \le T_{hi}` of :func:`~thermonn.functional.temperature_bounds`).  The equilibrium
    :math:`u^\star \approx z/T` leaves the dtype once :math:`|z| \gtrsim TM`, and :math:`Tu` does
    already before.  So the descent reads :math:`z` clipped to :math:`\pm B` and clips every iterate
    to :math:`\pm B`, :math:`B = \ell M/(16(1 + T_{hi}))` (1.2e27 for ``bernoulli`` in float32).
    Then every intermediate stays below :math:`M/2` in magnitude (the largest,
    :math:`\eta|\rho + Tu - z| \le (2/L_\rho)(1 + \ell M/8)`), so neither the forward nor the
    backward sees an ``inf``.  The clip is a projection onto an interval, hence non-expansive: the
    contraction guarantee of the plain step holds verbatim, and the clipped problem's equilibrium
    is saturated exactly when the original one is (:math:`B/T_{hi} \gg 10^3`).  Both clips act only
    where :math:`\rho` is saturated to its last bit (:math:`\sigma` and :math:`\tanh` saturate by
    :math:`|u| = 89` in float32 and 745 in float64) and never for ordinary inputs
    (:math:`|z|/T_{\min} \le B`); they sit on the producing side of each tensor, so even the
    backward's summation order -- and every gradient bit -- is that of the plain step.  float16
    inputs, whose :math:`B` would be 60, are descended in float32 (:meth:`descent_dtype`) and the
    output is cast back, as fused kernels and autocast treat ``exp``-type ops.
    """

    coordinate: ClassVar[str] = "dual"
    link_lipschitz: ClassVar[float]

    @abc.abstractmethod
    def link(self, u: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def link_inverse(self, y: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def entropy_of_state(self, state: Tensor) -> Tensor: ...

    def phi(self, y: Tensor) -> Tensor:
        return -self.link_inverse(y)

    def entropy(self, y: Tensor) -> Tensor:
        return self.entropy_of_state(self.link_inverse(y))

    @property
    def concave(self) -> bool:
        # Concave in y, but the dual iteration carries no non-expansiveness proof.
        return False

    def curvature_bounds(self) -> tuple[float, float]:
        return math.inf, 0.0

    def _state_bound(self, dtype: torch.dtype) -> float:
        r""":math:`B = \ell M/(16(1 + T_{hi}))`, the clip of :math:`z` and of every iterate."""
        scale = min(self.link_lipschitz, 1.0) * torch.finfo(dtype).max / 16.0
        return scale / (1.0 + temperature_bounds(dtype)[1])

    def descent_dtype(self, dtype: torch.dtype) -> torch.dtype:
        r"""float32 for float16 inputs (the iterate :math:`u \approx z/T` needs the range)."""
        return torch.float32 if dtype == torch.float16 else dtype

    def descent_input(self, z: Tensor) -> Tensor:
        r""":math:`z` clipped to :math:`\pm B`, where :math:`\rho(u^\star)` is saturated; a
        non-finite entry becomes NaN (as in :class:`torch.nn.Linear`, it must not come out finite)."""
        bound = self._state_bound(z.dtype)
        return torch.where(z.isfinite(), z.clamp(-bound, bound), math.nan)

    def init(self, z: Tensor) -> Tensor:
        return z

    def output(self, state: Tensor) -> Tensor:
        return self.link(state)

    def step(self, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor:
        r""":math:`u - \eta\,(\rho(u) + T u - z)`, clipped to :math:`\pm B`."""
        bound = self._state_bound(state.dtype)
        return (state - eta * (self.link(state) + t * state - z)).clamp(-bound, bound)

    def phi_of_state(self, state: Tensor) -> Tensor:
        return -state

    def smoothness(self, t_max: float) -> tuple[float, float]:
        # F_T in y: 1-strongly convex (s is concave) but not smooth (phi' is unbounded at the
        # domain's edge) -- which is why these entropies iterate in u instead.
        return 1.0, math.inf

    def step_bound(self, t_min: float, t_max: float, *, nonexpansive: bool = False) -> float:
        if nonexpansive:
            raise ValueError(
                f"nonexpansive=True needs a concave primal entropy such as 'logcosh', got the "
                f"dual-coordinate entropy {type(self).__name__}"
            )
        return 2.0 / (t_min + t_max + self.link_lipschitz)


class Bernoulli(DualEntropy):
    r"""``bernoulli`` entropy on :math:`y \in (0, 1)`: :math:`s = h(y)`, :math:`\varphi = -\mathrm{logit}\,y`.

    Equilibrium :math:`y + T\,\mathrm{logit}\,y = z`: hard-sigmoid ``clip(z, 0, 1)`` as
    :math:`T \to 0`.  Dual link :math:`\rho = \sigma`, :math:`L_\rho = 1/4`.
    """

    link_lipschitz: ClassVar[float] = 0.25

    def link(self, u: Tensor) -> Tensor:
        return torch.sigmoid(u)

    def link_inverse(self, y: Tensor) -> Tensor:
        return torch.logit(y)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        return _binary_entropy_logits(state)


class Spin(DualEntropy):
    r"""``spin`` entropy on :math:`y \in (-1, 1)`: :math:`s = h((1+y)/2)`, :math:`\varphi = -\operatorname{atanh} y`.

    Equilibrium :math:`y + T\operatorname{atanh} y = z`: ``hardtanh`` as :math:`T \to 0`,
    :math:`\approx \tanh(z/T)` for large :math:`T`.  Dual link :math:`\rho = \tanh`, :math:`L_\rho = 1`.
    """

    link_lipschitz: ClassVar[float] = 1.0

    def link(self, u: Tensor) -> Tensor:
        return torch.tanh(u)

    def link_inverse(self, y: Tensor) -> Tensor:
        return torch.atanh(y)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        return _binary_entropy_logits(2.0 * state)


class Shannon(DualEntropy):
    r"""``shannon`` entropy on :math:`y > 0`: :math:`s = -y\log y + y`, :math:`\varphi = -\log y`.

    Equilibrium :math:`y + T\log y = z`, i.e. :math:`y^\star = T\,W(e^{z/T}/T)` (Lambert W): a smooth
    ReLU, exactly ReLU as :math:`T \to 0`.

    The link :math:`\rho = \exp` has no global Lipschitz constant, so a plain dual gradient step
    has no safe size.  Instead the step is a damped Newton step on the convex increasing
    :math:`g(u) = e^u + T u - z`,

    .. math::  u_{k+1} = u_k - \eta_k\, g(u_k) / (e^{u_k} + T), \qquad 0 < \eta_k \le 1,

    started to the right of the root at :math:`u_0 = \log(1 + \mathrm{softplus}(z))`
    (:math:`y^\star \le \max(z, 1)`).  By convexity the iterates then decrease monotonically to
    :math:`u^\star` and never leave :math:`[u^\star, u_0]`.

    Numeric range (:math:`M` = finfo.max, :math:`T \in [8/M, T_{hi}]`).  :math:`u^\star \approx z/T`
    is not representable once :math:`z \lesssim -TM`, and the step's derivative in :math:`T`
    (through :math:`1/(e^u + T)`, about :math:`z/T^2` where :math:`e^u` underflows) overflows long
    before.  So the descent reads :math:`z \le \tfrac{15}{16}M` (above, the backward's products
    would overflow an 8-bit mantissa), each step reads :math:`z` clipped below at :math:`-TB` and
    clips its result to :math:`[-B, \bar u]`, :math:`B = M/(16\,T_{hi})` (5e27 in float32),
    :math:`\bar u` the largest value with a finite :math:`e^{\bar u}` (also the cap of
    :math:`u_0`).  Then :math:`|Tu| \le M/16`, :math:`|g(u)| \le 2 + M/8` and the step is at most
    :math:`2/T + 2B \le 3M/8`.  Where the derivative :math:`\eta g/(e^u + T)^2` of the step in its
    denominator exceeds :math:`M/4` (only where :math:`e^u \ll T`: :math:`y` is 0 or nearly so),
    that one term is dropped rather than becoming ``0 * inf = NaN``.  The clips act only where
    :math:`y` is 0 or within rounding of :math:`M` (in float32 never for :math:`|z| \le 10^4`,
    :math:`T \ge 10^{-24}`), and sit on the producing side of each tensor: elsewhere forward and
    backward are those of the plain step, bit for bit.  float16 inputs are descended in float32.
    """

    link_lipschitz: ClassVar[float] = math.inf

    def link(self, u: Tensor) -> Tensor:
        return torch.exp(u)

    def link_inverse(self, y: Tensor) -> Tensor:
        return torch.log(y)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        return torch.exp(state) * (1.0 - state)

    def descent_input(self, z: Tensor) -> Tensor:
        r""":math:`z` clipped above at :math:`\tfrac{15}{16}M` (below it is clipped per step); a
        non-finite entry becomes NaN."""
        top = torch.finfo(z.dtype).max * _SHANNON_TOP
        return torch.where(z.isfinite(), z.clamp(max=top), math.nan)

    def init(self, z: Tensor) -> Tensor:
        return torch.log1p(tf.softplus(z)).clamp(max=_exp_argument_max(z.dtype))

    def step(self, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor:
        big = torch.finfo(state.dtype).max
        bound = big / (16.0 * temperature_bounds(state.dtype)[1])
        z = z.clamp(min=-t.detach() * bound)
        e = torch.exp(state)
        q = eta * (e + t * state - z)  # the plain step's order of operations, kept on purpose
        den = e + t
        # d(q/den)/d(den) = -(q/den)/den: keep it only where it is representable.
        den = torch.where(q.abs() <= den * den * (big / 4.0), den, den.detach())
        return (state - q / den).clamp(-bound, _exp_argument_max(state.dtype))

    def step_bound(self, t_min: float, t_max: float, *, nonexpansive: bool = False) -> float:
        super().step_bound(t_min, t_max, nonexpansive=nonexpansive)  # raises in nonexpansive mode
        return 1.0


_Factory = Callable[..., Entropy]

ENTROPIES: dict[str, _Factory] = {
    "logcosh": lambda features, device, dtype: LogCosh(),
    "gate": lambda features, device, dtype: Gate(features, device=device, dtype=dtype),
    "bernoulli": lambda features, device, dtype: Bernoulli(),
    "spin": lambda features, device, dtype: Spin(),
    "shannon": lambda features, device, dtype: Shannon(),
}
"""Registered entropy names. Each factory takes ``(features, device, dtype)``."""


def resolve_entropy(
    entropy: str | Entropy,
    *,
    features: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Entropy:
    """Turn an entropy name or object into an :class:`Entropy` (done once, at construction).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        TypeError: for anything that is neither a name nor an :class:`Entropy`.
    """
    if isinstance(entropy, Entropy):
        return entropy
    if isinstance(entropy, str):
        try:
            factory = ENTROPIES[entropy]
        except KeyError:
            raise ValueError(
                f"entropy: expected one of {sorted(ENTROPIES)} or an Entropy object, "
                f"got {entropy!r}"
            ) from None
        return factory(features, device, dtype)
    raise TypeError(f"entropy: expected a str or a thermonn Entropy, got {type(entropy).__name__}")
