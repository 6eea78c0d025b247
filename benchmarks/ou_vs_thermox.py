"""thermonn's exact Ornstein–Uhlenbeck process against thermox (Normal Computing, JAX), side by side.

dx = −A(x − b)dt + N(0, D dt) on both sides, one process pinned to one core, float64 everywhere
(``jax_enable_x64``), same A, b, D, x0 and time grid.

1. **Throughput**: one path of d = 100 at 10,000 uniform times (t ∈ [0, 100]), scalars sampled
   per second (d · points / wall-clock), median of ``--repeats`` timed runs after a warm-up
   (JAX's compilation excluded and reported apart; ``block_until_ready``). thermox is timed as a
   user calls it (``sample(key, ts, x0, A, b, D)``, which diagonalises every call) and with its
   ``preprocess`` done once outside the timer; thermonn as ``OUProcess(...).sample(ts, x0)``
   (validation, Van Loan transition, the ExactOU stepper on the integrate() driver).
2. **Agreement on normal drifts** (where thermox is exact): a symmetric A with D = 2I and a
   normal non-symmetric A = αI + K (K skew) with D = 2I: transition mean and covariance at
   t = 0.37 and 5 and the log-likelihood of one shared path — max relative differences.
3. **A non-normal drift**: a random stable 4 × 4 drift (seeded) with a random SPD D; both
   libraries' transition covariance at t = 1 and (large t) stationary covariance against the
   Lyapunov solution ``scipy.linalg.solve_continuous_lyapunov`` and a quadrature of
   ∫ e^{−As} D e^{−Aᵀs} ds (``scipy.integrate.quad_vec``). thermox diagonalises the symmetric part
   of the whitened drift, which is exact only when it commutes with the antisymmetric part.

    /work/main/.venv-anchors/bin/python benchmarks/ou_vs_thermox.py

Writes benchmarks/results/ou_vs_thermox.{json,md}. Needs thermox (``pip install thermox`` into the
anchors environment, see docs/tngd.md). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import jax
import numpy as np
import scipy.integrate
import scipy.linalg
import thermox
import thermox.conditional
import torch

from _common import RESULTS, git_state, package_versions, pin_one_core
from thermonn.dynamics import OUProcess

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

F64 = torch.float64


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(d: int, points: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    m = rng.standard_normal((d, d)) / np.sqrt(d)
    a = m @ m.T + 0.5 * np.eye(d)  # SPD drift: both sides exact
    lower = rng.standard_normal((d, d)) / np.sqrt(d)
    diff = lower @ lower.T + 0.5 * np.eye(d)
    b = rng.standard_normal(d)
    ts = np.linspace(0.0, 100.0, points)
    x0 = np.zeros(d)
    key = jax.random.PRNGKey(0)
    ja, jb, jd, jt, jx = (jnp.asarray(v) for v in (a, b, diff, ts, x0))

    sample = jax.jit(thermox.sample)
    start = time.perf_counter()
    sample(key, jt, jx, ja, jb, jd).block_until_ready()
    compile_s = time.perf_counter() - start
    tx = _median_time(lambda: sample(key, jt, jx, ja, jb, jd).block_until_ready(), repeats)
    pa, pd = thermox.preprocess(ja, jd)
    tx_pre = _median_time(lambda: sample(key, jt, jx, pa, jb, pd).block_until_ready(), repeats)

    ta, tb, td = (torch.from_numpy(v) for v in (a, b, diff))
    tts, tx0 = torch.from_numpy(ts), torch.from_numpy(x0)

    def ours() -> None:
        OUProcess(ta, tb, td).sample(tts, tx0, generator=torch.Generator().manual_seed(0))

    process = OUProcess(ta, tb, td)
    ours_s = _median_time(ours, repeats)
    ours_sample_s = _median_time(
        lambda: process.sample(tts, tx0, generator=torch.Generator().manual_seed(0)), repeats
    )
    scalars = d * points
    return {
        "d": d,
        "points": points,
        "thermox_s": tx,
        "thermox_preprocessed_s": tx_pre,
        "thermox_compile_s": compile_s,
        "thermonn_s": ours_s,
        "thermonn_sample_only_s": ours_sample_s,
        "thermox_rate": scalars / tx,
        "thermox_preprocessed_rate": scalars / tx_pre,
        "thermonn_rate": scalars / ours_s,
        "thermonn_sample_only_rate": scalars / ours_sample_s,
    }


def _rel(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(x - ref).max() / np.abs(ref).max())


def agreement() -> dict:
    rng = np.random.default_rng(1)
    d = 6
    m = rng.standard_normal((d, d))
    sym = m @ m.T / d + 0.3 * np.eye(d)
    skew = rng.standard_normal((d, d))
    skew = skew - skew.T
    drifts = {"symmetric": sym, "normal (αI + skew)": 0.8 * np.eye(d) + 0.5 * skew}
    b = rng.standard_normal(d)
    x0 = rng.standard_normal(d)
    diff = 2.0 * np.eye(d)
    out = {}
    for name, a in drifts.items():
        process = OUProcess(*(torch.from_numpy(v) for v in (a, b, diff)))
        row = {}
        for t in (0.37, 5.0):
            mean, cov = thermox.conditional.mean_and_covariance(
                t, jnp.asarray(x0), jnp.asarray(a), jnp.asarray(b), jnp.asarray(diff)
            )
            ours = process.conditional(torch.from_numpy(x0), t)
            row[f"mean_t{t}"] = _rel(ours.mean.numpy(), np.asarray(mean))
            row[f"cov_t{t}"] = _rel(ours.covariance.numpy(), np.asarray(cov))
        ts = np.linspace(0.0, 20.0, 401)
        path = process.sample(
            torch.from_numpy(ts), torch.from_numpy(x0), generator=torch.Generator().manual_seed(2)
        ).states
        lp_ours = float(process.log_prob(torch.from_numpy(ts), path))
        lp_tx = float(
            thermox.log_prob(
                jnp.asarray(ts), jnp.asarray(path.numpy()), jnp.asarray(a), jnp.asarray(b),
                jnp.asarray(diff),
            )
        )  # fmt: skip
        row["log_prob_thermonn"] = lp_ours
        row["log_prob_thermox"] = lp_tx
        row["log_prob_rel"] = abs(lp_ours - lp_tx) / abs(lp_tx)
        out[name] = row
    return out


def _non_normal_case(a: np.ndarray, diff: np.ndarray) -> dict:
    d = len(a)
    process = OUProcess(*(torch.from_numpy(v) for v in (a, np.zeros(d), diff)))
    lyap = scipy.linalg.solve_continuous_lyapunov(a, diff)
    q1 = scipy.integrate.quad_vec(
        lambda s: scipy.linalg.expm(-a * s) @ diff @ scipy.linalg.expm(-a.T * s), 0.0, 1.0,
        epsabs=1e-13, epsrel=1e-12,
    )[0]  # fmt: skip
    ja, jd = jnp.asarray(a), jnp.asarray(diff)
    tx_q1 = np.asarray(thermox.conditional.covariance(1.0, ja, jd))
    slowest = 1.0 / np.linalg.eigvals(a).real.min()
    tx_inf = np.asarray(thermox.conditional.covariance(60.0 * slowest, ja, jd))
    ours_q1 = process.transition(1.0).covariance.numpy()
    ours_inf = process.stationary().covariance.numpy()
    root = np.linalg.cholesky(diff)
    whitened = np.linalg.solve(root, a @ root)  # thermox's A_y = D^{-1/2} A D^{1/2}
    sym, skew = whitened + whitened.T, whitened - whitened.T
    return {
        "eigenvalues_real_min": float(np.linalg.eigvals(a).real.min()),
        "whitened_symmetric_part_min_eigenvalue": float(np.linalg.eigvalsh(sym / 2).min()),
        "commutator_norm": float(np.linalg.norm(sym @ skew - skew @ sym)),
        "transition_t1": {"thermonn": _rel(ours_q1, q1), "thermox": _rel(tx_q1, q1)},
        "stationary": {"thermonn": _rel(ours_inf, lyap), "thermox": _rel(tx_inf, lyap)},
    }


def non_normal() -> dict:
    """A mildly non-normal drift (the whitened symmetric part positive definite, as in the
    2.7% measured before) and a strongly non-normal one (a random stable 4 × 4 drift whose
    whitened symmetric part is indefinite)."""
    rng = np.random.default_rng(3)
    d = 4
    lower = rng.standard_normal((d, d))
    diff = lower @ lower.T + 0.5 * np.eye(d)
    mild = np.eye(d) + 0.25 * rng.standard_normal((d, d))
    while True:
        strong = rng.standard_normal((d, d)) + 1.2 * np.eye(d)
        if np.linalg.eigvals(strong).real.min() > 0.1:
            break
    return {
        "mild": _non_normal_case(mild, np.eye(d)),
        "mild, random D": _non_normal_case(mild, diff),
        "strong, random D": _non_normal_case(strong, diff),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    cores = None if args.no_pin else pin_one_core()
    torch.set_num_threads(1)
    result = {
        "command": "/work/main/.venv-anchors/bin/python benchmarks/ou_vs_thermox.py",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": cores},
        "versions": package_versions(["thermonn", "thermox", "jax", "torch", "numpy"]),
        "git": git_state(),
        "throughput": throughput(100, 10_000, args.repeats),
        "agreement": agreement(),
        "non_normal": non_normal(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ou_vs_thermox.json").write_text(json.dumps(result, indent=2, default=str))
    (RESULTS / "ou_vs_thermox.md").write_text(render(result))
    print(render(result))


def render(r: dict) -> str:
    t = r["throughput"]
    lines = [
        "# Exact OU processes: thermonn vs thermox",
        "",
        f"`{r['command']}` — one pinned core, float64; versions {r['versions']}; git {r['git']}.",
        "",
        f"## Throughput (d = {t['d']}, {t['points']} uniform times, one path; median wall-clock)",
        "",
        "| library | call | seconds | scalars / s |",
        "|---|---|---|---|",
        f"| thermox | `sample(key, ts, x0, A, b, D)` (diagonalises per call) | {t['thermox_s']:.4f} | {t['thermox_rate']:.3g} |",
        f"| thermox | after `preprocess` (outside the timer) | {t['thermox_preprocessed_s']:.4f} | {t['thermox_preprocessed_rate']:.3g} |",
        f"| thermonn | `OUProcess(A, b, D).sample(ts, x0)` (validation + transition + path) | {t['thermonn_s']:.4f} | {t['thermonn_rate']:.3g} |",
        f"| thermonn | `process.sample(ts, x0)` (process built outside the timer) | {t['thermonn_sample_only_s']:.4f} | {t['thermonn_sample_only_rate']:.3g} |",
        "",
        f"thermonn / thermox throughput: {t['thermonn_rate'] / t['thermox_rate']:.2f}× as called, "
        f"{t['thermonn_sample_only_rate'] / t['thermox_preprocessed_rate']:.2f}× with both "
        f"preprocessed. JAX compilation (excluded): {t['thermox_compile_s']:.2f} s.",
        "",
        "## Agreement where thermox is exact (normal drifts, D = 2I): max relative difference",
        "",
        "| drift | mean t=0.37 | cov t=0.37 | mean t=5 | cov t=5 | log_prob (thermonn / thermox) | rel |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in r["agreement"].items():
        lines.append(
            f"| {name} | {row['mean_t0.37']:.1e} | {row['cov_t0.37']:.1e} | {row['mean_t5.0']:.1e} "
            f"| {row['cov_t5.0']:.1e} | {row['log_prob_thermonn']:.6f} / {row['log_prob_thermox']:.6f} "
            f"| {row['log_prob_rel']:.1e} |"
        )
    lines += [
        "",
        "## Non-normal drifts (4 × 4): relative error, max entry / max entry",
        "",
        "thermox diagonalises the symmetric part of its whitened drift A_y = D^{-1/2} A D^{1/2}; "
        "that is exact only when it commutes with the antisymmetric part. Oracles: a quadrature "
        "of ∫₀¹ e^{−As} D e^{−Aᵀs} ds (`scipy.integrate.quad_vec`) and the Lyapunov solution "
        "(`scipy.linalg.solve_continuous_lyapunov`); thermox's stationary covariance is its "
        "transition covariance at 60 relaxation times.",
        "",
        "| drift | min Re λ(A) | min λ(sym A_y) | ‖[S, K]‖ | Q(1): thermonn | Q(1): thermox | Σ∞: thermonn | Σ∞: thermox |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, n in r["non_normal"].items():
        lines.append(
            f"| {name} | {n['eigenvalues_real_min']:.3f} | "
            f"{n['whitened_symmetric_part_min_eigenvalue']:.3f} | {n['commutator_norm']:.2f} | "
            f"{n['transition_t1']['thermonn']:.1e} | {n['transition_t1']['thermox']:.3g} | "
            f"{n['stationary']['thermonn']:.1e} | {n['stationary']['thermox']:.3g} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
