r"""Section B: the checks on a trained thermodynamic computer (a ``thermonn computer train``
run folder, loaded by :func:`~thermonn.experiments.thermocomputer.run.load_run`).

* Its own classification run (x(0) = 0 → t_f, inputs clamped, W = 0): the first law with the
  heat by Simpson's rule (exact for the quartic V) and by the midpoint rule (O(Δt)), and the
  path-ratio entropy ln P[ω]/P[ω̃] of ``energetics.path_energetics`` against Q_bath/kT, which
  for Euler–Maruyama paths differ by the boundary term μΔt(|F(x_K)|² − |F(x_0)|²)/4kT.
* Its equilibrium at test input #1 (1000 chains from x(0) = 0): equipartition (centred and
  plain virial), against the one-unit Euler–Maruyama law kT/(1 − μk_iΔt/2) at each unit's
  curvature k_i = 2J₂ + 12J₄⟨x_i²⟩, and fluctuation–dissipation under a random unit force.
* A switch of its input fields h(λ) = h_a + λΔh in 20 steps (Jarzynski, Crooks, BAR against
  thermodynamic integration ∫₀¹⟨Δh·x⟩_λ dλ), and the second law over the cycle a → b → a,
  from input #1 (one basin) and from input #0 (chains split between basins).

Each at the machine's own Δt and (unless quick) at Δt/2 and Δt/4.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from thermonn.dynamics import Energy
from thermonn.estimators import (
    ConsistencyCheck,
    check_equipartition,
    check_first_law,
    check_fluctuation_dissipation,
    stochastic_heat,
)
from thermonn.experiments.consistency.results import CheckRow, check_row
from thermonn.experiments.consistency.switch import field_switch
from thermonn.experiments.consistency.systems import (
    F64,
    fdt_numbers,
    fdt_pair,
    simulate,
    stream,
)
from thermonn.machines.thermocomputer import ThermoComputer, path_energetics

__all__ = ["AuditedMachine", "load_machine", "machine_checks", "machine_studies"]

Tick = Callable[[], object]

# (dtype, Δt divisor) of the classification runs: as deployed (float32) and the float64
# reference at the machine's Δt — quick stops there — then at Δt/2 and Δt/4
CLASSIFY = ((torch.float32, 1), (F64, 1), (F64, 2), (F64, 4))
EQUILIBRIUM = (1, 2, 4)  # Δt divisors of the equilibrium (equipartition) runs
FDT = (1, 4)  # … and of the fluctuation–dissipation runs
INPUTS = 8  # test inputs of the classification run (the switches use #0, #1 and #3)


@dataclass(frozen=True)
class AuditedMachine:
    """A trained machine (float32, as saved), the name of its data set and its test inputs."""

    folder: Path
    dataset: str
    machine: ThermoComputer
    x_test: Tensor

    def at(self, dt: float, dtype: torch.dtype = F64) -> ThermoComputer:
        """The machine with its parameters at time step ``dt`` in ``dtype``."""
        out = ThermoComputer(replace(self.machine.config, dt=dt))
        out.load_state_dict(self.machine.state_dict())
        return out.to(dtype)

    @property
    def dt(self) -> float:
        """The time step it was trained and is deployed at."""
        return self.machine.config.dt


def load_machine(folder: str | Path) -> AuditedMachine:
    """The machine of a ``thermonn computer train`` run folder and its data set's test inputs.

    Raises:
        ValueError: naming ``machine`` — the folder is not a trained run, its files or data
            set cannot be read, or it has fewer than 8 test inputs.
    """
    from thermonn.experiments.thermocomputer.run import load_run

    try:
        run = load_run(folder)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"machine: {folder} is not a readable trained run folder ({err})"
        ) from None
    if len(run.data.x_test) < INPUTS:
        raise ValueError(
            f"machine: expected a run with at least {INPUTS} test inputs, got "
            f"{len(run.data.x_test)} in {folder} (limit_test)"
        )
    return AuditedMachine(Path(folder), run.config.dataset, run.machine, run.data.x_test)


def _steps(base: float, quick: bool, refine: tuple[int, ...]) -> tuple[float, ...]:
    return (base,) if quick else tuple(base / k for k in refine)


def machine_studies(quick: bool) -> int:
    """How many times :func:`machine_checks` ticks: once per classification run, once for the
    basins, once per equilibrium and FDT run, once per field switch (two)."""
    runs = CLASSIFY[:2] if quick else CLASSIFY
    return len(runs) + 1 + len(_steps(1.0, quick, EQUILIBRIUM)) + len(_steps(1.0, quick, FDT)) + 2


def machine_checks(
    audited: AuditedMachine, *, quick: bool, seed: int, tick: Tick
) -> tuple[list[CheckRow], dict[str, Any]]:
    """Section B; returns its rows and what else was measured (basins, the switches)."""
    rows: list[CheckRow] = []
    rows += _classification(audited, quick, seed, tick)
    machine = audited.at(audited.dt)
    basins = {i: _basins(machine, audited.x_test[i : i + 1].double(), seed) for i in (0, 1)}
    tick()
    equilibrium_rows, samples = _equilibrium(audited, 1, quick, seed, tick)
    rows += equilibrium_rows
    info: dict[str, Any] = {
        "machine": str(audited.folder),
        "inputs": f"{audited.dataset} test images",
        "dt": audited.dt,
        "basins_from_x0": {str(i): sizes for i, sizes in basins.items()},
    }
    switches = []
    switch_rows, switch = field_switch(audited, 1, 3, samples, basins[1], seed)
    rows += switch_rows
    switches.append(switch)
    tick()
    # input #0 from x(0) = 0, equilibrated at the machine's Δt
    with torch.no_grad():
        energy = machine.energy(machine.fields(audited.x_test[:1].double()))
        x0 = torch.zeros(1000, machine.config.n_mobile, dtype=F64)
        chains = simulate(
            energy, x0, audited.dt, round(1.5 / audited.dt), generator=stream(seed, 11)
        )
    switch_rows, switch = field_switch(audited, 0, 1, chains.final, basins[0], seed)
    rows += switch_rows
    switches.append(switch)
    tick()
    info["switches"] = switches
    return rows, info


def _classification(audited: AuditedMachine, quick: bool, seed: int, tick: Tick) -> list[CheckRow]:
    """The machine's own inference run on 8 test inputs × 50 trajectories (W = 0)."""
    rows = []
    u = audited.x_test[:INPUTS]
    for dtype, k in CLASSIFY[:2] if quick else CLASSIFY:
        dt = audited.dt / k
        start = time.perf_counter()
        machine = audited.at(dt, dtype)
        kT = machine.config.kT
        with torch.no_grad():
            out = machine.run(
                u.to(dtype), trajectories=50, save_every=1, generator=stream(seed, 10)
            )
            path = out.states.flatten(1, 2)  # (steps + 1, trajectories · batch, n)
            energy = machine.energy(machine.fields(u.to(dtype)).repeat(50, 1))

            def books(t: float, e: Energy = energy) -> Energy:
                return e

            laws = [
                check_first_law(path, out.times, books, rule=r) for r in ("simpson", "midpoint")
            ]
            bath = -stochastic_heat(path, out.times, books) / kT
            ratio = path_energetics(machine, u.to(dtype), out.states)["entropy_production"]
            gap = ratio.flatten().double() - bath
            f0 = energy.force(path[0]).double().square().sum(-1)
            fk = energy.force(path[-1]).double().square().sum(-1)
            boundary = float(((fk - f0) * machine.config.mobility * dt / 4).mean()) / kT
        elapsed = (time.perf_counter() - start) / 3
        label = f"{audited.dataset} machine, classification run ({str(dtype)[6:]})"
        rows.append(check_row("B", label, dt, laws[0], elapsed,
                              note="Q by Simpson's rule along each step (exact for the quartic V)"))  # fmt: skip
        rows.append(check_row("B", label, dt, replace(laws[1], name="first law (midpoint rule)"), elapsed,
                              note="Q by the midpoint (Stratonovich) sum: its quadrature error is O(Δt)",
                              extra={"residual": laws[1].measured}))  # fmt: skip
        err = float(gap.std()) / math.sqrt(len(gap))
        entropy = ConsistencyCheck(
            "path-ratio entropy = Q_bath/kT", float(gap.mean()), 0.0, err, 4 * err,
            abs(float(gap.mean())) <= 4 * err,
            f"⟨ln P[ω]/P[ω̃]⟩ (energetics.path_energetics) − ⟨Q_bath⟩/kT over {len(gap)} paths; "
            f"⟨Q_bath⟩/kT = {float(bath.mean()):.6g}; the Euler–Maruyama boundary term "
            f"μΔt⟨|F(x_K)|² − |F(x_0)|²⟩/(4kT) = {boundary:.5g}.",
        )  # fmt: skip
        rows.append(check_row("B", label, dt, entropy, elapsed,
                              note="for EM paths ln P/P̃ = trapezoid heat/kT + μΔt(|F_K|² − |F_0|²)/4kT",
                              extra={"gap": entropy.measured, "boundary": boundary,
                                     "bath": float(bath.mean()), "force0": float(f0.mean())}))  # fmt: skip
        tick()
    return rows


def _basins(machine: ThermoComputer, u: Tensor, seed: int, chains: int = 300) -> list[int]:
    """Chains from x(0) = 0 grouped by the sign pattern of their mean state over t ∈ [1, 2]:
    the sizes of the groups (one group: one basin reached; several: broken ergodicity)."""
    dt = machine.config.dt
    every = round(0.02 / dt)
    with torch.no_grad():
        energy = machine.energy(machine.fields(u))
        x0 = torch.zeros(chains, machine.config.n_mobile, dtype=F64)
        out = simulate(energy, x0, dt, round(2.0 / dt), every=every, generator=stream(seed, 50))
    patterns: dict[bytes, int] = {}
    for row in (out.states[round(1.0 / (dt * every)) :].mean(0) > 0).to(torch.int8):
        key = bytes(row.tolist())
        patterns[key] = patterns.get(key, 0) + 1
    return sorted(patterns.values(), reverse=True)


def _equilibrium(
    audited: AuditedMachine, index: int, quick: bool, seed: int, tick: Tick
) -> tuple[list[CheckRow], Tensor]:
    """Equipartition and FDT at one input, from 1000 chains equilibrated from x(0) = 0;
    returns the rows and the chains' final states at the machine's Δt."""
    rows = []
    u0 = audited.x_test[index : index + 1].double()
    system = f"{audited.dataset} machine, equilibrium at test input #{index}"
    chains, equilibrium, em_law = 1000, {}, {}
    for dt in _steps(audited.dt, quick, EQUILIBRIUM):
        start = time.perf_counter()
        machine = audited.at(dt)
        c = machine.config
        with torch.no_grad():
            energy = machine.energy(machine.fields(u0))
            x0 = torch.zeros(chains, c.n_mobile, dtype=F64)
            burn, every, records = round(0.5 / dt), round(0.2 / dt), 5
            out = simulate(energy, x0, dt, burn + every * records, every=every,
                           generator=stream(seed, 11))  # fmt: skip
            samples = out.states[-records:].flatten(0, 1)
            equilibrium[dt] = out.final
            centred = check_equipartition(samples, energy, c.kT, centred=True)
            # the one-unit Euler–Maruyama law at the local curvature k_i = 2J₂ + 12J₄⟨x_i²⟩
            curvature = 2 * c.j2 + 12 * c.j4 * samples.square().mean(0)
            x = samples - samples.mean(0)
            temps = (x * -energy.force(samples)).mean(0) * len(x) / (len(x) - 1) / c.kT
            predicted = 1 / (1 - c.mobility * curvature * dt / 2)
            em_law[dt] = float((1 / predicted).mean())
            excess, law = temps - 1.0, predicted - 1.0
            fit = {
                "corr": float(torch.corrcoef(torch.stack([excess, law]))[0, 1]),
                "slope": float((excess * law).sum() / (law * law).sum()),
            }
        note = (f"centred virial; over the {c.n_mobile} units mean T = {float(temps.mean()):.4f}, "
                f"one-unit EM prediction 1/(1 − μk_iΔt/2) averages {float(predicted.mean()):.4f} "
                f"(k_i {float(curvature.min()):.0f} … {float(curvature.max()):.0f})")  # fmt: skip
        rows.append(check_row("B", system, dt, centred, time.perf_counter() - start, note=note,
                              extra={"mean_T": float(temps.mean()), "em_prediction": float(predicted.mean()),
                                     **fit}))  # fmt: skip
        if dt == audited.dt:
            with torch.no_grad():
                plain = check_equipartition(samples, energy, c.kT)
            rows.append(check_row("B", system, dt, plain, 0.0,
                                  note="plain virial ⟨x ∂V/∂x⟩: its noise is ⟨x⟩² var ∂V/∂x"))  # fmt: skip
        tick()
    for dt in _steps(audited.dt, quick, FDT):
        start = time.perf_counter()
        machine = audited.at(dt)
        with torch.no_grad():
            h = machine.fields(u0)
            f = torch.randn(machine.config.n_mobile, generator=stream(seed, 12), dtype=F64)
            f = f / f.norm()
            # V − f·x is the machine under fields h − f
            u, p = fdt_pair(machine.energy(h), machine.energy(h - f), equilibrium[dt], dt, 0.5,
                            0.005, generator=stream(seed, 13))  # fmt: skip
        check = check_fluctuation_dissipation(u, p, f, machine.config.kT)
        rows.append(check_row("B", system, dt, check, time.perf_counter() - start,
                              note="a random force of norm 1 switched on at t = 0",
                              extra=fdt_numbers(check, f"{em_law[dt]:.3f} averaged over the units")))  # fmt: skip
        tick()
    return rows, equilibrium[audited.dt]
