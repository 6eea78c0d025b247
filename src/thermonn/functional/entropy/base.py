r"""The :class:`Entropy` interface: :math:`\varphi = s'`, :math:`s`, curvature bounds, and the
state coordinate the free energy is evaluated in.

An entropy is usable on its own -- :meth:`Entropy.phi` and :meth:`Entropy.entropy` are plain
elementwise tensor functions.  The TEL descent hooks (``init``, ``step``, ``step_bound``, ...)
forward to the entropy's step rule :attr:`Entropy.descent`, which lives in
:mod:`thermonn.functional.entropy.descent`.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
import torch.nn.functional as tf
from torch import Tensor, nn

from thermonn.functional.entropy.descent import DescentRule, PrimalDescent

__all__ = ["Entropy"]


def _binary_entropy_logits(u: Tensor) -> Tensor:
    """h(sigmoid(u)) for h(p) = -p log p - (1-p) log(1-p), stable for every finite u."""
    return torch.sigmoid(u) * tf.softplus(-u) + torch.sigmoid(-u) * tf.softplus(u)


class Entropy(nn.Module, abc.ABC):
    r"""Base class of an entropy :math:`S(y) = \sum_i s(y_i)`.

    Subclasses implement :meth:`phi` (:math:`s'`), :meth:`entropy` (elementwise :math:`s`) and
    :meth:`curvature_bounds` (:math:`m_-, m_+` with :math:`\varphi' \in [-m_-, m_+]` for every value
    the entropy's parameters can take).

    A *state* is the coordinate an entropy is iterated and evaluated in: :math:`y` itself here
    (``coordinate = "primal"``); :class:`~thermonn.functional.entropy.DualEntropy` uses
    :math:`u` with :math:`y = \rho(u)`.  :meth:`output`, :meth:`phi_of_state` and
    :meth:`entropy_of_state` read :math:`y`, :math:`\varphi(y)` and :math:`s(y)` off a state.

    The TEL descent hooks (:meth:`descent_dtype`, :meth:`descent_input`, :meth:`init`,
    :meth:`step`, :meth:`smoothness`, :meth:`step_bound`) forward to :attr:`descent`, the step rule
    (:class:`~thermonn.functional.entropy.PrimalDescent` here); they rarely need overriding.
    """

    coordinate: ClassVar[str] = "primal"
    descent: ClassVar[DescentRule[Any]] = PrimalDescent()
    """The TEL step rule of this entropy (stateless, shared by all instances)."""

    @abc.abstractmethod
    def phi(self, y: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def entropy(self, y: Tensor) -> Tensor: ...

    @abc.abstractmethod
    def curvature_bounds(self) -> tuple[float, float]: ...

    def fused_form(self) -> tuple[str, list[Tensor]] | None:
        """The closed form the fused TEL kernels know this entropy by -- ``(name, tensors)`` --
        or ``None`` (here: the kernels run the step-wise adjoint instead)."""
        return None

    @property
    def concave(self) -> bool:
        """True when :math:`m_+ = 0`, i.e. :math:`s` is concave everywhere."""
        return self.curvature_bounds()[1] == 0.0

    # ---- the state coordinate ------------------------------------------------------------
    def output(self, state: Tensor) -> Tensor:
        """The value :math:`y` of a state: the state itself in the primal coordinate."""
        return state

    def phi_of_state(self, state: Tensor) -> Tensor:
        r""":math:`\varphi(y)` of a state."""
        return self.phi(state)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        """:math:`s(y)` of a state, elementwise."""
        return self.entropy(state)

    # ---- TEL descent hooks, forwarded to the step rule -----------------------------------
    def descent_dtype(self, dtype: torch.dtype) -> torch.dtype:
        """The dtype the descent runs in for inputs of ``dtype``."""
        return self.descent.descent_dtype(self, dtype)

    def descent_input(self, z: Tensor) -> Tensor:
        """The projection as the descent sees it, computed once per forward."""
        return self.descent.descent_input(self, z)

    def init(self, z: Tensor) -> Tensor:
        """Initial descent state for the (prepared) projection ``z``."""
        return self.descent.init(self, z)

    def step(self, state: Tensor, z: Tensor, t: Tensor, eta: Tensor) -> Tensor:
        """One descent step at temperature ``t`` with step size ``eta``."""
        return self.descent.step(self, state, z, t, eta)

    def smoothness(self, t_max: float) -> tuple[float, float]:
        r"""Strong-convexity and smoothness constants :math:`(\mu, L)` of :math:`F_T`, T ≤ t_max."""
        return self.descent.smoothness(self, t_max)

    def step_bound(self, t_min: float, t_max: float, *, nonexpansive: bool = False) -> float:
        r"""Largest step :math:`\eta_{\max}` for which the layer's guarantees hold.

        Raises:
            ValueError: where no step size keeps them (see the step rule's ``step_bound``).
        """
        return self.descent.step_bound(self, t_min, t_max, nonexpansive=nonexpansive)
