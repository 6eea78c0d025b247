"""thermonn's simulated annealing against dwave-samplers' SimulatedAnnealingSampler, same instances.

Instances (every one given to both samplers as the same objective):

* sparse ±J spin glasses on random 3-regular graphs, ``thermonn.machines.random_spin_glass``
  (n = 100, 500, 2000; seeds 0 and 1), zero field. thermonn's energy is E(s) = −Σ_{i<j} J_ij s_i s_j;
  dimod's Ising energy is +Σ h_i s_i + Σ J_ij s_i s_j, so dwave gets h = 0 and J_dimod = −J (the
  sign flip is the pitfall: without it dwave would minimise −E).
* dense QUBOs min xᵀQx, x ∈ {0, 1}ⁿ, Q upper-triangular (diagonal included) with N(0, 1) entries
  from numpy's ``default_rng(seed)`` (n = 100, 300; seeds 0 and 1). dwave gets
  ``BinaryQuadraticModel.from_qubo({(i, j): Q_ij, i ≤ j})``; thermonn gets ``qubo_to_ising(Q)``,
  an Ising model and an offset with xᵀQx = E(s) + offset at x = (1 + s)/2, and its energies are
  compared in the QUBO's own units (E + offset).

Same anneal on both sides: ``--sweeps`` (1000) Metropolis sweeps, ``--reads`` (100) independent
reads from uniformly random states, the same geometric β schedule β_t = β_hot (β_cold/β_hot)^{t/(S−1)},
t = 0 … S−1: dwave ``beta_range=(β_hot, β_cold), beta_schedule_type="geometric", num_sweeps=S``
(``np.geomspace``), thermonn ``ExponentialCooling(1/β_hot, 1/β_cold, S − 1)`` (checked equal per
sweep). The β range is dwave's own default for the instance
(``dwave.samplers.sa.sampler.default_beta_range(bqm)``), thermonn's ``temperature_range`` is
recorded beside it for information. dwave sweeps the variables sequentially in label order (its
default); thermonn updates one colour class (an independent set) at a time, all its spins at once
— both are Metropolis sweeps with the same stationary law at each β, not the same trajectory.

Reported per instance: wall-clock (dwave: around ``.sample()``; thermonn: around
``simulated_annealing`` — stepper set-up included — and ``AnnealResult.seconds``, the sweeps
only), the energy distribution over reads (min, mean ± std, 10/50/90 % quantiles), the success
probability p against the best energy either sampler found on that instance, and the time to
solution at 99 %, TTS = (wall-clock / reads) · ln(0.01)/ln(1 − p)
(``thermonn.estimators.time_to_solution``; ∞ when no read found it). Every energy is recomputed
from the returned states by one float64 numpy function and the statistics use the recomputed
values; each sampler's own reported energies are checked against them (a mismatch is flagged).
Model construction (both sides) is not timed. One core (``--no-pin`` to skip pinning), one torch
thread.

    /work/main/.venv-anchors/bin/python benchmarks/anneal_vs_dwave.py           # full benchmark
    /work/main/.venv-anchors/bin/python benchmarks/anneal_vs_dwave.py --quick   # seconds, tiny sizes

Writes benchmarks/results/anneal_vs_dwave.{json,md} (``--quick``: anneal_vs_dwave_quick.{json,md}).
Needs the [anchors] extra (dwave-samplers, dimod). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from _common import RESULTS, git_state, package_versions, pin_one_core

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"


# ----------------------------------------------------------------------------- instances


class Instance:
    """One objective in three forms: thermonn's model (+ offset), dimod's BQM, and a float64
    numpy energy of ±1 spins in the objective's own units (the one judge of both samplers)."""

    def __init__(self, kind: str, n: int, seed: int, dtype):
        import dimod
        import numpy as np
        import torch

        from thermonn.machines import qubo_to_ising, random_spin_glass

        self.kind, self.n, self.seed = kind, n, seed
        self.name = f"{kind} n={n} seed={seed}"
        if kind == "spin-glass":
            g = torch.Generator().manual_seed(seed)
            self.model = random_spin_glass(n, degree=3, dtype=dtype, generator=g)
            self.offset = 0.0
            i, j, v = self.model.edges()
            self.i, self.j = i.numpy(), j.numpy()
            self.v = v.double().numpy()
            self.bqm = dimod.BinaryQuadraticModel.from_ising(
                {k: 0.0 for k in range(n)},
                {
                    (int(a), int(b)): -float(w)
                    for a, b, w in zip(self.i, self.j, self.v, strict=True)
                },
            )
        elif kind == "qubo":
            rng = np.random.default_rng(seed)
            self.q = np.triu(rng.standard_normal((n, n)))
            self.model, self.offset = qubo_to_ising(torch.from_numpy(self.q).to(dtype))
            upper = {(a, b): float(self.q[a, b]) for a in range(n) for b in range(a, n)}
            self.bqm = dimod.BinaryQuadraticModel.from_qubo(upper)
            # from_qubo labels variables in first-seen order: 0, 1, …, n − 1
        else:
            raise ValueError(f"kind: expected 'spin-glass' or 'qubo', got {kind!r}")

    def energy(self, spins):
        """The objective of ±1 spins ``(reads, n)`` (columns in label order 0 … n − 1), float64:
        −Σ J_ij s_i s_j for a spin glass, xᵀQx with x = (1 + s)/2 for a QUBO."""
        import numpy as np

        s = np.asarray(spins, dtype=np.float64)
        if self.kind == "spin-glass":
            return -(s[:, self.i] * s[:, self.j] * self.v).sum(axis=1)
        x = (1.0 + s) / 2.0
        return np.einsum("ri,ij,rj->r", x, self.q, x)

    def convention_check(self, seed: int) -> float:
        """max |dimod's BQM energy − this energy| over 8 random states: that the BQM dwave
        anneals is this objective (signs, QUBO units, variable order)."""
        import dimod
        import numpy as np

        rng = np.random.default_rng(seed)
        s = 2 * rng.integers(0, 2, (8, self.n)) - 1
        x = s if self.bqm.vartype is dimod.SPIN else (1 + s) // 2
        theirs = self.bqm.energies((x, list(range(self.n))))
        return float(np.abs(np.asarray(theirs) - self.energy(s)).max())


# ----------------------------------------------------------------------------- samplers


def run_dwave(inst: Instance, beta_range: tuple[float, float], args) -> dict:
    import dimod
    import numpy as np
    from dwave.samplers import SimulatedAnnealingSampler

    sampler = SimulatedAnnealingSampler()
    t0 = time.perf_counter()
    c0 = time.process_time()
    sampleset = sampler.sample(
        inst.bqm,
        beta_range=beta_range,
        beta_schedule_type="geometric",
        num_sweeps=args.sweeps,
        num_reads=args.reads,
        seed=inst.seed,
    )
    wall = time.perf_counter() - t0
    cpu = (time.process_time() - c0) / wall
    labels = list(sampleset.variables)
    if sorted(labels) != list(range(inst.n)):
        raise RuntimeError(f"dwave returned unexpected variable labels {labels[:5]}…")
    raw = sampleset.record.sample[:, np.argsort(labels)]
    spins = 2 * raw - 1 if sampleset.vartype is dimod.BINARY else raw
    return {
        "spins": spins,
        "reported": np.asarray(sampleset.record.energy, dtype=np.float64),
        "wall_seconds": wall,
        "cpu_over_wall": cpu,
        "sampling_seconds": sampleset.info["timing"]["sampling_ns"] * 1e-9,
        "beta_range_used": [float(b) for b in sampleset.info["beta_range"]],
    }


def run_thermonn(inst: Instance, beta_range: tuple[float, float], args) -> dict:
    import numpy as np
    import torch

    from thermonn.machines import simulated_annealing
    from thermonn.schedules import ExponentialCooling

    schedule = ExponentialCooling(1.0 / beta_range[0], 1.0 / beta_range[1], args.sweeps - 1)
    betas = np.array([1.0 / schedule(float(t)) for t in range(args.sweeps)])
    geom = np.geomspace(beta_range[0], beta_range[1], num=args.sweeps)
    g = torch.Generator().manual_seed(inst.seed)
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = simulated_annealing(
        inst.model,
        schedule,
        sweeps=args.sweeps,
        reads=args.reads,
        sweep=args.thermonn_sweep,
        record_every=args.sweeps,  # one energy record, at the end (no tracing overhead)
        generator=g,
    )
    wall = time.perf_counter() - t0
    cpu = (time.process_time() - c0) / wall
    return {
        "spins": result.states.numpy(),
        "reported": result.energies.numpy() + inst.offset,
        "wall_seconds": wall,
        "cpu_over_wall": cpu,
        "sampling_seconds": result.seconds,
        "schedule_max_rel_diff_vs_geomspace": float(np.abs(betas / geom - 1.0).max()),
    }


# ----------------------------------------------------------------------------- statistics


def _describe(energies, best: float, seconds: float, reads: int) -> dict:
    import numpy as np
    import torch

    from thermonn.estimators import success_probability, time_to_solution

    e = np.asarray(energies, dtype=np.float64)
    p = success_probability(torch.from_numpy(e), best)
    tts = time_to_solution(p, seconds / reads)
    q10, q50, q90 = (float(v) for v in np.quantile(e, [0.1, 0.5, 0.9]))
    return {
        "min": float(e.min()),
        "mean": float(e.mean()),
        "std": float(e.std(ddof=1)) if len(e) > 1 else 0.0,
        "q10": q10,
        "q50": q50,
        "q90": q90,
        "success_probability": p,
        "tts99_seconds": tts,
    }


def compare(inst: Instance, args) -> dict:
    import numpy as np

    from thermonn.machines import temperature_range

    try:
        from dwave.samplers.sa.sampler import default_beta_range

        beta_range = tuple(float(b) for b in default_beta_range(inst.bqm))
        source = "dwave.samplers.sa.sampler.default_beta_range(bqm)"
    except ImportError:  # a dwave-samplers without it: thermonn's range, still the same for both
        hot, cold = temperature_range(inst.model)
        beta_range, source = (1.0 / hot, 1.0 / cold), "thermonn temperature_range(model)"
    hot, cold = temperature_range(inst.model)
    tol = args.tolerance
    row: dict = {
        "instance": inst.name,
        "kind": inst.kind,
        "n": inst.n,
        "seed": inst.seed,
        "edges_or_terms": len(inst.bqm.quadratic),
        "beta_range": list(beta_range),
        "beta_range_source": source,
        "thermonn_temperature_range_as_beta": [1.0 / hot, 1.0 / cold],
        "offset": inst.offset,
        "dimod_bqm_vs_common_energy_max_abs_diff": inst.convention_check(inst.seed),
    }
    runs = {
        "dwave": run_dwave(inst, beta_range, args),
        "thermonn": run_thermonn(inst, beta_range, args),
    }
    recomputed = {}
    for name, run in runs.items():
        spins = run.pop("spins")
        if not np.isin(spins, (-1, 1)).all():
            raise RuntimeError(f"{name} returned values other than ±1 on {inst.name}")
        recomputed[name] = inst.energy(spins)
        reported = run.pop("reported")
        diff = np.abs(reported - recomputed[name])
        scale = np.maximum(1.0, np.abs(recomputed[name]))
        run["reported_vs_recomputed_max_abs_diff"] = float(diff.max())
        run["verified"] = bool((diff <= tol * scale).all())
        run["distinct_final_states"] = len({s.tobytes() for s in np.asarray(spins, dtype=np.int8)})
    best = min(float(e.min()) for e in recomputed.values())
    row["best_energy"] = best
    for name, run in runs.items():
        run |= _describe(recomputed[name], best, run["wall_seconds"], args.reads)
        run["tts99_sweeps_only_seconds"] = _describe(
            recomputed[name], best, run["sampling_seconds"], args.reads
        )["tts99_seconds"]
        run["energies"] = [float(x) for x in recomputed[name]]
        row[name] = run
    d, t = row["dwave"], row["thermonn"]
    row["wall_ratio_thermonn_over_dwave"] = t["wall_seconds"] / d["wall_seconds"]
    row["tts_ratio_thermonn_over_dwave"] = (
        t["tts99_seconds"] / d["tts99_seconds"]
        if math.isfinite(t["tts99_seconds"]) and math.isfinite(d["tts99_seconds"])
        else None
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--glass-n", type=int, nargs="*", default=[100, 500, 2000])
    parser.add_argument("--qubo-n", type=int, nargs="*", default=[100, 300])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--sweeps", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--thermonn-sweep", choices=["metropolis", "gibbs"], default="metropolis")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="thermonn's model dtype (energies are recomputed in float64)")  # fmt: skip
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.glass_n, args.qubo_n, args.seeds, args.sweeps, args.reads = (
            [50, 100],
            [30],
            [0],
            100,
            20,
        )
    if args.out is None:
        args.out = RESULTS / ("anneal_vs_dwave_quick" if args.quick else "anneal_vs_dwave")
    # reported-vs-recomputed tolerance, relative to max(1, |E|): thermonn sums in its dtype
    args.tolerance = 1e-4 if args.dtype == "float32" else 1e-9
    affinity = None if args.no_pin else pin_one_core()

    import torch

    from thermonn._host import host_info

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    dtype = getattr(torch, args.dtype)

    rows = []
    plan = [("spin-glass", n) for n in args.glass_n] + [("qubo", n) for n in args.qubo_n]
    for kind, n in plan:
        for seed in args.seeds:
            row = compare(Instance(kind, n, seed, dtype), args)
            rows.append(row)
            d, t = row["dwave"], row["thermonn"]
            print(
                f"{row['instance']:26s} best {row['best_energy']:.6g} | dwave {d['wall_seconds']:.3f} s "
                f"min {d['min']:.6g} mean {d['mean']:.6g} p {d['success_probability']:.2f} | "
                f"thermonn {t['wall_seconds']:.3f} s (sweeps {t['sampling_seconds']:.3f} s) "
                f"min {t['min']:.6g} mean {t['mean']:.6g} p {t['success_probability']:.2f} | "
                f"verified {d['verified']}/{t['verified']}",
                flush=True,
            )

    result = {
        "command": " ".join(
            ["/work/main/.venv-anchors/bin/python", "benchmarks/anneal_vs_dwave.py", *sys.argv[1:]]
        ),
        "host": host_info()._asdict() | {"affinity": affinity},
        "python": platform.python_version(),
        "versions": package_versions(
            ("thermonn", "torch", "numpy", "scipy", "dwave-samplers", "dimod")
        ),
        "git": git_state(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "instances": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


def _g(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.4g}"


def write_markdown(result: dict, path: Path) -> None:
    host, v, s = result["host"], result["versions"], result["settings"]
    rows = result["instances"]
    lines = [
        "# Simulated annealing: thermonn vs dwave-samplers (same instances, same schedule)",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {host['cpu']} ({host['cores']} logical CPUs), pinned to cores "
        f"{host['affinity']}, torch threads {host['threads']}; {host['platform']}, Python "
        f"{result['python']}  ",
        f"Versions: thermonn {v['thermonn']}, torch {v['torch']}, dwave-samplers "
        f"{v['dwave-samplers']}, dimod {v['dimod']}, numpy {v['numpy']}; git "
        f"{result['git']['head']}{' (dirty tree)' if result['git']['dirty'] else ''}  ",
        f"Anneal: {s['sweeps']} sweeps, {s['reads']} reads, geometric β schedule over dwave's "
        f"default β range for the instance, Metropolis on both sides (thermonn "
        f"`sweep={s['thermonn_sweep']!r}`, model dtype {s['dtype']}). Energies recomputed from "
        "the returned states by one float64 function (QUBO units for QUBOs); p = fraction of "
        "reads at the best energy either sampler found; TTS99 = (wall / reads) · ln 0.01 / "
        "ln(1 − p). Lower energy, wall and TTS are better.",
        "",
        "## Side by side",
        "",
        "| instance | β range | best E | wall s: dwave / thermonn (sweeps only) | min E: dwave / "
        "thermonn | mean ± std: dwave / thermonn | p: dwave / thermonn | TTS99 s: dwave / thermonn "
        "| verified |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d, t = r["dwave"], r["thermonn"]
        lines.append(
            f"| {r['instance']} | {r['beta_range'][0]:.3g} → {r['beta_range'][1]:.3g} | "
            f"{r['best_energy']:.6g} | {d['wall_seconds']:.3g} / {t['wall_seconds']:.3g} "
            f"({t['sampling_seconds']:.3g}) | {d['min']:.6g} / {t['min']:.6g} | "
            f"{d['mean']:.5g} ± {d['std']:.2g} / {t['mean']:.5g} ± {t['std']:.2g} | "
            f"{d['success_probability']:.2f} / {t['success_probability']:.2f} | "
            f"{_g(d['tts99_seconds'])} / {_g(t['tts99_seconds'])} | "
            f"{'yes' if d['verified'] else '**NO**'} / {'yes' if t['verified'] else '**NO**'} |"
        )
    lines += [
        "",
        "## Energy quantiles over reads (10 / 50 / 90 %)",
        "",
        "| instance | dwave | thermonn | distinct final states: dwave / thermonn |",
        "|---|---|---|---|",
    ]
    for r in rows:
        d, t = r["dwave"], r["thermonn"]
        lines.append(
            f"| {r['instance']} | {d['q10']:.6g} / {d['q50']:.6g} / {d['q90']:.6g} | "
            f"{t['q10']:.6g} / {t['q50']:.6g} / {t['q90']:.6g} | "
            f"{d['distinct_final_states']} / {t['distinct_final_states']} |"
        )
    faster = [r["instance"] for r in rows if r["wall_ratio_thermonn_over_dwave"] < 1]
    slower = [r["instance"] for r in rows if r["wall_ratio_thermonn_over_dwave"] >= 1]
    better_min = [r["instance"] for r in rows if r["thermonn"]["min"] < r["dwave"]["min"]]
    worse_min = [r["instance"] for r in rows if r["thermonn"]["min"] > r["dwave"]["min"]]
    worse_mean = [r["instance"] for r in rows if r["thermonn"]["mean"] > r["dwave"]["mean"]]
    tts_loss = [
        r["instance"] for r in rows if r["thermonn"]["tts99_seconds"] > r["dwave"]["tts99_seconds"]
    ]
    lines += [
        "",
        "## Wins and losses (thermonn against dwave)",
        "",
        f"- wall-clock: faster on {len(faster)} of {len(rows)} ({', '.join(faster) or '—'}); "
        f"slower on {', '.join(slower) or '—'}",
        f"- best energy: lower on {', '.join(better_min) or '—'}; higher on "
        f"{', '.join(worse_min) or '—'}",
        f"- mean energy higher (worse) on {len(worse_mean)} of {len(rows)}: "
        f"{', '.join(worse_mean) or '—'}",
        f"- TTS99 longer (worse) on {len(tts_loss)} of {len(rows)}: {', '.join(tts_loss) or '—'}",
        "- every energy above is recomputed from the states; a `**NO**` under verified means the "
        "sampler's own reported energies disagree with its states.",
        "",
        "Wall-clock: dwave's is the time around `.sample()` (its preprocessing, the C++ anneal "
        "and building the SampleSet); thermonn's is the time around `simulated_annealing` "
        "(stepper set-up: colouring, colour-sorted CSR rows; then the sweeps), with the sweeps "
        "alone in brackets. Instance construction is not timed on either side.",
    ]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
