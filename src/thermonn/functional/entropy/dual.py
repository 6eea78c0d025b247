r"""Domain-constrained entropy families, parametrised by a dual coordinate :math:`u`:
``bernoulli`` on :math:`(0, 1)`, ``spin`` on :math:`(-1, 1)`, ``shannon`` on :math:`(0, \infty)`.

.. math::  y = \rho(u), \qquad \varphi(y) = -\rho^{-1}(y), \qquad s(y) = s(\rho(u)).

Evaluating :math:`\varphi` and :math:`s` through :math:`u` stays inside the domain: for a
mean-field model :math:`u` is the local field and :math:`y = \rho(u)` the mean.  TEL descends
these entropies in :math:`u` (:class:`~thermonn.functional.entropy.DualDescent`,
:class:`~thermonn.functional.entropy.NewtonDescent`).
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from thermonn.functional.entropy.base import Entropy, _binary_entropy_logits
from thermonn.functional.entropy.descent import DescentRule, DualDescent, NewtonDescent

__all__ = ["Bernoulli", "DualEntropy", "Shannon", "Spin"]


class DualEntropy(Entropy):
    r"""Base of the domain-constrained entropies, whose state is the dual coordinate :math:`u`.

    Subclasses give the link :math:`\rho` (:meth:`link`), its inverse, its Lipschitz constant
    :math:`L_\rho` (:attr:`link_lipschitz`, for the step-size bound) and :math:`s` as a function of
    :math:`u` (:meth:`entropy_of_state`); then :math:`\varphi(y) = -\rho^{-1}(y)`,
    :math:`\varphi(\rho(u)) = -u` and :math:`\varphi' \in (-\infty, 0)`.
    """

    coordinate: ClassVar[str] = "dual"
    descent: ClassVar[DescentRule[Any]] = DualDescent()
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

    def output(self, state: Tensor) -> Tensor:
        r""":math:`y = \rho(u)`."""
        return self.link(state)

    def phi_of_state(self, state: Tensor) -> Tensor:
        r""":math:`\varphi(\rho(u)) = -u`."""
        return -state


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
    ReLU, exactly ReLU as :math:`T \to 0`.  Dual link :math:`\rho = \exp`, which has no global
    Lipschitz constant: TEL descends it by damped Newton steps
    (:class:`~thermonn.functional.entropy.NewtonDescent`).
    """

    descent: ClassVar[DescentRule[Any]] = NewtonDescent()
    link_lipschitz: ClassVar[float] = math.inf

    def link(self, u: Tensor) -> Tensor:
        return torch.exp(u)

    def link_inverse(self, y: Tensor) -> Tensor:
        return torch.log(y)

    def entropy_of_state(self, state: Tensor) -> Tensor:
        return torch.exp(state) * (1.0 - state)
