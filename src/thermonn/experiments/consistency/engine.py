r"""Sections A and C: the shared Euler–Maruyama engine on systems whose laws are exact, and
deliberately broken controls on which every check must fail.

A. A coupled 2-D harmonic well (equipartition, fluctuation–dissipation), the double well
   (x² − 1)² (the same), a trap dragged at constant stiffness (ΔF = 0) and a trap squeezed from
   k = 1 to 4 (ΔF = ½ kT ln 4) in unit time (the first law, the second law ⟨Δs_tot⟩ ≥ 0,
   Jarzynski, Crooks, BAR), each at a fine and a coarse Δt. Euler–Maruyama's stationary law
   of one mode of stiffness k is kT/(1 − μkΔt/2): the coarse steps may fail the sharper checks.
C. A bath whose noise belongs to 1.3 kT with the books kept at kT (equipartition, FDT, the
   second law of a relaxation, Jarzynski, Crooks, BAR), and a swirl ω(−x₂, x₁) that no energy
   holds (the first law; FDT — while equipartition, blind to it, must pass).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from thermonn.dynamics import Energy, QuadraticEnergy
from thermonn.estimators import (
    check_bar,
    check_crooks,
    check_entropy_production,
    check_equipartition,
    check_first_law,
    check_fluctuation_dissipation,
    check_jarzynski,
)
from thermonn.experiments.consistency.results import CheckRow, WorkSample, check_row
from thermonn.experiments.consistency.systems import (
    F64,
    DoubleWell,
    Swirl,
    fdt_numbers,
    fdt_pair,
    gaussian_samples,
    protocol_works,
    shifted,
    simulate,
    stream,
    well,
)

__all__ = ["CONTROL_STUDIES", "control_checks", "engine_checks", "engine_studies"]

# (Δt, ...) per system, in the order of the report; quick keeps the finest of each
COUPLED_DT = (0.005, 0.05)
DOUBLE_WELL_DT = (0.01, 0.001)
DOUBLE_WELL_FDT_DT = (0.02, 0.005)
PROTOCOL_DT = (1e-3, 1e-2)
SQUEEZED = "squeezed trap k 1→4 in t=1 (ΔF = ln 2)"
CONTROL_STUDIES = 6
Tick = Callable[[], object]


def _steps(steps: tuple[float, ...], quick: bool) -> tuple[float, ...]:
    return (min(steps),) if quick else steps


def engine_studies(quick: bool) -> int:
    """How many times :func:`engine_checks` ticks."""
    grids = (COUPLED_DT, DOUBLE_WELL_DT, DOUBLE_WELL_FDT_DT, PROTOCOL_DT, PROTOCOL_DT)
    return sum(len(_steps(g, quick)) for g in grids)


def _coupled() -> QuadraticEnergy:
    return QuadraticEnergy(
        torch.tensor([[1.0, 0.3], [0.3, 2.0]], dtype=F64), torch.zeros(2, dtype=F64)
    )


def engine_checks(*, quick: bool, seed: int, tick: Tick) -> tuple[list[CheckRow], WorkSample]:
    """Section A; returns its rows and the squeezed trap's works at the fine step."""
    rows: list[CheckRow] = []
    coupled = _coupled()
    stiffness = torch.linalg.eigvalsh(coupled.precision).tolist()
    for dt in _steps(COUPLED_DT, quick):
        em = [1 / (1 - k * dt / 2) for k in stiffness]  # the one-mode EM law kT/(1 − μkΔt/2)
        note = (f"one-mode Euler–Maruyama law kT/(1 − μkΔt/2) = {em[0]:.4f} … {em[1]:.4f} for "
                f"the modes k = {stiffness[0]:.3f}, {stiffness[1]:.3f}")  # fmt: skip
        start = time.perf_counter()
        x0 = gaussian_samples(coupled, 20000, stream(seed, 1))
        x = simulate(coupled, x0, dt, round(5.0 / dt), generator=stream(seed, 2)).final
        rows.append(check_row("A", "harmonic 2-D (coupled)", dt, check_equipartition(x, coupled, 1.0),
                              time.perf_counter() - start, note=note))  # fmt: skip
        start = time.perf_counter()
        f = torch.tensor([0.2, -0.1], dtype=F64)
        u, p = fdt_pair(coupled, shifted(coupled, f), x[:4000], dt, 20.0, 0.1,
                        generator=stream(seed, 3))  # fmt: skip
        check = check_fluctuation_dissipation(u, p, f, 1.0)
        rows.append(check_row("A", "harmonic 2-D (coupled)", dt, check, time.perf_counter() - start,
                              note=note, extra=fdt_numbers(check, f"{1 / em[1]:.3f} … {1 / em[0]:.3f}")))  # fmt: skip
        tick()
    dw = DoubleWell()
    name = "double well (x²−1)², kT = 1"
    for dt in _steps(DOUBLE_WELL_DT, quick):
        start = time.perf_counter()
        x0 = torch.randn(8000, 2, generator=stream(seed, 4), dtype=F64).sign()  # the two minima
        x = simulate(dw, x0, dt, round(8.0 / dt), generator=stream(seed, 5)).final
        rows.append(check_row("A", name, dt, check_equipartition(x, dw, 1.0),
                              time.perf_counter() - start))  # fmt: skip
        tick()
    f = torch.tensor([0.1, 0.0], dtype=F64)
    for dt in _steps(DOUBLE_WELL_FDT_DT, quick):  # from the finest equilibrium above
        start = time.perf_counter()
        u, p = fdt_pair(dw, DoubleWell(f), x[:2000], dt, 30.0, 0.1, generator=stream(seed, 6))
        check = check_fluctuation_dissipation(u, p, f, 1.0)
        rows.append(check_row("A", name, dt, check, time.perf_counter() - start,
                              note=f"f = 0.1 (linear to O(f³)); the one-mode EM law at the minima (k = 8) is "
                                   f"kT/(1 − 4Δt) = {1 / (1 - 4 * dt):.4f}",
                              extra=fdt_numbers(check, f"{1 - 4 * dt:.3f} at the minima")))  # fmt: skip
        tick()
    protocols: dict[str, tuple[Callable[[float], QuadraticEnergy], float]] = {
        "dragged trap k=2, 0→1.5 in t=1 (ΔF = 0)": (lambda t: well(2.0, 1.5 * min(t, 1.0)), 0.0),
        SQUEEZED: (lambda t: well(1.0 + 3.0 * min(t, 1.0)), 0.5 * math.log(4.0)),
    }
    sample: WorkSample | None = None
    for system, (energy_at, delta_f) in protocols.items():
        for dt in _steps(PROTOCOL_DT, quick):
            start = time.perf_counter()
            x_start = gaussian_samples(energy_at(0.0), 4000, stream(seed, 7))
            x_end = gaussian_samples(energy_at(1.0), 4000, stream(seed, 8))
            # the reverse run's stream follows the forward's (seed + 1)
            works = protocol_works(energy_at, x_start, x_end, 1.0, dt,
                                   generators=(stream(seed, 9), stream(seed, 10)))  # fmt: skip
            wf, wr, fwd = works.forward, works.reverse, works.paths
            elapsed = time.perf_counter() - start
            for check in (
                check_first_law(fwd.states, fwd.times, energy_at),
                check_entropy_production(fwd.states, fwd.times, energy_at, 1.0),
                check_jarzynski(wf, 1.0, delta_f),
                check_crooks(wf, wr, 1.0),
                check_bar(wf, wr, 1.0, delta_f),
            ):
                rows.append(check_row("A", system, dt, check, elapsed / 5))
            if system == SQUEEZED and dt == min(PROTOCOL_DT):
                sample = WorkSample(system, dt, wf, wr, delta_f)
            tick()
    assert sample is not None  # the fine step runs in either mode
    return rows, sample


def control_checks(*, seed: int, tick: Tick) -> list[CheckRow]:
    """Section C: every check on a broken system, where it must fail (and equipartition on
    the swirl, which keeps the Boltzmann law and must pass)."""
    rows: list[CheckRow] = []
    hot = 1.3  # the bath's noise belongs to 1.3 kT; the books are kept at kT = 1
    coupled = _coupled()
    name = "harmonic 2-D, bath at 1.3 kT"
    start = time.perf_counter()
    x0 = gaussian_samples(coupled, 20000, stream(seed, 20))
    x = simulate(coupled, x0, 0.005, 1000, kT=hot, generator=stream(seed, 21)).final
    rows.append(check_row("C", name, 0.005, check_equipartition(x, coupled, 1.0),
                          time.perf_counter() - start, expect="fail"))  # fmt: skip
    tick()
    start = time.perf_counter()
    f = torch.tensor([0.2, -0.1], dtype=F64)
    u, p = fdt_pair(coupled, shifted(coupled, f), x[:2000], 0.005, 20.0, 0.1, kT=hot,
                    generator=stream(seed, 22))  # fmt: skip
    rows.append(check_row("C", name, 0.005, check_fluctuation_dissipation(u, p, f, 1.0),
                          time.perf_counter() - start, expect="fail"))  # fmt: skip
    tick()
    start = time.perf_counter()
    x0 = gaussian_samples(coupled, 8000, stream(seed, 23))
    relax = simulate(coupled, x0, 0.005, 600, kT=hot, every=1, generator=stream(seed, 24))
    rows.append(check_row("C", "harmonic 2-D relaxing from kT into a bath at 1.3 kT", 0.005,
                          check_entropy_production(relax.states, relax.times, lambda t: coupled, 1.0),
                          time.perf_counter() - start, expect="fail"))  # fmt: skip
    tick()

    def squeeze(t: float) -> Energy:
        return well(1.0 + 3.0 * min(t, 1.0))

    start = time.perf_counter()
    works = protocol_works(squeeze, gaussian_samples(well(1.0), 4000, stream(seed, 25)),
                           gaussian_samples(well(4.0), 4000, stream(seed, 26)), 1.0, 1e-3, kT=hot,
                           generators=(stream(seed, 27), stream(seed, 28)))  # fmt: skip
    elapsed = (time.perf_counter() - start) / 3
    name, delta_f = "squeezed trap, bath at 1.3 kT", 0.5 * math.log(4)
    for check in (
        check_jarzynski(works.forward, 1.0, delta_f),
        check_crooks(works.forward, works.reverse, 1.0),
        check_bar(works.forward, works.reverse, 1.0, delta_f),
    ):
        rows.append(check_row("C", name, 1e-3, check, elapsed, expect="fail"))
    tick()

    # a swirl: the dynamics feel a rotation the books (V) do not hold
    def drag(t: float) -> QuadraticEnergy:
        return well(1.5, min(t, 1.0), n=2)

    def swirled_at(t: float) -> Energy:
        return Swirl(drag(t), 1.0)

    start = time.perf_counter()
    x0 = gaussian_samples(drag(0.0), 2000, stream(seed, 28))
    swirled = simulate(swirled_at, x0, 1e-3, 1000, every=1, generator=stream(seed, 29))
    law = check_first_law(swirled.states, swirled.times, drag, lambda t: swirled_at(t).force)
    rows.append(check_row("C", "dragged trap + swirl ω = 1", 1e-3, law,
                          time.perf_counter() - start, expect="fail"))  # fmt: skip
    tick()
    start = time.perf_counter()
    iso = well(1.0, n=2)
    f = torch.tensor([0.2, 0.0], dtype=F64)
    x_eq = gaussian_samples(iso, 2000, stream(seed, 30))  # the swirl keeps the isotropic law
    u, p = fdt_pair(Swirl(iso, 1.0), Swirl(iso, 1.0, f), x_eq, 0.005, 20.0, 0.1,
                    generator=stream(seed, 31))  # fmt: skip
    system = "isotropic trap + swirl ω = 1"
    rows.append(check_row("C", system, 0.005, check_equipartition(u[-1], iso, 1.0),
                          time.perf_counter() - start, expect="pass",
                          note="the swirl keeps the Boltzmann law: equipartition cannot see it"))  # fmt: skip
    rows.append(check_row("C", system, 0.005, check_fluctuation_dissipation(u, p, f, 1.0), 0.0,
                          expect="fail", note="… but it breaks detailed balance, which FDT sees"))  # fmt: skip
    tick()
    return rows
