r"""TEL's descent step rules: how K-step free-energy descent moves an entropy's state.

.. math::

    F_T(y) = \tfrac12 \lVert y - z \rVert^2 - T\,S(y), \qquad
    \nabla F_T(y) = (y - z) - T\,\varphi(y).

A rule is a stateless strategy object; an entropy names its rule in
:attr:`~thermonn.functional.entropy.Entropy.descent`, and the entropy's descent hooks forward to
it.  The entropies themselves (:math:`\varphi`, :math:`s`, curvature bounds) know nothing of these
steps.  Each rule also gives the step-size bound :math:`\eta_{\max}` under which the layer's
guarantees hold.

* :class:`PrimalDescent` iterates on :math:`y` itself,
  :math:`y_{k+1} = y_k - \eta_k \nabla F_{T_k}(y_k)`.  With
  :math:`\varphi' \in [-m_-, m_+]` and :math:`T \le T_{\max}`, :math:`F_T` is
  :math:`\mu`-strongly convex and :math:`L`-smooth with :math:`\mu = 1 - T_{\max} m_+`,
  :math:`L = 1 + T_{\max} m_-`.
* :class:`DualDescent` serves entropies on a bounded or half-open domain, where plain steps in
  :math:`y` would leave it.  It iterates on :math:`u` with :math:`y = \rho(u)`,
  :math:`\varphi(y) = -\rho^{-1}(y)`:
  :math:`u_{k+1} = u_k - \eta_k (\rho(u_k) + T u_k - z)`, gradient descent on the
  :math:`T`-strongly convex, :math:`(T + L_\rho)`-smooth function
  :math:`G(u) = \int\rho + \tfrac{T}{2}u^2 - zu`, whose minimiser is the same equilibrium.
* :class:`NewtonDescent` is the damped Newton step for the link :math:`\rho = \exp` (``shannon``),
  which has no global Lipschitz constant and so no safe dual gradient step.

Numeric range.  With :math:`M` the dtype's largest finite value and :math:`T` within
:func:`~thermonn.functional.temperature_bounds`, every rule keeps its iterates and all of their
intermediates finite for every finite :math:`z`, and its backward free of ``0 * inf``: the primal
step needs nothing (:math:`y - z` stays of the order of :math:`T`), the dual ones project onto
boxes so wide that they never act in ordinary use (see :class:`DualDescent` and
:class:`NewtonDescent`).  The projections are identities inside their boxes, so inside them the
arithmetic -- and every output bit -- is that of the plain formulas.
"""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING, Generic, TypeVar

import torch
import torch.nn.functional as tf
from torch import Tensor

from thermonn.functional.free_energy import free_energy_grad
from thermonn.functional.temperature import temperature_bounds

if TYPE_CHECKING:
    from thermonn.functional.entropy.base import Entropy
    from thermonn.functional.entropy.dual import DualEntropy

__all__ = ["DescentRule", "DualDescent", "NewtonDescent", "PrimalDescent"]

_E = TypeVar("_E", bound="Entropy")


def _largest_exp_argument(dtype: torch.dtype) -> float:
    """The largest ``u`` of ``dtype`` with a finite ``exp(u)`` (``log(max)`` itself rounds up in
    float16 and float32)."""
    u = torch.tensor(math.log(torch.finfo(dtype).max), dtype=dtype)
    down = torch.tensor(-math.inf, dtype=dtype)
    while not torch.isfinite(torch.exp(u)):
        u = torch.nextafter(u, down)
    return float(u)


# The Newton rule reads z <= 15/16 of finfo.max: near the top, the backward's intermediate
# products (about z times a few roundings) would overflow a dtype with an 8-bit mantissa.
_NEWTON_TOP = 15.0 / 16.0

_EXP_ARGUMENT_MAX = {
    dt: _largest_exp_argument(dt)
    for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}


def _exp_argument_max(dtype: torch.dtype) -> float:
    value = _EXP_ARGUMENT_MAX.get(dtype)
    return _largest_exp_argument(dtype) if value is None else value


class DescentRule(abc.ABC, Generic[_E]):
    """A TEL step rule for entropies of type ``_E``: the descent state's dtype, preparation,
    initialisation and step, and the step-size bound.  Stateless: every method takes the entropy.
    """

    def descent_dtype(self, entropy: _E, dtype: torch.dtype) -> torch.dtype:
        """The dtype the descent runs in for inputs of ``dtype``: ``dtype`` itself here."""
        return dtype

    def descent_input(self, entropy: _E, z: Tensor) -> Tensor:
        """The projection as the descent sees it, computed once per forward: ``z`` itself here."""
        return z

    def init(self, entropy: _E, z: Tensor) -> Tensor:
        """Initial descent state: ``z`` itself (:math:`y_0 = z`, or :math:`u_0 = z`)."""
        return z

    @abc.abstractmethod
    def step(self, entropy: _E, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def smoothness(self, entropy: _E, t_max: float) -> tuple[float, float]: ...

    @abc.abstractmethod
    def step_bound(
        self, entropy: _E, t_min: float, t_max: float, *, nonexpansive: bool = False
    ) -> float: ...


class PrimalDescent(DescentRule["Entropy"]):
    r"""Gradient descent on :math:`F_T` in :math:`y`:
    :math:`y_{k+1} = y_k - \eta_k\,((y_k - z) - T_k\varphi(y_k))`, from :math:`y_0 = z`."""

    def step(self, entropy: Entropy, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor:
        r""":math:`y - \eta\,((y - z) - T\varphi(y))`."""
        return state - eta * free_energy_grad(entropy, state, z, t)

    def smoothness(self, entropy: Entropy, t_max: float) -> tuple[float, float]:
        r""":math:`(\mu, L) = (1 - T_{\max} m_+,\ 1 + T_{\max} m_-)`."""
        m_minus, m_plus = entropy.curvature_bounds()
        return 1.0 - t_max * m_plus, 1.0 + t_max * m_minus

    def step_bound(
        self, entropy: Entropy, t_min: float, t_max: float, *, nonexpansive: bool = False
    ) -> float:
        r""":math:`2/(\mu + L)` in general; :math:`\min(1, 2/L)` in non-expansive mode, which
        needs a concave entropy (:math:`\mu = 1`).

        Raises:
            ValueError: if :math:`\mu \le 0` (the free energy is not strongly convex on the box),
                or in non-expansive mode for a non-concave entropy.
        """
        mu, lip = entropy.smoothness(t_max)
        if mu <= 0.0:
            m_plus = entropy.curvature_bounds()[1]
            raise ValueError(
                f"entropy {type(entropy).__name__}: expected t_max * m_plus < 1 so that the free "
                f"energy is strongly convex, got t_max={t_max} and m_plus={m_plus} (mu={mu:.4g})"
            )
        if nonexpansive:
            if not entropy.concave:
                raise ValueError(
                    f"nonexpansive=True needs a concave entropy (m_plus = 0), got "
                    f"{type(entropy).__name__} with curvature bounds {entropy.curvature_bounds()}"
                )
            return min(1.0, 2.0 / lip)
        return 2.0 / (mu + lip)


class DualDescent(DescentRule["DualEntropy"]):
    r"""Gradient descent in the dual coordinate: :math:`u - \eta\,(\rho(u) + T u - z)`.

    With :math:`\rho' \le L_\rho` the step map contracts for :math:`\eta < 2/(T + L_\rho)`; the
    bound used is :math:`2/(T_{\min} + T_{\max} + L_\rho)`.

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

    def state_bound(self, entropy: DualEntropy, dtype: torch.dtype) -> float:
        r""":math:`B = \ell M/(16(1 + T_{hi}))`, the clip of :math:`z` and of every iterate."""
        scale = min(entropy.link_lipschitz, 1.0) * torch.finfo(dtype).max / 16.0
        return scale / (1.0 + temperature_bounds(dtype)[1])

    def descent_dtype(self, entropy: DualEntropy, dtype: torch.dtype) -> torch.dtype:
        r"""float32 for float16 inputs (the iterate :math:`u \approx z/T` needs the range)."""
        return torch.float32 if dtype == torch.float16 else dtype

    def descent_input(self, entropy: DualEntropy, z: Tensor) -> Tensor:
        r""":math:`z` clipped to :math:`\pm B`, where :math:`\rho(u^\star)` is saturated; a
        non-finite entry becomes NaN (as in :class:`torch.nn.Linear`, it must not come out finite)."""
        bound = self.state_bound(entropy, z.dtype)
        return torch.where(z.isfinite(), z.clamp(-bound, bound), math.nan)

    def step(
        self, entropy: DualEntropy, state: Tensor, z: Tensor, t: Tensor, eta: Tensor
    ) -> Tensor:
        r""":math:`u - \eta\,(\rho(u) + T u - z)`, clipped to :math:`\pm B`."""
        bound = self.state_bound(entropy, state.dtype)
        return (state - eta * (entropy.link(state) + t * state - z)).clamp(-bound, bound)

    def smoothness(self, entropy: DualEntropy, t_max: float) -> tuple[float, float]:
        # F_T in y: 1-strongly convex (s is concave) but not smooth (phi' is unbounded at the
        # domain's edge) -- which is why these entropies iterate in u instead.
        return 1.0, math.inf

    def step_bound(
        self, entropy: DualEntropy, t_min: float, t_max: float, *, nonexpansive: bool = False
    ) -> float:
        r""":math:`2/(T_{\min} + T_{\max} + L_\rho)`.

        Raises:
            ValueError: in non-expansive mode (the dual iteration carries no such proof).
        """
        if nonexpansive:
            raise ValueError(
                f"nonexpansive=True needs a concave primal entropy such as 'logcosh', got the "
                f"dual-coordinate entropy {type(entropy).__name__}"
            )
        return 2.0 / (t_min + t_max + entropy.link_lipschitz)


class NewtonDescent(DualDescent):
    r"""Damped Newton step for a dual entropy with link :math:`\rho = \exp` (``shannon``).

    A plain dual gradient step has no safe size there.  Instead the step is a damped Newton step
    on the convex increasing :math:`g(u) = e^u + T u - z`,

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

    def descent_input(self, entropy: DualEntropy, z: Tensor) -> Tensor:
        r""":math:`z` clipped above at :math:`\tfrac{15}{16}M` (below it is clipped per step); a
        non-finite entry becomes NaN."""
        top = torch.finfo(z.dtype).max * _NEWTON_TOP
        return torch.where(z.isfinite(), z.clamp(max=top), math.nan)

    def init(self, entropy: DualEntropy, z: Tensor) -> Tensor:
        r""":math:`u_0 = \log(1 + \mathrm{softplus}(z))`, capped at :math:`\bar u`."""
        return torch.log1p(tf.softplus(z)).clamp(max=_exp_argument_max(z.dtype))

    def step(
        self, entropy: DualEntropy, state: Tensor, z: Tensor, t: Tensor, eta: Tensor
    ) -> Tensor:
        r""":math:`u - \eta\,(e^u + T u - z)/(e^u + T)`, clipped to :math:`[-B, \bar u]`."""
        big = torch.finfo(state.dtype).max
        bound = big / (16.0 * temperature_bounds(state.dtype)[1])
        z = z.clamp(min=-t.detach() * bound)
        e = torch.exp(state)
        q = eta * (e + t * state - z)  # the plain step's order of operations, kept on purpose
        den = e + t
        # d(q/den)/d(den) = -(q/den)/den: keep it only where it is representable.
        den = torch.where(q.abs() <= den * den * (big / 4.0), den, den.detach())
        return (state - q / den).clamp(-bound, _exp_argument_max(state.dtype))

    def step_bound(
        self, entropy: DualEntropy, t_min: float, t_max: float, *, nonexpansive: bool = False
    ) -> float:
        """1: a damped Newton step needs no smaller one.

        Raises:
            ValueError: in non-expansive mode, as for every dual rule.
        """
        super().step_bound(entropy, t_min, t_max, nonexpansive=nonexpansive)
        return 1.0
