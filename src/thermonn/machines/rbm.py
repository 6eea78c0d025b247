r"""Restricted Boltzmann machines on the energy protocol: Bernoulli and Gaussian visible units.

.. math::

    E(v, h) = E_{\rm vis}(v) - \tilde v^\top W h - c^\top h, \qquad h \in \{0, 1\}^{n_h},

with the visible self-energy and coupling coordinate of the unit type
(:class:`BernoulliUnits`: :math:`E_{\rm vis} = -b^\top v`, :math:`\tilde v = v`;
:class:`GaussianUnits`: :math:`E_{\rm vis} = \sum_i (v_i - b_i)^2 / 2\sigma_i^2`,
:math:`\tilde v = v / \sigma`). Summing out the hidden layer gives the free energy

.. math::  F(v) = E_{\rm vis}(v) - \sum_j \operatorname{softplus}(c_j + (\tilde v^\top W)_j),
           \qquad p(v) = e^{-F(v)} / Z,

which is what :class:`RBMEnergy` hands the engine as its energy (so enumeration and
:func:`~thermonn.dynamics.boltzmann` give the exact visible law at kT = 1). The conditionals
factorise: :math:`p(h_j = 1 \mid v) = \sigma(c_j + (\tilde v^\top W)_j)`, and v | h is Bernoulli
with logits :math:`b + Wh` or Gaussian :math:`N(b + \sigma \odot Wh, \sigma^2)`.
:class:`RBMGibbs` alternates them (one step = one sweep v → h → v); :meth:`RBMEnergy.log_partition`
enumerates the smaller layer exactly (the other summed or integrated in closed form);
:meth:`RBMEnergy.annealing_path` is the path annealed importance sampling follows
(:mod:`thermonn.estimators.partition`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from thermonn._validation import check_float, check_int
from thermonn.dynamics.energy import Energy
from thermonn.dynamics.monte_carlo import MonteCarloStepper, check_beta

__all__ = [
    "MAX_ENUMERATED_UNITS",
    "RBM",
    "UNITS",
    "BernoulliUnits",
    "GaussianUnits",
    "RBMEnergy",
    "RBMGibbs",
    "RBMPath",
    "VisibleUnits",
]

MAX_ENUMERATED_UNITS = 24  # the enumerated layer: 2^24 configurations, summed in chunks
_CHUNK = 2**14  # enumerated configurations per chunk of the exact sum


def _bernoulli(p: Tensor, generator: torch.Generator | None) -> Tensor:
    """0/1 draws with probabilities ``p``, in ``p``'s dtype."""
    return (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(
        p.dtype
    )


class VisibleUnits(abc.ABC):
    """The visible unit type: its self-energy, coupling coordinate, conditional law given the
    hidden layer's input ``field`` = W h, and that law's log-normaliser."""

    name: str
    enumerable: bool

    @abc.abstractmethod
    def energy(self, v: Tensor, bias: Tensor) -> Tensor:
        """E_vis(v), summed over units: shape ``v.shape[:-1]``."""

    @abc.abstractmethod
    def coordinate(self, v: Tensor) -> Tensor:
        """ṽ, what couples to W."""

    @abc.abstractmethod
    def bias_gradient(self, v: Tensor, bias: Tensor) -> Tensor:
        """∂E_vis/∂b per configuration, shape of ``v``."""

    @abc.abstractmethod
    def sample(
        self, field: Tensor, bias: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """v ~ p(v | h) ∝ exp(−β (E_vis(v) − ṽ·field))."""

    @abc.abstractmethod
    def mean(self, field: Tensor, bias: Tensor) -> Tensor:
        """E[v | h] at β = 1."""

    @abc.abstractmethod
    def log_normaliser(self, field: Tensor, bias: Tensor) -> Tensor:
        """log Σ_v (or ∫ dv) exp(−E_vis(v) + ṽ·field), summed over units."""

    def check(self, v: Tensor, n: int) -> None:
        if v.dim() < 1 or v.shape[-1] != n or not v.is_floating_point():
            raise ValueError(
                f"visible: expected a floating tensor of shape (..., {n}), got {v.dtype} "
                f"{tuple(v.shape)}"
            )
        if not bool(torch.isfinite(v).all()):
            raise ValueError("visible: expected finite values, got NaN or inf")


class BernoulliUnits(VisibleUnits):
    """Binary visible units v ∈ {0, 1}: E_vis = −b·v."""

    name = "bernoulli"
    enumerable = True

    def energy(self, v: Tensor, bias: Tensor) -> Tensor:
        return -(v * bias).sum(-1)

    def coordinate(self, v: Tensor) -> Tensor:
        return v

    def bias_gradient(self, v: Tensor, bias: Tensor) -> Tensor:
        return -v

    def sample(
        self, field: Tensor, bias: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        p = torch.sigmoid(beta * (field + bias))
        return _bernoulli(p, generator)

    def mean(self, field: Tensor, bias: Tensor) -> Tensor:
        return torch.sigmoid(field + bias)

    def log_normaliser(self, field: Tensor, bias: Tensor) -> Tensor:
        return F.softplus(field + bias).sum(-1)

    def check(self, v: Tensor, n: int) -> None:
        super().check(v, n)
        if not bool(((v == 0) | (v == 1)).all()):
            raise ValueError("visible: expected every entry to be 0 or 1 (Bernoulli units)")


@dataclass(frozen=True)
class GaussianUnits(VisibleUnits):
    """Real visible units with standard deviation ``sigma`` (fixed; data are usually scaled to
    unit variance): E_vis = Σ (v − b)² / 2σ², ṽ = v / σ."""

    sigma: float = 1.0
    name = "gaussian"
    enumerable = False

    def __post_init__(self) -> None:
        check_float("sigma", self.sigma, above=0.0)

    def energy(self, v: Tensor, bias: Tensor) -> Tensor:
        return ((v - bias).square() / (2.0 * self.sigma**2)).sum(-1)

    def coordinate(self, v: Tensor) -> Tensor:
        return v / self.sigma

    def bias_gradient(self, v: Tensor, bias: Tensor) -> Tensor:
        return (bias - v) / self.sigma**2

    def sample(
        self, field: Tensor, bias: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        mean = self.mean(field, bias)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + self.sigma * beta**-0.5 * noise

    def mean(self, field: Tensor, bias: Tensor) -> Tensor:
        return bias + self.sigma * field

    def log_normaliser(self, field: Tensor, bias: Tensor) -> Tensor:
        # ∫ exp(−(v − b)²/2σ² + v a/σ) dv = σ √(2π) exp(a b/σ + a²/2), per unit
        const = math.log(self.sigma * math.sqrt(2.0 * math.pi))
        return (field * bias / self.sigma + 0.5 * field.square() + const).sum(-1)


UNITS: dict[str, Callable[[], VisibleUnits]] = {
    "bernoulli": BernoulliUnits,
    "gaussian": GaussianUnits,
}


def resolve_units(units: str | VisibleUnits) -> VisibleUnits:
    """A unit name of :data:`UNITS` or a :class:`VisibleUnits` object, resolved once."""
    if isinstance(units, VisibleUnits):
        return units
    if isinstance(units, str) and units in UNITS:
        return UNITS[units]()
    raise ValueError(f"units: expected one of {sorted(UNITS)} or a VisibleUnits, got {units!r}")


def _binary_codes(
    start: int, stop: int, n: int, dtype: torch.dtype, device: torch.device
) -> Tensor:
    codes = torch.arange(start, stop, device=device)
    return ((codes[:, None] >> torch.arange(n, device=device)) & 1).to(dtype)


@dataclass(frozen=True, eq=False)
class RBMEnergy(Energy):
    """An RBM's parameters as an energy on visible configurations, E(v) = F(v) (see the
    module): ``weight`` W ``(n_v, n_h)``, ``visible_bias`` b ``(n_v,)``, ``hidden_bias`` c
    ``(n_h,)``, ``units`` the visible type. A snapshot: the module's :meth:`RBM.energy_model`
    builds one over its live parameters (differentiable)."""

    weight: Tensor
    visible_bias: Tensor
    hidden_bias: Tensor
    units: VisibleUnits

    def __post_init__(self) -> None:
        n_v, n_h = self.weight.shape
        if self.visible_bias.shape != (n_v,) or self.hidden_bias.shape != (n_h,):
            raise ValueError(
                f"biases: expected shapes ({n_v},) and ({n_h},) for a weight of shape "
                f"{tuple(self.weight.shape)}, got {tuple(self.visible_bias.shape)} and "
                f"{tuple(self.hidden_bias.shape)}"
            )

    @property
    def n_visible(self) -> int:
        return self.weight.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.weight.shape[1]

    def hidden_input(self, v: Tensor) -> Tensor:
        """c + ṽᵀW: the hidden units' logits given v."""
        return self.units.coordinate(v) @ self.weight + self.hidden_bias

    def energy(self, v: Tensor) -> Tensor:
        """The free energy F(v) = E_vis(v) − Σ_j softplus(c_j + (ṽᵀW)_j)."""
        return self.units.energy(v, self.visible_bias) - F.softplus(self.hidden_input(v)).sum(-1)

    def joint_energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = E_vis(v) − ṽᵀWh − cᵀh."""
        return self.units.energy(v, self.visible_bias) - (self.hidden_input(v) * h).sum(-1)

    def sample_hidden(
        self, v: Tensor, generator: torch.Generator | None, beta: float | Tensor = 1.0
    ) -> Tensor:
        """h ~ p(h | v) at inverse temperature ``beta``."""
        p = torch.sigmoid(beta * self.hidden_input(v))
        return _bernoulli(p, generator)

    def sample_visible(
        self, h: Tensor, generator: torch.Generator | None, beta: float | Tensor = 1.0
    ) -> Tensor:
        """v ~ p(v | h) at inverse temperature ``beta``."""
        return self.units.sample(h @ self.weight.T, self.visible_bias, beta, generator)

    def visible_mean(self, h: Tensor) -> Tensor:
        """E[v | h]."""
        return self.units.mean(h @ self.weight.T, self.visible_bias)

    def states(self) -> Tensor | None:
        """Every visible configuration ``(2^n_v, n_v)`` of a Bernoulli RBM; None for Gaussian
        units (a continuum).

        Raises:
            ValueError: for more than :data:`MAX_ENUMERATED_UNITS` visible units.
        """
        if not self.units.enumerable:
            return None
        n = self.n_visible
        if n > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"states: expected at most {MAX_ENUMERATED_UNITS} visible units to enumerate, got {n}"
            )
        return _binary_codes(0, 2**n, n, self.weight.dtype, self.weight.device)

    def log_partition(self) -> Tensor:
        """The exact log Z in float64, enumerating the smaller layer (hidden for Gaussian
        units) in chunks and summing the other out in closed form.

        Raises:
            ValueError: when the layer to enumerate has more than :data:`MAX_ENUMERATED_UNITS`
                units.
        """
        over_visible = self.units.enumerable and self.n_visible < self.n_hidden
        n = self.n_visible if over_visible else self.n_hidden
        if n > MAX_ENUMERATED_UNITS:
            raise ValueError(
                f"log_partition: expected at most {MAX_ENUMERATED_UNITS} units in the smaller "
                f"enumerable layer, got {self.n_visible} visible ({self.units.name}) and "
                f"{self.n_hidden} hidden"
            )
        w = self.weight.detach().double()
        b, c = self.visible_bias.detach().double(), self.hidden_bias.detach().double()
        exact = RBMEnergy(w, b, c, self.units)
        terms = []
        for start in range(0, 2**n, _CHUNK):
            x = _binary_codes(start, min(start + _CHUNK, 2**n), n, torch.float64, w.device)
            if over_visible:
                terms.append(torch.logsumexp(-exact.energy(x), 0))
            else:
                terms.append(torch.logsumexp(x @ c + self.units.log_normaliser(x @ w.T, b), 0))
        return torch.logsumexp(torch.stack(terms), 0)

    def annealing_path(self, base_bias: Tensor | None = None) -> RBMPath:
        """The geometric path from the independent-unit model with visible bias
        ``base_bias`` (default: this model's b) to this model, for annealed importance
        sampling (:func:`thermonn.estimators.ais`)."""
        base = self.visible_bias if base_bias is None else base_bias
        if base.shape != self.visible_bias.shape:
            raise ValueError(
                f"base_bias: expected shape {tuple(self.visible_bias.shape)}, got {tuple(base.shape)}"
            )
        return RBMPath(self, base.to(self.visible_bias))


@dataclass(frozen=True, eq=False)
class RBMPath:
    r"""The annealing path of an RBM: the joint laws

    .. math::  p_\beta(v, h) \propto \exp\big(-(1 - \beta) E_{\rm vis}(v; b_A)
               - \beta E(v, h)\big), \qquad
               F_\beta(v) = (1 - \beta) E_{\rm vis}(v; b_A) + \beta E_{\rm vis}(v; b)
               - \sum_j \operatorname{softplus}(\beta x_j), \; x = c + \tilde v^\top W,

    from the independent-unit model (β = 0, :math:`\log Z_0 = \log Z_{\rm vis}(b_A) + n_h
    \ln 2` in closed form) to the RBM (β = 1). Its Gibbs conditionals at β are those of the
    RBM (b_β, βW, βc) with b_β = (1 − β) b_A + β b, since the visible self-energies combine
    into one of bias b_β up to a constant."""

    model: RBMEnergy
    base_bias: Tensor

    def base_log_partition(self) -> Tensor:
        zero = torch.zeros_like(self.base_bias, dtype=torch.float64)
        return self.model.units.log_normaliser(
            zero, self.base_bias.double()
        ) + self.model.n_hidden * math.log(2.0)

    def base_sample(self, chains: int, generator: torch.Generator | None) -> Tensor:
        field = torch.zeros(
            chains, self.model.n_visible, dtype=self.base_bias.dtype, device=self.base_bias.device
        )
        return self.model.units.sample(field, self.base_bias, 1.0, generator)

    def terms(self, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(E_vis(v; b_A), E_vis(v; b), x): what F_β(v) and the β-Gibbs step need, for every β."""
        units = self.model.units
        return (
            units.energy(v, self.base_bias),
            units.energy(v, self.model.visible_bias),
            self.model.hidden_input(v),
        )

    @staticmethod
    def free_energy_change(terms: tuple[Tensor, ...], beta_from: float, beta_to: float) -> Tensor:
        """F_{β_to}(v) − F_{β_from}(v) from :meth:`terms`, as a sum of per-unit differences
        (no cancellation of two large free energies):
        (β_to − β_from)(E_vis(v; b) − E_vis(v; b_A)) − Σ_j [softplus(β_to x_j) − softplus(β_from x_j)]."""
        e_base, e_model, x = terms
        hidden = (F.softplus(beta_to * x) - F.softplus(beta_from * x)).sum(-1)
        return (beta_to - beta_from) * (e_model - e_base) - hidden

    def step(self, x: Tensor, beta: float, generator: torch.Generator | None) -> Tensor:
        """One Gibbs sweep at β from a state with hidden input ``x``: h ~ σ(βx), then v."""
        m = self.model
        p = torch.sigmoid(beta * x)
        h = _bernoulli(p, generator)
        bias = (1.0 - beta) * self.base_bias + beta * m.visible_bias
        return m.units.sample(beta * (h @ m.weight.T), bias, 1.0, generator)


@dataclass(frozen=True, eq=False)
class RBMGibbs(MonteCarloStepper[RBMEnergy]):
    """Block Gibbs sweeps of an RBM on visible states ``(chains, n_v)``: h ~ p(h | v), then
    v ~ p(v | h), both at 1/kT of the joint law (the visible law is exp(−F(v)) at kT = 1)."""

    energy_type = RBMEnergy
    kT: float | Callable[[float], float] = 1.0

    def check_state(self, x0: Tensor) -> None:
        if x0.dim() != 2:
            raise ValueError(
                f"visible: expected shape (chains, {self.energy.n_visible}), got {tuple(x0.shape)}"
            )
        self.energy.units.check(x0, self.energy.n_visible)

    @torch.no_grad()
    def advance(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        check_beta(beta, state.shape[0])
        h = self.energy.sample_hidden(state, generator, beta)
        return self.energy.sample_visible(h, generator, beta)


class RBM(nn.Module):
    """A restricted Boltzmann machine with ``visible`` and ``hidden`` units.

    ``units`` names the visible type (``"bernoulli"``, ``"gaussian"``) or is a
    :class:`VisibleUnits` object (e.g. ``GaussianUnits(sigma=0.5)``). Weights start at
    N(0, 0.01²), biases at zero (:meth:`init_visible_bias` sets b from data, Hinton's
    recipe). ``forward(v)`` returns the hidden probabilities p(h = 1 | v) (the features);
    training is by :class:`thermonn.optim.ContrastiveDivergence` with any torch optimiser.
    """

    def __init__(
        self,
        visible: int,
        hidden: int,
        units: str | VisibleUnits = "bernoulli",
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        check_int("visible", visible, minimum=1)
        check_int("hidden", hidden, minimum=1)
        self.units = resolve_units(units)
        w = 0.01 * torch.randn(visible, hidden, generator=generator, dtype=dtype)
        self.weight = nn.Parameter(w.to(device))
        self.visible_bias = nn.Parameter(torch.zeros(visible, dtype=dtype, device=device))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden, dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return f"visible={self.weight.shape[0]}, hidden={self.weight.shape[1]}, units={self.units.name}"

    def energy_model(self) -> RBMEnergy:
        """The RBM as an :class:`RBMEnergy` over the live parameters."""
        return RBMEnergy(self.weight, self.visible_bias, self.hidden_bias, self.units)

    def forward(self, v: Tensor) -> Tensor:
        self.units.check(v, self.weight.shape[0])
        return torch.sigmoid(self.energy_model().hidden_input(v))

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v), differentiable in the parameters."""
        self.units.check(v, self.weight.shape[0])
        return self.energy_model().energy(v)

    @torch.no_grad()
    def init_visible_bias(self, data: Tensor, eps: float = 1e-3) -> None:
        """b from the data: logit of the clipped unit means (Bernoulli), the means (Gaussian)."""
        self.units.check(data, self.weight.shape[0])
        mean = data.reshape(-1, data.shape[-1]).mean(0)
        if isinstance(self.units, BernoulliUnits):
            mean = torch.logit(mean.clamp(eps, 1.0 - eps))
        self.visible_bias.copy_(mean.to(self.visible_bias))
