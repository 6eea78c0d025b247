"""thermonn's checkerboard block Gibbs against thrml's on the 2-D periodic Ising model (J = 1, h = 0).

Both sides run the same Markov chain: heat-bath updates of one checkerboard colour at a time,
p(s_i = +1 | rest) = σ(2β Σ_neighbours s_j), many independent chains at once, one CPU thread.

* thermonn: ``IsingModel.lattice((L, L))`` with ``BlockGibbs`` driven by ``init`` / ``advance`` /
  ``value`` (spin-major state sorted by colour, each colour's field one CSR product — the same
  sweep every graph gets, so no lattice-specific trick is timed).
* thrml: an ``IsingEBM`` with one ``SpinNode`` per site, the 2·L² periodic bonds each listed
  once, weights 1, biases 0, ``beta`` = 1/kT, two free blocks (the checkerboard colours) in an
  ``IsingSamplingProgram``; chains batched by ``jax.jit(jax.vmap(...))`` over its one-chain
  ``sample_states`` with ``SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)``
  (a ``lax.scan`` of ``sweeps`` sweeps). thrml's energy is −β(Σ b s + Σ J s s) with p ∝ e^{−energy},
  i.e. e^{−βE} for thermonn's E = −Σ J s s − Σ h s: the same law (checked below on a random state).

Speed: site updates per second (chains · L² · sweeps / wall-clock) over ``--sweeps`` sweeps after
a warm-up, mean ± std over ``--repeats`` repeats. JAX's compile time (``lower().compile()``) and
thrml's program construction are excluded from the rate and reported on their own. The process is
pinned to one core (``--no-pin`` to skip), torch runs one thread, XLA is asked for one thread, and
the ratio CPU time / wall time of every timed section is recorded (≈ 1 means one busy core).
The NVIDIA multispin CUDA record (~900 flips/ns on one H100 = 9e11 site updates/s) is quoted as a
CPU-vs-GPU reference only: it is another algorithm (multispin coding) on other hardware.

Correctness: at kT = 1/0.3 (disordered) from random spins and kT = 2 (ordered) from all up, on
an L = 32 lattice, both samplers' mean energy per site and |m| after burn-in, against Onsager's
energy and Yang's magnetisation (the infinite lattice; at L = 32 this far from T_c the finite-size
corrections are ~e^{−L/ξ}, ξ ≲ 2.3, i.e. < 1e-6). One common numpy function computes e and |m|
from both samplers' spins. Error bar: std over the chains of each chain's time average / √chains
(independent chains, so autocorrelation is accounted for). |z| > 4 is flagged. |m| above T_c is
reported but not compared (its finite-size value is O(L⁻¹), not 0).

    /work/main/.venv-anchors/bin/python benchmarks/ising_vs_thrml.py           # full benchmark
    /work/main/.venv-anchors/bin/python benchmarks/ising_vs_thrml.py --quick   # seconds, tiny sizes

Writes benchmarks/results/ising_vs_thrml.{json,md} (``--quick``: ising_vs_thrml_quick.{json,md}).
Needs the [anchors] extra (thrml, jax). No timing is asserted anywhere.
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

from _common import RESULTS, git_state, package_versions, pin_one_core, summary

# one thread everywhere, before numpy / torch / jax are imported
os.environ["XLA_FLAGS"] = (
    "--xla_force_host_platform_device_count=1 --xla_cpu_multi_thread_eigen=false "
    "intra_op_parallelism_threads=1"
)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

NVIDIA_H100_RECORD = 9e11  # ~900 flips/ns, multispin-coded CUDA Metropolis on one H100
Z_FLAG = 4.0


def lattice_observables(spins, L: int):
    """Energy per site e = −(1/n) Σ_bonds s_i s_j and |m| of ±1 spins ``(..., L·L)`` (row-major),
    in float64: the one function both samplers are judged by."""
    import numpy as np

    s = spins.reshape(*spins.shape[:-1], L, L).astype(np.float64)
    bonds = s * np.roll(s, 1, axis=-1) + s * np.roll(s, 1, axis=-2)
    e = -bonds.sum(axis=(-1, -2)) / (L * L)
    m = np.abs(s.mean(axis=(-1, -2)))
    return e, m


# ----------------------------------------------------------------------------- thermonn


def _random_spins_torch(chains: int, n: int, generator):
    import torch

    return (2 * torch.randint(0, 2, (chains, n), generator=generator) - 1).float()


def thermonn_speed(model, L: int, chains: int, kT: float, args) -> dict:
    import torch

    from thermonn.dynamics import BlockGibbs

    n, beta = L * L, 1.0 / kT
    g = torch.Generator().manual_seed(args.seed)
    stepper = BlockGibbs(model, kT)
    state = stepper.init(_random_spins_torch(chains, n, g))
    for _ in range(args.warmup):
        state = stepper.advance(state, beta, g)
    rates, cpu = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.sweeps):
            state = stepper.advance(state, beta, g)
        wall = time.perf_counter() - w0
        cpu.append((time.process_time() - c0) / wall)
        rates.append(chains * n * args.sweeps / wall)
    final = stepper.value(state)
    assert bool(((final == 1) | (final == -1)).all()), "thermonn returned non-spin values"
    return {"site_updates_per_s": summary(rates), "cpu_over_wall": summary(cpu)}


def thermonn_observe(L: int, chains: int, kT: float, ordered: bool, args) -> dict:
    import numpy as np
    import torch

    from thermonn.dynamics import BlockGibbs
    from thermonn.machines import IsingModel

    n, beta = L * L, 1.0 / kT
    model = IsingModel.lattice((L, L))
    g = torch.Generator().manual_seed(args.seed + 1)
    x0 = torch.ones(chains, n) if ordered else _random_spins_torch(chains, n, g)
    stepper = BlockGibbs(model, kT)
    state = stepper.init(x0)
    for _ in range(args.burn):
        state = stepper.advance(state, beta, g)
    e = np.empty((args.samples, chains))
    m = np.empty((args.samples, chains))
    own = np.empty((args.samples, chains))
    for k in range(args.samples):
        if k:
            for _ in range(args.thin):
                state = stepper.advance(state, beta, g)
        s = stepper.value(state)
        own[k] = (model.energy(s).double() / n).numpy()
        e[k], m[k] = lattice_observables(s.numpy(), L)
    return {
        "e": e.T,
        "m": m.T,
        # thermonn's own model.energy against the common function, every sample
        "own_energy_max_abs_diff": float(np.abs(own - e).max()),
    }


# ----------------------------------------------------------------------------- thrml


class Thrml:
    """One L × L periodic lattice as a thrml IsingEBM with its two-colour sampling program."""

    def __init__(self, L: int, kT: float):
        import jax.numpy as jnp
        import numpy as np
        from thrml import Block, SpinNode
        from thrml.models import IsingEBM, IsingSamplingProgram

        t0 = time.perf_counter()
        n = L * L
        self.L, self.n = L, n
        self.nodes = [SpinNode() for _ in range(n)]
        index = np.arange(n).reshape(L, L)
        right = np.roll(index, -1, axis=1).ravel()
        down = np.roll(index, -1, axis=0).ravel()
        pairs = [(a, int(b)) for a, b in enumerate(right)] + [
            (a, int(b)) for a, b in enumerate(down)
        ]
        edges = [(self.nodes[a], self.nodes[b]) for a, b in pairs]
        parity = (np.add.outer(np.arange(L), np.arange(L)) % 2).ravel()
        self.colour_sites = [np.flatnonzero(parity == c) for c in (0, 1)]
        self.blocks = [Block([self.nodes[i] for i in sites]) for sites in self.colour_sites]
        self.all_nodes = Block(self.nodes)
        self.beta = 1.0 / kT
        self.model = IsingEBM(
            self.nodes,
            edges,
            jnp.zeros((n,), dtype=jnp.float32),
            jnp.ones((len(edges),), dtype=jnp.float32),
            jnp.array(self.beta, dtype=jnp.float32),
        )
        self.program = IsingSamplingProgram(self.model, self.blocks, [])
        self.build_seconds = time.perf_counter() - t0
        self.pairs = np.array(pairs)

    def sampler(self, n_warmup: int, n_samples: int, steps_per_sample: int):
        """jit(vmap(one-chain sample_states)) over (keys, per-block initial states)."""
        import jax
        from thrml import SamplingSchedule, sample_states

        schedule = SamplingSchedule(n_warmup, n_samples, steps_per_sample)

        def one(key, init):
            return sample_states(key, self.program, schedule, init, [], [self.all_nodes])[0]

        return jax.jit(jax.vmap(one))

    def initial(self, key, chains: int, ordered: bool):
        import jax
        import jax.numpy as jnp

        keys = jax.random.split(key, 2)
        if ordered:
            return [jnp.ones((chains, len(s)), dtype=jnp.bool_) for s in self.colour_sites]
        return [
            jax.random.bernoulli(k, 0.5, (chains, len(s)))
            for k, s in zip(keys, self.colour_sites, strict=True)
        ]

    def energy_convention(self, seed: int) -> dict:
        """thrml's IsingEBM.energy of a random state against β · E(s), E = −Σ_bonds s_i s_j."""
        import jax.numpy as jnp
        import numpy as np

        rng = np.random.default_rng(seed)
        s = rng.integers(0, 2, self.n).astype(bool)
        theirs = float(self.model.energy([jnp.asarray(s)], [self.all_nodes]))
        spins = 2.0 * s - 1.0
        ours = -float((spins[self.pairs[:, 0]] * spins[self.pairs[:, 1]]).sum())
        return {"thrml_energy": theirs, "beta_times_E": self.beta * ours, "E": ours}


def thrml_speed(lattice: Thrml, chains: int, args) -> dict:
    import jax

    run = lattice.sampler(args.sweeps, 1, 1)
    key = jax.random.key(args.seed)
    init = lattice.initial(jax.random.fold_in(key, 1), chains, ordered=False)
    keys = jax.random.split(jax.random.fold_in(key, 2), chains)
    c0 = time.perf_counter()
    compiled = run.lower(keys, init).compile()
    compile_seconds = time.perf_counter() - c0
    jax.block_until_ready(compiled(keys, init))  # warm-up, untimed
    rates, cpu = [], []
    for r in range(args.repeats):
        keys = jax.block_until_ready(jax.random.split(jax.random.fold_in(key, 3 + r), chains))
        w0, p0 = time.perf_counter(), time.process_time()
        out = jax.block_until_ready(compiled(keys, init))
        wall = time.perf_counter() - w0
        cpu.append((time.process_time() - p0) / wall)
        rates.append(chains * lattice.n * args.sweeps / wall)
    assert out.shape == (chains, 1, lattice.n), out.shape
    return {
        "site_updates_per_s": summary(rates),
        "cpu_over_wall": summary(cpu),
        "compile_seconds": compile_seconds,
        "program_build_seconds": lattice.build_seconds,
    }


def thrml_observe(L: int, chains: int, kT: float, ordered: bool, args) -> dict:
    import jax
    import numpy as np

    lattice = Thrml(L, kT)
    run = lattice.sampler(args.burn, args.samples, args.thin)
    key = jax.random.key(args.seed + 1)
    init = lattice.initial(jax.random.fold_in(key, 1), chains, ordered)
    keys = jax.random.split(jax.random.fold_in(key, 2), chains)
    out = np.asarray(jax.block_until_ready(run(keys, init)))  # (chains, samples, n) bool
    e = np.empty(out.shape[:2])
    m = np.empty(out.shape[:2])
    for c in range(0, chains, 16):  # in chunks: float64 copies of every sample are large
        e[c : c + 16], m[c : c + 16] = lattice_observables(
            2 * out[c : c + 16].astype(np.int8) - 1, L
        )
    return {"e": e, "m": m, "energy_convention": lattice.energy_convention(args.seed)}


# ----------------------------------------------------------------------------- report


def _estimate(per_sample, exact: float | None) -> dict:
    """Mean over chains of each chain's time average, its standard error, z against exact."""
    chain_means = per_sample.mean(axis=1)
    mean = float(chain_means.mean())
    se = float(chain_means.std(ddof=1) / math.sqrt(len(chain_means)))
    out = {"mean": mean, "se": se, "chains": len(chain_means), "samples": per_sample.shape[1]}
    if exact is not None:
        z = (mean - exact) / se if se > 0 else (0.0 if mean == exact else math.inf)
        out |= {"exact": exact, "z": z, "flagged": bool(abs(z) > Z_FLAG)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--chains", type=int, nargs="+", default=[64, 512])
    parser.add_argument("--sweeps", type=int, default=200, help="timed sweeps per repeat")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sweeps first (thermonn)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--speed-kT", type=float, default=1 / 0.3)
    parser.add_argument("--check-L", type=int, default=32)
    parser.add_argument("--check-chains", type=int, default=256)
    parser.add_argument("--check-kT", type=float, nargs="*", default=[1 / 0.3, 2.0])
    parser.add_argument("--burn", type=int, default=1000, help="sweeps before the first sample")
    parser.add_argument("--samples", type=int, default=500, help="samples per chain")
    parser.add_argument("--thin", type=int, default=4, help="sweeps between samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.chains, args.sweeps, args.repeats = [16, 32], [8, 64], 50, 3
        args.warmup = 5
        args.check_chains, args.burn, args.samples, args.thin = 32, 300, 150, 1
    if args.out is None:
        args.out = RESULTS / ("ising_vs_thrml_quick" if args.quick else "ising_vs_thrml")
    affinity = None if args.no_pin else pin_one_core()

    import jax
    import torch

    from thermonn._host import host_info
    from thermonn.machines import IsingModel, onsager

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    speed = []
    for L in args.sizes:
        model = IsingModel.lattice((L, L))
        lattice = Thrml(L, args.speed_kT)
        for chains in args.chains:
            row = {
                "L": L,
                "chains": chains,
                "sweeps": args.sweeps,
                "thermonn": thermonn_speed(model, L, chains, args.speed_kT, args),
                "thrml": thrml_speed(lattice, chains, args),
            }
            tn = row["thermonn"]["site_updates_per_s"]["mean"]
            th = row["thrml"]["site_updates_per_s"]["mean"]
            row["ratio_thermonn_over_thrml"] = tn / th
            row["ratio_thermonn_over_nvidia_h100"] = tn / NVIDIA_H100_RECORD
            row["ratio_thrml_over_nvidia_h100"] = th / NVIDIA_H100_RECORD
            speed.append(row)
            print(
                f"L={L:3d} chains={chains:4d}  thermonn {tn:.3g}/s  thrml {th:.3g}/s  "
                f"thermonn/thrml {tn / th:.2f}  "
                f"(thrml compile {row['thrml']['compile_seconds']:.2f} s)",
                flush=True,
            )

    checks = []
    for kT in args.check_kT:
        exact = onsager(kT)
        ordered = kT < exact.critical_temperature
        row = {"kT": kT, "start": "all up" if ordered else "random", "L": args.check_L,
               "chains": args.check_chains, "burn": args.burn, "samples": args.samples,
               "thin": args.thin, "onsager_energy": exact.energy,
               "yang_magnetisation": exact.magnetisation}  # fmt: skip
        for name, observe in (("thermonn", thermonn_observe), ("thrml", thrml_observe)):
            got = observe(args.check_L, args.check_chains, kT, ordered, args)
            row[name] = {
                "energy": _estimate(got["e"], exact.energy),
                "abs_m": _estimate(got["m"], exact.magnetisation if ordered else None),
                **{k: v for k, v in got.items() if k not in ("e", "m")},
            }
        checks.append(row)
        print(
            f"kT={kT:.4f} ({row['start']}): Onsager e={exact.energy:.6f}, "
            + ", ".join(
                f"{name} e={row[name]['energy']['mean']:.6f}±{row[name]['energy']['se']:.1e} "
                f"(z={row[name]['energy']['z']:+.1f}) |m|={row[name]['abs_m']['mean']:.5f}"
                for name in ("thermonn", "thrml")
            )
            + (f", Yang |m|={exact.magnetisation:.5f}" if ordered else ""),
            flush=True,
        )

    command = " ".join(
        ["/work/main/.venv-anchors/bin/python", "benchmarks/ising_vs_thrml.py", *sys.argv[1:]]
    )
    result = {
        "command": command,
        "host": host_info()._asdict() | {"affinity": affinity, "jax_devices": str(jax.devices())},
        "python": platform.python_version(),
        "versions": package_versions(
            ("thermonn", "torch", "numpy", "scipy", "jax", "jaxlib", "thrml", "equinox")
        ),
        "git": git_state(),
        "env": {k: os.environ.get(k) for k in ("XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "nvidia_h100_record_site_updates_per_s": NVIDIA_H100_RECORD,
        "speed": speed,
        "checks": checks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and .md")


def _rate(d: dict) -> str:
    s = d["site_updates_per_s"]
    return f"{s['mean']:.3g} ± {s['std']:.1g}"


def _est(d: dict) -> str:
    out = f"{d['mean']:.5f} ± {d['se']:.1g}"
    if "z" in d:
        out += f" (z = {d['z']:+.1f}{', **OFF**' if d['flagged'] else ''})"
    return out


def write_markdown(result: dict, path: Path) -> None:
    host, v = result["host"], result["versions"]
    lines = [
        "# 2-D Ising checkerboard block Gibbs: thermonn vs thrml",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {host['cpu']} ({host['cores']} logical CPUs), pinned to cores "
        f"{host['affinity']}, torch threads {host['threads']}; {host['platform']}, Python "
        f"{result['python']}  ",
        f"Versions: thermonn {v['thermonn']}, torch {v['torch']}, thrml {v['thrml']}, jax "
        f"{v['jax']} / jaxlib {v['jaxlib']}, numpy {v['numpy']}; git {result['git']['head']}"
        f"{' (dirty tree)' if result['git']['dirty'] else ''}",
        "",
        "## Speed (site updates / s, mean ± std over repeats; higher is better)",
        "",
        "Same sweeps on both sides (heat bath, two checkerboard colours per sweep), one core. "
        "thermonn sweeps every model, lattice or graph, through colour-sorted CSR row blocks "
        "(thrml's program is likewise generic, gather-based). JAX compile time and thrml's "
        "program construction are excluded from the rates.",
        "",
        "| L | chains | thermonn | thrml | thermonn / thrml | thrml compile (s) "
        "| thrml build (s) | CPU/wall tn, th |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["speed"]:
        lines.append(
            f"| {r['L']} | {r['chains']} | {_rate(r['thermonn'])} | {_rate(r['thrml'])} | "
            f"**{r['ratio_thermonn_over_thrml']:.2f}** | {r['thrml']['compile_seconds']:.2f} | "
            f"{r['thrml']['program_build_seconds']:.2f} | "
            f"{r['thermonn']['cpu_over_wall']['mean']:.2f}, "
            f"{r['thrml']['cpu_over_wall']['mean']:.2f} |"
        )
    best = max(r["thermonn"]["site_updates_per_s"]["mean"] for r in result["speed"])
    best_thrml = max(r["thrml"]["site_updates_per_s"]["mean"] for r in result["speed"])

    def losses(key: str) -> str:
        slow = [f"L={r['L']}/{r['chains']} chains" for r in result["speed"] if r[key] < 1]
        return ", ".join(slow) if slow else "none of these sizes"

    lines += [
        "",
        f"thermonn is slower than thrml at: {losses('ratio_thermonn_over_thrml')}.  ",
        f"CPU-vs-GPU reference only (another algorithm on other hardware): NVIDIA's multispin "
        f"CUDA record is ~{result['nvidia_h100_record_site_updates_per_s']:.0e} site updates/s per "
        f"H100; the best one-core rate here is {best:.3g}/s for thermonn ({best / 9e11:.1e} of "
        f"it) and {best_thrml:.3g}/s for thrml ({best_thrml / 9e11:.1e}).",
        "",
        "## Correctness against the exact infinite-lattice values",
        "",
        "Mean over chains of each chain's time average after burn-in ± its standard error "
        f"(std over chains / √chains); z = (mean − exact) / se, |z| > {Z_FLAG:g} flagged **OFF**. "
        "e and |m| computed from both samplers' spins by one numpy function.",
        "",
        "| kT | start | L, chains, samples | exact e (Onsager) | thermonn e | thrml e "
        "| exact abs m (Yang) | thermonn abs m | thrml abs m |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result["checks"]:
        yang = (
            f"{c['yang_magnetisation']:.6f}"
            if c["start"] == "all up"
            else "0 (L → ∞; not compared)"
        )
        lines.append(
            f"| {c['kT']:.4f} | {c['start']} | {c['L']}, {c['chains']}, {c['samples']} "
            f"(every {c['thin']} after {c['burn']}) | {c['onsager_energy']:.6f} | "
            f"{_est(c['thermonn']['energy'])} | {_est(c['thrml']['energy'])} | "
            f"{yang} | {_est(c['thermonn']['abs_m'])} | "
            f"{_est(c['thrml']['abs_m'])} |"
        )
    conv = result["checks"][0]["thrml"]["energy_convention"] if result["checks"] else None
    if conv:
        lines += [
            "",
            f"Convention check: thrml's IsingEBM.energy of a random state = {conv['thrml_energy']:.4f}"
            f", β·E(s) = {conv['beta_times_E']:.4f} (E = −Σ s_i s_j = {conv['E']:.0f}): thrml samples "
            "e^{−energy} = e^{−βE}, the law thermonn samples. Above T_c, |m| is not compared "
            "(finite-size value O(1/L)). thermonn's own model.energy agrees with the common "
            "function to "
            + ", ".join(
                f"{c['thermonn']['own_energy_max_abs_diff']:.1e} (kT={c['kT']:.3g})"
                for c in result["checks"]
            )
            + " per site.",
        ]
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
