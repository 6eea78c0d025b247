"""The energy protocol every machine implements, and the energies the engine ships.

A machine hands the engine an :class:`Energy`: a scalar energy per configuration E(x), its
force F(x) = −∇E(x), and optionally

* an **affine split** F(x) = x M + c + s·φ(x) (:class:`AffineSplit`) — the Euler–Maruyama
  stepper then folds state, drift and noise into one ``addmm`` per step;
* an **enumeration** of a small discrete state space (:meth:`Energy.states`) — then
  :func:`boltzmann` gives the exact stationary law p(x) ∝ exp(−E(x)/kT), the oracle every
  sampler of that model is tested against.

Energies are in units of the bath's kT scale; ``x`` has shape ``(..., n)`` and E(x) shape
``(...)``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["AffineSplit", "Energy", "QuadraticEnergy", "boltzmann", "log_partition"]


@dataclass(frozen=True, eq=False)
class AffineSplit:
    """F(x) = x M + c + s·φ(x): quadratic couplings (``matrix`` M, ``(n, n)``), fields
    (``offset`` c, broadcastable to x) and an optional element-wise term (``local`` φ with
    scale s), e.g. the quartic machine's −4J₄x³."""

    matrix: Tensor
    offset: Tensor
    local: Callable[[Tensor], Tensor] | None = None
    local_scale: float = 1.0

    def __call__(self, x: Tensor) -> Tensor:
        force = self.offset + x @ self.matrix
        return force if self.local is None else force + self.local_scale * self.local(x)


class Energy(abc.ABC):
    """Base class of energies: subclasses define :meth:`energy`; :meth:`force` defaults to
    −∇E by autograd and should be overridden with the closed form where one exists. An
    energy holds the tensors it was built from; an object that caches derived quantities (an
    affine split) is a snapshot of its parameters — build a new one after an optimiser step.

    Example::

        class DoubleWell(Energy):
            def energy(self, x):
                return (x.square() - 1).square().sum(-1)
    """

    @abc.abstractmethod
    def energy(self, x: Tensor) -> Tensor:
        """E(x), shape ``x.shape[:-1]``."""

    def force(self, x: Tensor) -> Tensor:
        """F(x) = −∇E(x), shape of ``x``. The default differentiates :meth:`energy` with
        autograd; when grad mode is on the force stays differentiable in ``x`` and in the
        parameters the energy closes over (``create_graph``), so path actions and pathwise
        gradients through a stepper see it (not available under ``torch.inference_mode``)."""
        differentiable = torch.is_grad_enabled()
        with torch.enable_grad():
            leaf = x if x.requires_grad else x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(
                self.energy(leaf).sum(), leaf, create_graph=differentiable
            )
        return -grad

    def affine(self) -> AffineSplit | None:
        """The split F(x) = x M + c + s·φ(x) when the energy has one (a fast path), else None."""
        return None

    def states(self) -> Tensor | None:
        """Every configuration ``(n_states, n)`` of a small discrete model, else None."""
        return None


@dataclass(frozen=True, eq=False)
class QuadraticEnergy(Energy):
    """E(x) = ½ (x − m)ᵀ A (x − m) − hᵀx with a symmetric ``precision`` A ``(n, n)``, ``mean`` m
    and an optional linear ``field`` h (both broadcastable to x): the harmonic well, and the
    Ornstein–Uhlenbeck process's potential. At temperature kT its Boltzmann law is
    N(m + A⁻¹h, kT A⁻¹) for positive-definite A; A = 0 is the free particle.
    F(x) = −(x − m) A + h is affine: M = −A, c = m A + h (a field lets a device relax to
    A⁻¹h without anyone solving for the mean)."""

    precision: Tensor
    mean: Tensor
    field: Tensor | None = None

    def energy(self, x: Tensor) -> Tensor:
        d = x - self.mean
        quadratic = 0.5 * (d * (d @ self.precision)).sum(-1)
        return quadratic if self.field is None else quadratic - (x * self.field).sum(-1)

    def force(self, x: Tensor) -> Tensor:
        force = (self.mean - x) @ self.precision
        return force if self.field is None else force + self.field

    def affine(self) -> AffineSplit:
        offset = self.mean @ self.precision
        return AffineSplit(-self.precision, offset if self.field is None else offset + self.field)


def _enumerated(energy: Energy, kT: float) -> tuple[Tensor, Tensor]:
    """Every state and its −E/kT, checked."""
    check_float("kT", kT, above=0.0)
    states = energy.states()
    if states is None:
        raise ValueError(f"{type(energy).__name__}: expected an energy with states(), got None")
    return states, -energy.energy(states) / kT


def boltzmann(energy: Energy, kT: float) -> tuple[Tensor, Tensor]:
    """The exact stationary law of a discrete model by enumeration: ``(states, p)`` with
    p(x) = exp(−E(x)/kT) / Z over every state of :meth:`Energy.states`.

    Raises:
        ValueError: if the energy cannot enumerate its states, or ``kT`` is not positive.
    """
    states, logits = _enumerated(energy, kT)
    return states, torch.softmax(logits, dim=0)


def log_partition(energy: Energy, kT: float) -> Tensor:
    """The exact log Z = log Σ_x exp(−E(x)/kT) over every state of :meth:`Energy.states`, in
    float64 (a 0-dimensional tensor).

    Raises:
        ValueError: if the energy cannot enumerate its states, or ``kT`` is not positive.
    """
    _, logits = _enumerated(energy, kT)
    return torch.logsumexp(logits.double(), 0)
