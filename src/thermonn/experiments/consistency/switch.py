r"""A switch of a trained machine's input fields: Jarzynski, Crooks and BAR against
thermodynamic integration, and the second law over a cycle (part of section B).

The fields h(λ) = h_a + λΔh go from one test input's towards another's in 20 steps; the exact
ΔF is unknown, the reference is thermodynamic integration

.. math::  \Delta F = \int_0^1 \langle \Delta h \cdot x \rangle_\lambda \, d\lambda

by 6-node Gauss–Legendre quadrature, each node's mean from 500 chains held at that λ.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from thermonn.dynamics import Energy
from thermonn.estimators import (
    check_bar,
    check_crooks,
    check_entropy_production,
    check_first_law,
    check_jarzynski,
)
from thermonn.experiments.consistency.results import CheckRow, check_row
from thermonn.experiments.consistency.systems import (
    gauss_legendre,
    protocol_works,
    simulate,
    stream,
)

if TYPE_CHECKING:
    from thermonn.experiments.consistency.machine import AuditedMachine

__all__ = ["field_switch"]


def field_switch(
    audited: AuditedMachine,
    index: int,
    target: int,
    samples_a: Tensor,
    basins: list[int],
    seed: int,
) -> tuple[list[CheckRow], dict[str, Any]]:
    """Fields h(λ) = h_a + λΔh, λ: 0 → 1 in 20 steps, Δh along the fields of test input
    ``target``, scaled so the sudden switch has var ΔV = 2 kT²; the exact ΔF is unknown, the
    reference is thermodynamic integration ∫₀¹⟨Δh·x⟩_λ dλ (Gauss–Legendre, 6 nodes); then the
    second law over the cycle a → b → a and a hold of 0.3 back in V_a."""
    dt = audited.dt
    t_f = 20 * dt
    machine = audited.at(dt)
    kT = machine.config.kT
    one_basin = len(basins) == 1
    note = f"input #{index}: " + (
        "every chain from x(0) = 0 in one basin" if one_basin
        else "chains from x(0) = 0 split between basins (not a Boltzmann sample)"
    )  # fmt: skip
    start = time.perf_counter()
    with torch.no_grad():
        h_a = machine.fields(audited.x_test[index : index + 1].double())
        direction = machine.fields(audited.x_test[target : target + 1].double()) - h_a
        cov = torch.cov(samples_a.T)
        delta_h = direction * math.sqrt(2.0 * kT**2 / float(direction @ cov @ direction.T))

        def energy_at(t: float) -> Energy:
            return machine.energy(h_a + min(max(t / t_f, 0.0), 1.0) * delta_h)

        x_b = simulate(machine.energy(h_a + delta_h), samples_a, dt, round(0.5 / dt),
                       generator=stream(seed, 14)).final  # fmt: skip
        works = protocol_works(energy_at, samples_a, x_b, t_f, dt,
                               generators=(stream(seed, 15), stream(seed, 16)))  # fmt: skip
        wf, wr, fwd = works.forward, works.reverse, works.paths
        nodes, weights = gauss_legendre(6)
        means, errors = [], []
        hold, every = round(0.3 / dt), round(0.05 / dt)
        for k, lam in enumerate(nodes):
            out = simulate(machine.energy(h_a + lam * delta_h), samples_a[:500], dt, hold + 10 * every,
                           every=every, generator=stream(seed, 16 + k))  # fmt: skip
            per_chain = (out.states[-10:] @ delta_h[0]).mean(0)  # a time average per chain
            means.append(float(per_chain.mean()))
            errors.append(float(per_chain.std()) / math.sqrt(len(per_chain)))
        ti = sum(w * m for w, m in zip(weights, means, strict=True))
        ti_error = math.sqrt(sum((w * s) ** 2 for w, s in zip(weights, errors, strict=True)))
        # the static fluctuation–dissipation ratio: ⟨A⟩_a − ⟨A⟩_b against β var A, A = Δh·x
        a_a, a_b = samples_a @ delta_h[0], x_b @ delta_h[0]
        static = float(a_a.mean() - a_b.mean()) / float(a_a.var()) * kT
    elapsed = (time.perf_counter() - start) / 4
    name = f"{audited.dataset} machine #{index}, field switch towards #{target} in t = {t_f:g}"
    ref = (f"reference: thermodynamic integration {ti:.4f} ± {ti_error:.4f}, its 4σ added to the "
           f"tolerance; {note}")  # fmt: skip
    rows = [
        check_row("B", name, dt, check_first_law(fwd.states, fwd.times, energy_at), elapsed),
        check_row(
            "B", name, dt, check_jarzynski(wf, kT, ti, slack=4 * ti_error), elapsed, note=ref
        ),
        check_row("B", name, dt, check_crooks(wf, wr, kT), elapsed, note=note),
        check_row("B", name, dt, check_bar(wf, wr, kT, ti, slack=4 * ti_error), elapsed, note=ref),
    ]
    start = time.perf_counter()
    with torch.no_grad():

        def cycle_at(t: float) -> Energy:
            return machine.energy(h_a + max(0.0, 1.0 - abs(t / t_f - 1.0)) * delta_h)

        cycle = simulate(cycle_at, samples_a, dt, round((2 * t_f + 0.3) / dt), every=1,
                         generator=stream(seed, 30))  # fmt: skip
        v_a = machine.energy(h_a)
        # both ends in the equilibrium of V_a: ln p = −V_a/kT up to one constant
        second = check_entropy_production(
            cycle.states, cycle.times, cycle_at, kT, log_density=lambda x, t: -v_a.energy(x) / kT
        )
    rows.append(check_row("B", f"{audited.dataset} machine #{index}, field cycle a→b→a + hold 0.3", dt,
                          second, time.perf_counter() - start,
                          note="both ends in the equilibrium of V_a, so ln p = −V_a/kT up to one constant"))  # fmt: skip
    return rows, {
        "input": index, "towards": target, "basins_from_x0": basins,
        "delta_h_norm": float(delta_h.norm()), "t_switch": t_f, "dt": dt,
        "static_response_over_beta_var": static,
        "thermodynamic_integration": {"delta_f": ti, "error": ti_error, "nodes": 6},
    }  # fmt: skip
