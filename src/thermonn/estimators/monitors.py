r"""Monitors: time series read off recorded ensembles — free energy, temperatures, order.

* :func:`free_energy_trace` — the nonequilibrium free energy of an ensemble relaxing in a fixed
  potential, F(t) = ⟨V(x_t)⟩ − kT S(t), which never increases (dF/dt = −kT × the entropy
  production rate) and ends at F_eq = −kT ln Z;
* :func:`jarzynski_trace` — ΔF(t) = −kT ln⟨e^{−W(t)/kT}⟩ along a driven protocol, W(t) the
  work done so far: the free-energy difference of the potential at t with the start;
* :func:`virial_temperature` — T_i(t) = ⟨x_i ∂V/∂x_i⟩_t per degree of freedom (kT in
  equilibrium, :func:`~thermonn.estimators.check_equipartition`), and
  :func:`temperature_equilibration` — max_i |T_i(t) − T_ref(t)| of any temperatures (a
  :class:`~thermonn.dynamics.HeatFlow` trajectory, virial temperatures), with the time after
  which it stays within a tolerance and its fitted e-folding time;
* :func:`order_parameter_trace` — an order parameter per chain over time (magnetisation,
  |magnetisation|, Kuramoto's r via :func:`~thermonn.estimators.kuramoto_order`, or any
  function), its mean and standard error over chains.

Ensembles are ``(records, chains, n)`` at ``times`` ``(records,)``, as
:func:`~thermonn.dynamics.integrate` records them with ``save_every``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.energy import Energy
from thermonn.estimators.consistency import _check_path, cumulative_work, jarzynski_estimate
from thermonn.estimators.fluctuation import gaussian_log_density
from thermonn.estimators.observables import kuramoto_order

__all__ = [
    "ORDER_PARAMETERS",
    "Equilibration",
    "FreeEnergyTrace",
    "OrderTrace",
    "free_energy_trace",
    "jarzynski_trace",
    "order_parameter_trace",
    "temperature_equilibration",
    "virial_temperature",
]


@dataclass(frozen=True)
class FreeEnergyTrace:
    """``free_energy`` ``(records,)`` at ``times`` with its standard ``error``; ``method``
    says which free energy (see the functions)."""

    times: Tensor
    free_energy: Tensor
    error: Tensor
    method: str


def free_energy_trace(
    trajectory: Tensor, times: Tensor, energy: Energy, kT: float
) -> FreeEnergyTrace:
    r"""F(t) = ⟨V(x_t)⟩ − kT S_G(t) of an ensemble ``(records, chains, n)`` relaxing in the
    time-independent ``energy`` at ``kT``, with S_G = ½ ln det(2πe Σ̂_t) the Gaussian entropy
    of the ensemble's covariance (:func:`~thermonn.estimators.gaussian_log_density`). Exact
    (up to sampling) for linear dynamics from a Gaussian start; otherwise S_G ≥ S, so F_G is a
    lower bound on F. The error combines std(V)/√N and the entropy's kT √(n / 2N).

    Raises:
        ValueError: shapes that disagree, fewer chains than n + 1, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    _check_path(trajectory, times)
    chains, n = trajectory.shape[1:]
    mean_energy, spread, entropy = [], [], []
    for x in trajectory:
        v = energy.energy(x).detach().double()
        mean_energy.append(float(v.mean()))
        spread.append(float(v.std()) / math.sqrt(chains))
        entropy.append(-float(gaussian_log_density(x).mean()))
    f = torch.tensor(mean_energy, dtype=torch.float64) - kT * torch.tensor(entropy)
    error = torch.tensor(spread, dtype=torch.float64).hypot(
        torch.tensor(kT * math.sqrt(n / (2.0 * chains)), dtype=torch.float64)
    )
    return FreeEnergyTrace(times.double(), f, error, "<V> - kT S_gauss")


def jarzynski_trace(
    trajectory: Tensor, times: Tensor, energy_at: Callable[[float], Energy], kT: float
) -> FreeEnergyTrace:
    """ΔF(t_j) = −kT ln⟨e^{−W(t_j)/kT}⟩ at every record of trajectories ``(records, chains,
    n)`` driven by ``energy_at(t)`` from its equilibrium at t₀, W(t_j) the work done so far
    (:func:`~thermonn.estimators.cumulative_work`): F(t_j) − F(t₀) of the potential at t_j
    (Jarzynski 1997), with the estimate's standard error.

    Raises:
        ValueError: shapes that disagree, fewer than two chains, a non-positive kT.
    """
    kT = check_float("kT", kT, above=0.0)
    work = cumulative_work(trajectory, times, energy_at)
    estimates = [jarzynski_estimate(w, kT) for w in work]
    return FreeEnergyTrace(
        times.double(),
        torch.tensor([e.delta_f for e in estimates], dtype=torch.float64),
        torch.tensor([e.error for e in estimates], dtype=torch.float64),
        "Jarzynski",
    )


def virial_temperature(trajectory: Tensor, energy: Energy) -> Tensor:
    """T_i(t) = ⟨x_i ∂V/∂x_i⟩ over the chains of ``trajectory`` ``(records, chains, n)`` in
    ``energy``: shape ``(records, n)``, float64; kT for every i in equilibrium.

    Raises:
        ValueError: a trajectory that is not 3-D.
    """
    if trajectory.dim() != 3:
        raise ValueError(
            f"trajectory: expected shape (records, chains, n), got {tuple(trajectory.shape)}"
        )
    x = trajectory.detach()
    return (x * -energy.force(x)).detach().double().mean(1)


@dataclass(frozen=True)
class Equilibration:
    """``deviation`` max_i |T_i − T_ref| ``(records,)`` at ``times``, ``reference`` T_ref
    (``(records,)``, its largest-deviation batch entry's where there are several);
    ``equilibrated_at`` the first recorded time from which the deviation stays ≤
    ``tolerance`` (None: never); ``relaxation_time`` τ of the fit deviation ∝ e^{−t/τ} over
    the records above the tolerance (None: fewer than two, or not decaying)."""

    times: Tensor
    deviation: Tensor
    reference: Tensor
    equilibrated_at: float | None
    relaxation_time: float | None
    tolerance: float


def temperature_equilibration(
    temperatures: Tensor,
    times: Tensor,
    *,
    tolerance: float,
    target: float | None = None,
    capacity: Tensor | None = None,
) -> Equilibration:
    r"""How temperatures ``(records, ..., n)`` at ``times`` equilibrate: the deviation
    max_i |T_i(t) − T_ref(t)| over units (and batch entries), against the bath ``target`` if
    given, else the capacity-weighted mean Σ C_i T_i / Σ C_i (``capacity`` ``(n,)``, default
    ones) — conserved by heat flow without reservoirs, so two bodies C₁, C₂ joined by a
    conductance κ relax as e^{−t/τ}, 1/τ = Dκ(1/C₁ + 1/C₂).

    Raises:
        ValueError: shapes that disagree, a non-positive tolerance or capacity.
    """
    tolerance = check_float("tolerance", tolerance, above=0.0)
    if temperatures.dim() < 2 or times.dim() != 1 or len(temperatures) != len(times):
        raise ValueError(
            f"temperatures, times: expected (records, ..., n) and (records,), got "
            f"{tuple(temperatures.shape)} and {tuple(times.shape)}"
        )
    temp = temperatures.detach().double()
    n = temp.shape[-1]
    if target is not None:
        reference = torch.full(temp.shape[:-1], check_float("target", target), dtype=temp.dtype)
    else:
        c = torch.ones(n, dtype=temp.dtype) if capacity is None else capacity.double()
        if c.shape != (n,) or not bool((c > 0).all()):
            raise ValueError(f"capacity: expected {n} positive heat capacities")
        reference = (temp * c).sum(-1) / c.sum()
    gap = (temp - reference[..., None]).abs().amax(-1).reshape(len(temp), -1)  # (records, batch)
    deviation, worst = gap.max(1)
    ref = reference.reshape(len(temp), -1).gather(1, worst[:, None])[:, 0]
    t = times.double()
    above = (deviation > tolerance).nonzero()
    if len(above) == 0:
        settled: float | None = float(t[0])
    elif int(above[-1]) + 1 < len(t):
        settled = float(t[int(above[-1]) + 1])
    else:
        settled = None
    tau = None
    mask = (deviation > tolerance) & (deviation > 0)
    if int(mask.sum()) >= 2:
        ts, logs = t[mask], deviation[mask].log()
        slope = float(
            ((ts - ts.mean()) * (logs - logs.mean())).sum() / (ts - ts.mean()).square().sum()
        )
        tau = -1.0 / slope if slope < 0 else None
    return Equilibration(t, deviation, ref, settled, tau, tolerance)


ORDER_PARAMETERS: dict[str, Callable[[Tensor], Tensor]] = {
    "magnetisation": lambda s: s.mean(-1),
    "abs_magnetisation": lambda s: s.mean(-1).abs(),
    "kuramoto": kuramoto_order,
}
"""Order parameters by name, each a map ``(..., n) -> (...)``: the magnetisation per spin
m = Σ s_i / n, its modulus |m| (the order of a symmetric ferromagnet), and Kuramoto's
r = |Σ_j e^{iθ_j}| / n of phases."""


@dataclass(frozen=True)
class OrderTrace:
    """The order parameter ``name``: its ``mean`` over chains and the standard ``error`` of
    that mean (``nan`` for one chain), ``(records,)`` at ``times``."""

    times: Tensor
    mean: Tensor
    error: Tensor
    name: str


def order_parameter_trace(
    trajectory: Tensor,
    times: Tensor,
    order: str | Callable[[Tensor], Tensor] = "magnetisation",
) -> OrderTrace:
    """An order parameter of each chain of ``trajectory`` ``(records, chains, n)`` over time:
    ``order`` a name from :data:`ORDER_PARAMETERS` or a function ``(..., n) -> (...)``.

    Raises:
        ValueError: an unknown name (the message lists the known ones), shapes that disagree.
        TypeError: an ``order`` that is neither a name nor callable.
    """
    if isinstance(order, str):
        if order not in ORDER_PARAMETERS:
            raise ValueError(f"order: expected one of {sorted(ORDER_PARAMETERS)}, got {order!r}")
        name, fn = order, ORDER_PARAMETERS[order]
    elif callable(order):
        name, fn = getattr(order, "__name__", "custom"), order
    else:
        raise TypeError(f"order: expected a name or a function, got {type(order).__name__}")
    _check_path(trajectory, times)
    values = fn(trajectory.detach()).double()  # (records, chains)
    chains = values.shape[1]
    error = (
        values.std(1) / math.sqrt(chains) if chains > 1 else torch.full_like(values[:, 0], math.nan)
    )
    return OrderTrace(times.double(), values.mean(1), error, name)
