r"""Entropy families for the Thermodynamic Equilibrium Layer.

An entropy :math:`S(y) = \sum_i s(y_i)` enters the free energy

.. math::

    F_T(y) = \tfrac12 \lVert y - z \rVert^2 - T\,S(y), \qquad
    \nabla F_T(y) = (y - z) - T\,\varphi(y), \quad \varphi = s'.

Its gradient :math:`\varphi` is the layer's activation; the equilibrium map
:math:`z \mapsto y^\star` solves :math:`y - T\varphi(y) = z`.

Each entropy is a *strategy object* holding the math -- :math:`\varphi`, :math:`s` and the
curvature bounds :math:`\varphi' \in [-m_-, m_+]` -- and naming the TEL step rule that descends it
(:attr:`Entropy.descent`).  Layout:

* ``base`` -- the :class:`Entropy` interface and its state coordinate;
* ``primal`` -- ``logcosh`` and ``gate``, iterated in :math:`y`; ``custom`` -- user-supplied
  primal entropies (:class:`CustomEntropy`);
* ``dual`` -- ``bernoulli``, ``spin`` and ``shannon``, parametrised by :math:`y = \rho(u)`;
* ``descent`` -- the TEL step rules (primal gradient step, dual gradient step, damped Newton) and
  their step-size bounds, with the numeric-range argument;
* ``registry`` -- :data:`ENTROPIES` and :func:`resolve_entropy`.
"""

from thermonn.functional.entropy.base import Entropy
from thermonn.functional.entropy.custom import CustomEntropy
from thermonn.functional.entropy.descent import (
    DescentRule,
    DualDescent,
    NewtonDescent,
    PrimalDescent,
)
from thermonn.functional.entropy.dual import Bernoulli, DualEntropy, Shannon, Spin
from thermonn.functional.entropy.primal import Gate, LogCosh
from thermonn.functional.entropy.registry import ENTROPIES, resolve_entropy

__all__ = [
    "ENTROPIES",
    "Bernoulli",
    "CustomEntropy",
    "DescentRule",
    "DualDescent",
    "DualEntropy",
    "Entropy",
    "Gate",
    "LogCosh",
    "NewtonDescent",
    "PrimalDescent",
    "Shannon",
    "Spin",
    "resolve_entropy",
]
