r"""Partition functions by annealed importance sampling, forward and reverse, and the
log-likelihood bracket they give.

Along a path of laws :math:`p_k \propto e^{-F_{\beta_k}}`, 0 = β_0 < … < β_K = 1, with
transitions :math:`T_k` leaving :math:`p_k` invariant (:class:`AnnealingPath`):

* **forward AIS** (Neal 2001): :math:`v_1 \sim p_0`, :math:`v_{k+1} \sim T_k(v_k)`, weight
  :math:`w = \prod_{k=1}^K e^{F_{k-1}(v_k) - F_k(v_k)}`; :math:`\mathbb E[w] = Z_K/Z_0`, so by
  Jensen :math:`\mathbb E \log \hat Z \le \log Z` — a stochastic **lower** bound on log Z and
  an upper bound on a log-likelihood;
* **reverse AIS** (Burda, Grosse & Salakhutdinov 2015; Grosse et al. 2015): start from samples
  of the target and anneal back to β = 0; :math:`\mathbb E[w_{\rm rev}] = Z_0/Z_K`, so
  :math:`\mathbb E \log \hat Z_{\rm rev} \ge \log Z` — a stochastic **upper** bound, exact in
  expectation when the starting states are exact samples of the target.

The two bracket log Z, and the test log-likelihood −F(v) − log Z with it
(:func:`likelihood_bracket`). Log-weights accumulate in float64. Paths: an RBM's
(:meth:`thermonn.machines.RBMEnergy.annealing_path`), and :class:`TemperaturePath` for any spin
or Potts model — from infinite temperature (uniform states, log Z_0 = n ln q) to kT, the
intermediate laws e^{−βE/kT} moved by heat-bath sweeps at βkT⁻¹.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int
from thermonn.dynamics.categorical import CategoricalEnergy, CategoricalGibbs
from thermonn.dynamics.energy import Energy
from thermonn.dynamics.spins import BlockGibbs, SpinEnergy

__all__ = [
    "AnnealingPath",
    "LikelihoodBracket",
    "PartitionEstimate",
    "TemperaturePath",
    "ais",
    "annealing_schedule",
    "likelihood_bracket",
    "reverse_ais",
]


class AnnealingPath(Protocol):
    """A path of unnormalised laws from a base with a known log Z_0 (β = 0) to a target
    (β = 1): ``terms(v)`` precomputes what ``free_energy_change(terms, β, β')`` (F_β'(v) −
    F_β(v)) and ``step(x, β, g)`` need (its last entry is what ``step`` takes), e.g.
    :class:`thermonn.machines.RBMPath`."""

    def base_log_partition(self) -> Tensor: ...

    def base_sample(self, chains: int, generator: torch.Generator | None) -> Tensor: ...

    def terms(self, v: Tensor) -> tuple[Tensor, ...]: ...

    @staticmethod
    def free_energy_change(
        terms: tuple[Tensor, ...], beta_from: float, beta_to: float
    ) -> Tensor: ...

    def step(self, x: Tensor, beta: float, generator: torch.Generator | None) -> Tensor: ...


class TemperaturePath:
    """The path p_β ∝ exp(−β E(x) / kT), β: 0 → 1, of a spin model (:class:`SpinEnergy`,
    states ±1) or a Potts model (:class:`CategoricalEnergy`, states 0 … q − 1): uniform at
    β = 0 (log Z_0 = n ln q), moved by heat-bath sweeps at inverse temperature β / kT.

    Raises:
        TypeError: an energy of another kind; ValueError: a non-positive ``kT``.
    """

    def __init__(self, energy: Energy, kT: float) -> None:
        self.kT = check_float("kT", kT, above=0.0)
        self.energy = energy
        if isinstance(energy, SpinEnergy):
            self._q, self._n = 2, energy.field.shape[-1]
            self._stepper: BlockGibbs | CategoricalGibbs = BlockGibbs(energy, kT)
        elif isinstance(energy, CategoricalEnergy):
            self._q, self._n = energy.q, energy.n
            self._stepper = CategoricalGibbs(energy, kT)
        else:
            raise TypeError(
                f"energy: expected a SpinEnergy or CategoricalEnergy, got {type(energy).__name__}"
            )

    def base_log_partition(self) -> Tensor:
        return torch.tensor(self._n * math.log(self._q), dtype=torch.float64)

    def base_sample(self, chains: int, generator: torch.Generator | None) -> Tensor:
        x = torch.randint(0, self._q, (chains, self._n), generator=generator)
        if isinstance(self.energy, SpinEnergy):
            return (2 * x - 1).to(self.energy.field)
        return x

    def terms(self, x: Tensor) -> tuple[Tensor, ...]:
        """(E(x) / kT, x)."""
        return self.energy.energy(x) / self.kT, x

    @staticmethod
    def free_energy_change(terms: tuple[Tensor, ...], beta_from: float, beta_to: float) -> Tensor:
        return (beta_to - beta_from) * terms[0]

    def step(self, x: Tensor, beta: float, generator: torch.Generator | None) -> Tensor:
        b = beta / self.kT
        if isinstance(self._stepper, BlockGibbs):
            return self._stepper.sweep(x, b, generator)
        return self._stepper.advance(x, b, generator)


@dataclass(frozen=True)
class PartitionEstimate:
    """``log_z``: log of the mean importance weight times Z_0 (reverse: its reciprocal);
    ``log_weights`` per run (float64); ``log_z_std``: the delta-method standard error of
    ``log_z`` (std(w) / mean(w) / √runs); ``ess``: (Σw)² / Σw²; ``direction``: "forward"
    (stochastic lower bound on log Z) or "reverse" (upper bound)."""

    log_z: float
    log_z_std: float
    ess: float
    log_weights: Tensor
    direction: str


def annealing_schedule(steps: int, kind: str = "sigmoid", *, sharpness: float = 4.0) -> Tensor:
    """β_0 = 0 < … < β_steps = 1 (float64):

    * ``"linear"``;
    * ``"sigmoid"`` (Grosse et al. 2015): σ(δ(2k/K − 1)) rescaled to [0, 1], dense at both ends;
    * ``"rbm"`` (Salakhutdinov & Murray 2008): uniform pieces holding 500/14500 of the steps on
      [0, 0.5], 4000/14500 on [0.5, 0.9] and 10000/14500 on [0.9, 1] — dense near β = 1, where
      an RBM's intermediate laws change fastest.

    Raises:
        ValueError: fewer than 1 step (3 for ``"rbm"``), or an unknown ``kind``.
    """
    check_int("steps", steps, minimum=1)
    grid = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    if kind == "linear":
        return grid
    if kind == "sigmoid":
        s = torch.sigmoid(sharpness * (2.0 * grid - 1.0))
        return (s - s[0]) / (s[-1] - s[0])
    if kind == "rbm":
        check_int("steps", steps, minimum=3)
        first = max(1, round(steps * 500 / 14500))
        second = max(1, round(steps * 4000 / 14500))
        third = steps - first - second
        pieces = [
            torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[:-1],
            torch.linspace(0.9, 1.0, third + 1, dtype=torch.float64),
        ]
        return torch.cat(pieces)
    raise ValueError(f"kind: expected 'linear', 'sigmoid' or 'rbm', got {kind!r}")


def _check_betas(betas: Tensor) -> list[float]:
    if betas.dim() != 1 or len(betas) < 2:
        raise ValueError(
            f"betas: expected a 1-D schedule of at least 2 values, got {tuple(betas.shape)}"
        )
    b = betas.double()
    if float(b[0]) != 0.0 or float(b[-1]) != 1.0 or not bool((b[1:] > b[:-1]).all()):
        raise ValueError("betas: expected a strictly increasing schedule from 0 to 1")
    return b.tolist()


def _estimate(log_z0: float, log_w: Tensor, direction: str) -> PartitionEstimate:
    n = len(log_w)
    log_mean = float(torch.logsumexp(log_w, 0)) - math.log(n)
    w = torch.exp(log_w - log_w.max())
    ess = float(w.sum() ** 2 / w.square().sum())
    rel = float(w.std(unbiased=True) / w.mean()) / math.sqrt(n) if n > 1 else math.inf
    log_z = log_z0 + log_mean if direction == "forward" else log_z0 - log_mean
    return PartitionEstimate(log_z, rel, ess, log_w, direction)


@torch.no_grad()
def ais(
    path: AnnealingPath,
    betas: Tensor,
    *,
    chains: int = 100,
    generator: torch.Generator | None = None,
) -> tuple[PartitionEstimate, Tensor]:
    """Forward AIS along ``path`` over the schedule ``betas`` with ``chains`` independent runs:
    the estimate and the runs' final states (approximate samples of the target).

    Raises:
        ValueError: a schedule that is not 0 = β_0 < … < β_K = 1, or ``chains`` < 1.
    """
    check_int("chains", chains, minimum=1)
    bs = _check_betas(betas)
    v = path.base_sample(chains, generator)
    log_w = torch.zeros(chains, dtype=torch.float64, device=v.device)
    for k in range(1, len(bs)):
        terms = path.terms(v)
        log_w -= path.free_energy_change(terms, bs[k - 1], bs[k]).double()
        v = path.step(terms[-1], bs[k], generator)
    return _estimate(float(path.base_log_partition()), log_w, "forward"), v


@torch.no_grad()
def reverse_ais(
    path: AnnealingPath,
    betas: Tensor,
    samples: Tensor,
    *,
    generator: torch.Generator | None = None,
) -> PartitionEstimate:
    """Reverse AIS from ``samples`` of the target ``(runs, n)`` back to the base: a stochastic
    upper bound on log Z when the samples are exact (see the module).

    Raises:
        ValueError: a schedule that is not 0 = β_0 < … < β_K = 1.
    """
    bs = _check_betas(betas)
    v = samples
    log_w = torch.zeros(len(v), dtype=torch.float64, device=v.device)
    for k in range(len(bs) - 1, 0, -1):
        terms = path.terms(v)
        log_w -= path.free_energy_change(terms, bs[k], bs[k - 1]).double()
        v = path.step(terms[-1], bs[k - 1], generator)
    return _estimate(float(path.base_log_partition()), log_w, "reverse")


@dataclass(frozen=True)
class LikelihoodBracket:
    """The mean log-likelihood of data under a model, bracketed: ``lower`` uses the reverse
    AIS log Z (an upper bound on log Z), ``upper`` the forward one; ``mean_negative_energy``
    is the data's mean −F(v). Nats per example."""

    lower: float
    upper: float
    mean_negative_energy: float
    forward: PartitionEstimate
    reverse: PartitionEstimate

    @property
    def estimate(self) -> float:
        """The forward estimate (the one the literature reports)."""
        return self.upper

    def summary(self) -> dict[str, float | bool]:
        """``lower``, ``upper``, ``estimate`` and ``consistent`` (what reports record)."""
        return {
            "lower": self.lower,
            "upper": self.upper,
            "estimate": self.estimate,
            "consistent": self.consistent,
        }

    @property
    def consistent(self) -> bool:
        """Whether the bounds are ordered up to three combined standard errors; an inverted
        bracket means AIS has not converged (too few steps, or reverse runs that did not start
        from the model's law)."""
        noise = 3.0 * (self.forward.log_z_std + self.reverse.log_z_std)
        return self.lower <= self.upper + noise


def likelihood_bracket(
    negative_energy: Tensor,
    forward: PartitionEstimate,
    reverse: PartitionEstimate,
) -> LikelihoodBracket:
    """Bracket the mean of ``negative_energy`` = −F(v) over data minus log Z between the
    reverse (lower) and forward (upper) estimates of log Z."""
    if forward.direction != "forward" or reverse.direction != "reverse":
        raise ValueError(
            f"forward, reverse: expected a forward and a reverse estimate, got "
            f"{forward.direction!r} and {reverse.direction!r}"
        )
    mean = float(negative_energy.double().mean())
    return LikelihoodBracket(mean - reverse.log_z, mean - forward.log_z, mean, forward, reverse)
