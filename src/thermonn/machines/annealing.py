r"""Simulated annealing of spin models and QUBOs, batched over independent reads.

:func:`simulated_annealing` runs ``reads`` independent chains of a spin stepper (Metropolis by
default) through a cooling schedule — any callable t ↦ kT of :mod:`thermonn.schedules`, or an
:class:`~thermonn.schedules.AdaptiveCooling` that sets each read's temperature from its
acceptance rate — and returns an :class:`AnnealResult` (final states and energies, the energy
trace, wall-clock) from which success probability and time-to-solution follow
(:mod:`thermonn.estimators.success`). A QUBO min xᵀQx over x ∈ {0, 1}ⁿ becomes an Ising model
through x = (1 + s)/2 (:func:`qubo_to_ising`);  :func:`temperature_range` picks a hot and a cold
kT from the couplings; :func:`random_spin_glass` draws the sparse ±J benchmark instances.
Continuous objectives anneal by overdamped Langevin dynamics on the shared engine
(:func:`langevin_annealing`): the same schedules, a differentiable energy instead of spins.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int
from thermonn.dynamics.energy import Energy
from thermonn.dynamics.integrate import integrate
from thermonn.dynamics.langevin import EulerMaruyama, Langevin
from thermonn.dynamics.spins import BlockGibbs, Metropolis, SpinEnergy, SpinSweep, check_spins
from thermonn.machines.ising import IsingModel
from thermonn.machines.lattice import PeriodicLattice
from thermonn.schedules.cooling import AdaptiveCooling

__all__ = [
    "SWEEPS",
    "AnnealResult",
    "LangevinAnnealResult",
    "langevin_annealing",
    "lattice_spin_glass",
    "qubo_to_ising",
    "random_spin_glass",
    "simulated_annealing",
    "temperature_range",
]

SWEEPS: dict[str, type[SpinSweep]] = {"metropolis": Metropolis, "gibbs": BlockGibbs}
Schedule = Callable[[float], float]


@dataclass(frozen=True)
class _Reads:
    """Independent reads' final ``states`` ``(reads, n)`` and ``energies`` ``(reads,)``."""

    states: Tensor
    energies: Tensor

    @property
    def best_energy(self) -> float:
        return float(self.energies.min())

    @property
    def best_state(self) -> Tensor:
        return self.states[int(self.energies.argmin())]


@dataclass(frozen=True)
class AnnealResult(_Reads):
    """``states`` ``(reads, n)`` and ``energies`` ``(reads,)`` (float64) at the end;
    ``times`` (sweeps recorded) with ``trace`` ``(records, reads)`` energies and ``kT``
    ``(records, reads)`` temperatures at those sweeps; ``acceptance`` ``(records, reads)``
    the fraction of spins that changed in the recorded sweep; ``seconds`` the wall-clock of
    the sweep loop, recording included (``seconds / reads`` per read when they run batched)."""

    times: Tensor
    trace: Tensor
    kT: Tensor
    acceptance: Tensor
    seconds: float


def simulated_annealing(
    model: SpinEnergy,
    schedule: Schedule | AdaptiveCooling,
    *,
    sweeps: int,
    reads: int,
    sweep: str = "metropolis",
    initial: Tensor | None = None,
    record_every: int | None = None,
    generator: torch.Generator | None = None,
    progress: Callable[[int], object] | None = None,
) -> AnnealResult:
    """Anneal ``reads`` independent chains of ``model`` for ``sweeps`` sweeps.

    Args:
        schedule: t ↦ kT (t = 0 … sweeps − 1), or an :class:`AdaptiveCooling`.
        sweep: ``"metropolis"`` or ``"gibbs"`` (heat bath), colour-parallel.
        initial: starting spins ``(reads, n)``; default uniform random from ``generator``.
        record_every: record energies every that many sweeps (default: about 100 records).
        progress: called with the number of sweeps done after each sweep (a progress bar).

    Raises:
        ValueError: non-positive ``sweeps``/``reads``, an unknown ``sweep``, or ``initial`` of
            the wrong shape or values.
    """
    check_int("sweeps", sweeps, minimum=1)
    check_int("reads", reads, minimum=1)
    if sweep not in SWEEPS:
        raise ValueError(f"sweep: expected one of {sorted(SWEEPS)}, got {sweep!r}")
    stride = (
        check_int("record_every", record_every, minimum=1)
        if record_every
        else max(1, sweeps // 100)
    )
    n, field = model.field.shape[-1], model.field
    if initial is None:
        bits = torch.randint(0, 2, (reads, n), generator=generator, device=field.device)
        initial = (2 * bits - 1).to(field.dtype)
    check_spins(initial, n)
    if len(initial) != reads:
        raise ValueError(f"initial: expected {reads} reads, got {len(initial)}")
    adaptive: AdaptiveCooling | None = None
    kT0: float | Schedule = 1.0
    if isinstance(schedule, AdaptiveCooling):
        adaptive, kT0 = schedule, schedule.start
    else:
        kT0 = schedule
    stepper = SWEEPS[sweep](model, kT0)
    kT = torch.full((reads,), 1.0 if adaptive is None else adaptive.start, dtype=torch.float64)
    kT = kT.to(field.device)
    s = stepper.init(initial)
    times, trace, temps, accepted = [], [], [], []
    start = time.perf_counter()
    for t in range(sweeps):
        if adaptive is not None:
            beta: float | Tensor = (1.0 / kT).to(field)[:, None]
        else:
            beta = stepper.beta(float(t))  # validates the schedule's kT
            kT.fill_(1.0 / beta)
        new = stepper.advance(s, beta, generator)
        record = (t + 1) % stride == 0 or t + 1 == sweeps
        if adaptive is not None or record:
            rate = stepper.changed(s, new)
        if record:
            times.append(t + 1)
            trace.append(model.energy(stepper.value(new)).double())
            temps.append(kT.clone())
            accepted.append(rate)
        if adaptive is not None:
            kT = adaptive.update(kT, float(t), rate)
        s = new
        if progress is not None:
            progress(t + 1)
    seconds = time.perf_counter() - start
    final = stepper.value(s)
    return AnnealResult(
        final,
        model.energy(final).double(),
        torch.tensor(times),
        torch.stack(trace),
        torch.stack(temps),
        torch.stack(accepted),
        seconds,
    )


@dataclass(frozen=True)
class LangevinAnnealResult(_Reads):
    """``states`` ``(reads, n)`` and ``energies`` ``(reads,)`` at the end of the anneal; the
    ``trajectory`` recorded at ``times``."""

    times: Tensor
    trajectory: Tensor


def langevin_annealing(
    energy: Energy,
    x0: Tensor,
    schedule: Schedule,
    *,
    steps: int,
    dt: float,
    record_every: int | None = None,
    generator: torch.Generator | None = None,
) -> LangevinAnnealResult:
    """Anneal the continuous ``energy`` from ``x0`` ``(reads, n)`` by overdamped Langevin
    dynamics dx = −∇E dt + √(2 kT(t)) dW with ``schedule`` t ↦ kT (t in time units, so a
    schedule over ``steps · dt``), Euler–Maruyama steps of ``dt`` on the shared engine.

    Raises:
        ValueError: from :class:`~thermonn.dynamics.Langevin` and
            :func:`~thermonn.dynamics.integrate` (non-positive ``dt``, negative ``steps``,
            non-finite ``x0``).
    """
    stepper = EulerMaruyama(energy, Langevin(dt, kT=schedule))
    with torch.no_grad():
        path = integrate(stepper, x0, steps=steps, save_every=record_every, generator=generator)
        final = path.final
        return LangevinAnnealResult(final, energy.energy(final).double(), path.times, path.states)


def temperature_range(model: IsingModel, *, excitation: float = 0.01) -> tuple[float, float]:
    """A hot and a cold kT for annealing ``model``. Hot: the largest single flip,
    ΔE = 2 max_i(Σ_j |J_ij| + |h_i|), is accepted half the time. Cold: the expected number of
    spins excited by the smallest non-zero flip (ΔE = 2 min |J_ij| or |h_i|) at the end,
    n e^{−ΔE/kT}, is ``excitation`` — the final temperature falls like 1/ln n, as it must for
    the ground state to keep a non-vanishing probability as n grows.

    Raises:
        ValueError: ``excitation`` outside (0, 1), or a model with no coupling or field.
    """
    check_float("excitation", excitation, above=0.0)
    if excitation >= 1.0:
        raise ValueError(f"excitation: expected a probability below 1, got {excitation}")
    i_idx, j_idx, j = model.edges()
    strength = model.field.abs().double().clone()
    strength.index_add_(0, i_idx, j.abs().double())
    strength.index_add_(0, j_idx, j.abs().double())
    values = torch.cat([j.abs().double(), model.field.abs().double()])
    values = values[values > 0]
    if len(values) == 0:
        raise ValueError("model: expected at least one non-zero coupling or field")
    hot = 2.0 * float(strength.max()) / math.log(2.0)
    cold = 2.0 * float(values.min()) / math.log(model.n / excitation)
    return hot, min(cold, hot)


def qubo_to_ising(q: Tensor) -> tuple[IsingModel, float]:
    r"""The Ising model and offset with xᵀQx = E(s) + offset for x = (1 + s)/2.

    With Q̄ = (Q + Qᵀ)/2: J_ij = −Q̄_ij/2 (i ≠ j), h_i = −(Q_ii + Σ_{j≠i} Q̄_ij)/2,
    offset = (Σ_i Q_ii + Σ_{i≠j} Q̄_ij/2)/2.

    Raises:
        ValueError: a non-square or non-finite ``q``.
    """
    if q.dim() != 2 or q.shape[0] != q.shape[1]:
        raise ValueError(f"q: expected a square matrix, got {tuple(q.shape)}")
    dense = q.to_dense() if q.is_sparse else q
    if not bool(torch.isfinite(dense).all()):
        raise ValueError("q: expected finite values, got NaN or inf")
    sym = 0.5 * (dense + dense.T)
    diag = sym.diagonal().clone()
    off = sym - torch.diag(diag)
    j = -0.5 * off
    h = -0.5 * (diag + off.sum(1))
    offset = 0.5 * float(diag.sum() + 0.5 * off.sum())
    return IsingModel.graph(j.to_sparse() if q.is_sparse else j, field=h), offset


def random_spin_glass(
    n: int,
    *,
    degree: int = 3,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> IsingModel:
    """A ±J spin glass on a uniformly random ``degree``-regular graph of ``n`` spins (the
    configuration model, redrawn until simple), couplings ±1 with equal odds, zero field, as a
    sparse :class:`IsingModel` (practical for degree ≤ 5: a draw is simple with probability
    ≈ exp(−(degree² − 1)/4)).

    Raises:
        ValueError: ``n · degree`` odd, or ``degree`` ≥ ``n``.
    """
    check_int("n", n, minimum=2)
    check_int("degree", degree, minimum=1)
    if degree >= n or (n * degree) % 2:
        raise ValueError(
            f"degree: expected degree < n and n·degree even, got n={n}, degree={degree}"
        )
    for _ in range(10_000):
        stubs = torch.arange(n).repeat_interleave(degree)
        pairs = stubs[torch.randperm(len(stubs), generator=generator)].view(-1, 2)
        a, b = pairs.min(1).values, pairs.max(1).values
        if bool((a == b).any()) or len(torch.unique(a * n + b)) < len(a):
            continue
        sign = 2.0 * torch.randint(0, 2, (len(a),), generator=generator) - 1.0
        idx = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
        values = torch.cat([sign, sign]).to(dtype)
        j = torch.sparse_coo_tensor(idx, values, (n, n), check_invariants=True).coalesce()
        return IsingModel.graph(j)
    raise RuntimeError(f"no simple {degree}-regular graph on {n} vertices in 10000 draws")


def lattice_spin_glass(
    shape: tuple[int, ...],
    *,
    dtype: torch.dtype = torch.float32,
    generator: torch.Generator | None = None,
) -> IsingModel:
    """A ±J spin glass (couplings ±1 with equal odds, zero field) on the nearest-neighbour
    bonds of a periodic lattice of sides ``shape`` (each ≥ 3, so no bond repeats), as a sparse
    :class:`IsingModel`.

    Raises:
        ValueError: a side below 3.
    """
    if (
        not isinstance(shape, tuple)
        or not shape
        or any(check_int("shape", s, minimum=3) < 3 for s in shape)
    ):
        raise ValueError(f"shape: expected a tuple of sides >= 3, got {shape!r}")
    lattice = PeriodicLattice(shape)
    a, b = lattice.edges()
    sign = (2.0 * torch.randint(0, 2, (len(a),), generator=generator) - 1.0).to(dtype)
    idx = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
    j = torch.sparse_coo_tensor(
        idx, torch.cat([sign, sign]), (lattice.n, lattice.n), check_invariants=True
    )
    return IsingModel.graph(j.coalesce())
