"""``thermonn anneal``: cooling schedules compared on one optimisation instance.

One instance — a sparse ±J spin glass on a random 3-regular graph, a ±J glass on a periodic
square lattice, or a dense QUBO with N(0, 1) entries — is annealed by every schedule with the
same sweeps, reads and temperature range (:func:`~thermonn.machines.temperature_range`). The
target energy is the exact ground state when the instance is small enough to enumerate
(certified), else the best energy any schedule found (best known). Reported per schedule: the
energy distribution of the reads, success probability, wall-clock and time-to-solution at 99%.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from thermonn._io import atomic_write_json, atomic_write_text
from thermonn._validation import check_int, check_seed
from thermonn.estimators import success_probability, time_to_solution
from thermonn.machines import (
    AnnealResult,
    IsingModel,
    lattice_spin_glass,
    qubo_to_ising,
    random_spin_glass,
    simulated_annealing,
    temperature_range,
)
from thermonn.machines.ising import MAX_ENUMERATED
from thermonn.schedules import AdaptiveCooling, ExponentialCooling, LinearCooling, PowerLawCooling
from thermonn.train import RunFolder

__all__ = ["PROBLEMS", "SCHEDULES", "AnnealConfig", "AnnealOutcome", "build_problem", "run_anneal"]

PROBLEMS = ("glass", "lattice", "qubo")


def _schedules(hot: float, cold: float, sweeps: int) -> dict[str, Any]:
    last = max(sweeps - 1, 1)
    return {
        "exponential": ExponentialCooling(hot, cold, last),
        "linear": LinearCooling(hot, cold, last),
        # kT₀ / (1 + t/τ) reaching the cold end at the last sweep
        "power-law": PowerLawCooling(hot, last / max(hot / cold - 1.0, 1e-12), 1.0),
        "adaptive": AdaptiveCooling(hot, cold, last),
    }


SCHEDULES = ("exponential", "linear", "power-law", "adaptive")  # the keys of _schedules


@dataclass(frozen=True)
class AnnealConfig:
    """The instance (``problem`` of ``size`` variables — a lattice's side for ``"lattice"`` —
    drawn from ``instance_seed``), the schedules to compare, sweeps and reads per schedule,
    the sweep rule, and the seed of the annealing runs."""

    problem: str = "glass"
    size: int = 500
    instance_seed: int = 0
    schedules: tuple[str, ...] = SCHEDULES
    sweeps: int = 1000
    reads: int = 100
    sweep: str = "metropolis"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem: expected one of {list(PROBLEMS)}, got {self.problem!r}")
        check_int("size", self.size, minimum=4 if self.problem != "lattice" else 3)
        if self.problem == "glass" and self.size % 2:
            raise ValueError(
                f"size: a 3-regular glass needs an even number of spins, got {self.size}"
            )
        if not self.schedules or any(s not in SCHEDULES for s in self.schedules):
            raise ValueError(
                f"schedules: expected names from {list(SCHEDULES)}, got {self.schedules!r}"
            )
        check_int("sweeps", self.sweeps, minimum=2)
        check_int("reads", self.reads, minimum=1)
        if self.sweep not in ("metropolis", "gibbs"):
            raise ValueError(f"sweep: expected 'metropolis' or 'gibbs', got {self.sweep!r}")
        check_seed("instance_seed", self.instance_seed)
        check_seed("seed", self.seed)


def build_problem(config: AnnealConfig) -> tuple[IsingModel, float, str]:
    """The instance as an Ising model, the offset that turns its energies into the problem's
    own (a QUBO's xᵀQx), and a description."""
    g = torch.Generator().manual_seed(config.instance_seed)
    if config.problem == "glass":
        return (
            random_spin_glass(config.size, generator=g),
            0.0,
            f"±J glass, random 3-regular graph, n = {config.size}",
        )
    if config.problem == "lattice":
        side = config.size
        return (
            lattice_spin_glass((side, side), generator=g),
            0.0,
            f"±J glass, periodic {side} × {side} lattice",
        )
    q = torch.randn(config.size, config.size, generator=g)
    model, offset = qubo_to_ising(torch.triu(q))
    return model, offset, f"dense QUBO min xᵀQx, Q upper-triangular N(0, 1), n = {config.size}"


@dataclass
class AnnealOutcome:
    """One schedule's reads: energies in the problem's units, success against the target."""

    schedule: str
    result: AnnealResult
    energies: list[float]
    success: float
    seconds_per_read: float
    tts: float


def _ground_energy(model: IsingModel) -> float:
    """min E by enumeration in chunks of 2^16 states, in float64 (a certificate for small
    instances)."""
    exact = IsingModel.graph(
        model.sparse_couplings().to_dense().double(), field=model.field.double()
    )
    bits = torch.arange(model.n)
    best = math.inf
    for chunk in torch.arange(2**model.n).split(2**16):
        s = 2.0 * ((chunk[:, None] >> bits) & 1).double() - 1.0
        best = min(best, float(exact.energy(s).min()))
    return best


def run_anneal(
    config: AnnealConfig,
    run_dir: Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> tuple[list[AnnealOutcome], dict[str, Any]]:
    """Anneal the instance with every schedule; write ``results.json``, ``report.md`` and
    ``energy_vs_sweeps.png`` into ``run_dir``. ``progress`` is called with 1 per sweep."""
    model, offset, description = build_problem(config)
    hot, cold = temperature_range(model)
    schedules = _schedules(hot, cold, config.sweeps)
    with RunFolder(run_dir).writing(command=command):
        runs = {}
        for k, name in enumerate(config.schedules):
            g = torch.Generator().manual_seed(config.seed * 100 + k)
            runs[name] = simulated_annealing(
                model,
                schedules[name],
                sweeps=config.sweeps,
                reads=config.reads,
                sweep=config.sweep,
                generator=g,
                progress=None if progress is None else (lambda _t: progress(1)),
            )
        certified = model.n <= MAX_ENUMERATED
        target = _ground_energy(model) if certified else min(r.best_energy for r in runs.values())
        outcomes = []
        for name, r in runs.items():
            p = success_probability(r.energies, target)
            per_read = r.seconds / config.reads
            outcomes.append(
                AnnealOutcome(
                    name,
                    r,
                    (r.energies + offset).tolist(),
                    p,
                    per_read,
                    time_to_solution(p, per_read),
                )
            )
        info = {
            "description": description,
            "n": model.n,
            "kT_range": [hot, cold],
            "target": target + offset,
            "target_kind": "exact ground state (enumerated)"
            if certified
            else "best energy found by any schedule",
        }
        _plot(outcomes, offset, Path(run_dir) / "energy_vs_sweeps.png", info)
        payload = {
            "config": asdict(config),
            **info,
            "schedules": [
                {
                    "schedule": o.schedule,
                    "energies": o.energies,
                    "success_probability": o.success,
                    "seconds": o.result.seconds,
                    "seconds_per_read": o.seconds_per_read,
                    "tts_99_seconds": o.tts if math.isfinite(o.tts) else None,
                    "trace_sweeps": o.result.times.tolist(),
                    "trace_mean_energy": (o.result.trace.mean(1) + offset).tolist(),
                }
                for o in outcomes
            ],
        }
        atomic_write_json(Path(run_dir) / "results.json", payload)
        atomic_write_text(Path(run_dir) / "report.md", _report(config, outcomes, info))
    return outcomes, info


def _report(config: AnnealConfig, outcomes: list[AnnealOutcome], info: dict[str, Any]) -> str:
    lines = [
        "# Simulated annealing: cooling schedules on one instance",
        "",
        f"Instance: {info['description']} (instance seed {config.instance_seed}). "
        f"{config.sweeps} {config.sweep} sweeps × {config.reads} reads per schedule, kT from "
        f"{info['kT_range'][0]:.3f} to {info['kT_range'][1]:.3f}, seed {config.seed}.",
        f"Target energy {info['target']:.4f}: {info['target_kind']}.",
        "",
        "![energy vs sweeps](energy_vs_sweeps.png)",
        "",
        "| schedule | best | mean ± std | success p | wall-clock (s) | s / read | TTS 99% (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        e = torch.tensor(o.energies, dtype=torch.float64)
        std = float(e.std()) if len(e) > 1 else 0.0
        tts = f"{o.tts:.3g}" if math.isfinite(o.tts) else "∞ (no read succeeded)"
        lines.append(
            f"| {o.schedule} | {float(e.min()):.4f} | {float(e.mean()):.4f} ± {std:.4f} | "
            f"{o.success:.2f} | {o.result.seconds:.2f} | {o.seconds_per_read:.2e} | {tts} |"
        )
    lines += [
        "",
        "Reads run batched, so a read's time is the batch's wall-clock divided by the reads; "
        "TTS₉₉ = t_read · ln(0.01) / ln(1 − p).",
    ]
    return "\n".join(lines) + "\n"


def _plot(outcomes: list[AnnealOutcome], offset: float, path: Path, info: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for o in outcomes:
        r = o.result
        times = r.times.tolist()
        left.plot(times, (r.trace.mean(1) + offset).tolist(), label=f"{o.schedule} (mean)")
        best = (r.trace.min(1).values + offset).tolist()
        left.plot(times, best, ls=":", color=left.lines[-1].get_color())
        right.hist(o.energies, bins=30, alpha=0.5, label=o.schedule)
    left.axhline(info["target"], color="k", lw=0.8)
    right.axvline(info["target"], color="k", lw=0.8)
    left.set_xscale("log")
    left.set_xlabel("sweep")
    left.set_ylabel("energy (mean solid, best dotted)")
    right.set_xlabel("final energy")
    right.set_ylabel("reads")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
