r"""``thermonn linalg``: accuracy of thermodynamic linear algebra against samples and device time.

For a d × d Wishart matrix A = XXᵀ/(2d) (X ~ N(0, 1)^{d×2d}, eigenvalues in ≈ [0.09, 2.9]) and a
Gaussian b, each of :func:`~thermonn.linalg.solve`, :func:`~thermonn.linalg.inv`,
:func:`~thermonn.linalg.expnegm` and :func:`~thermonn.linalg.logdet` runs at every sample count
and seed; the relative error ‖estimate − exact‖_F / ‖exact‖_F against ``torch.linalg`` is
reported with the modelled device time (τ), energy and this computer's wall-clock — separate
columns — beside the digital ``torch.linalg`` call's wall-clock, which wins on this computer.
:func:`~thermonn.linalg.logdet` uses ``samples // 10`` switching chains (each a work readout).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from thermonn import linalg
from thermonn._io import atomic_write_json, atomic_write_text
from thermonn._validation import check_float, check_int, check_seed
from thermonn.train import RunFolder

__all__ = ["FUNCTIONS", "LinalgConfig", "digital_answer", "run_linalg", "wishart"]

FUNCTIONS = ("solve", "inv", "expnegm", "logdet")


@dataclass(frozen=True)
class LinalgConfig:
    """The matrix size, the sample counts swept, the seeds, the functions, the readout
    interval (τ), the burn-in (τ) and the logdet switching time (τ)."""

    dim: int = 50
    samples: tuple[int, ...] = (1000, 3000, 10000)
    seeds: tuple[int, ...] = (0, 1, 2)
    functions: tuple[str, ...] = FUNCTIONS
    interval: float = 1.0
    burn_in: float = 0.0
    switch_time: float = 20.0

    def __post_init__(self) -> None:
        check_int("dim", self.dim, minimum=1)
        if not self.samples or not self.seeds or not self.functions:
            raise ValueError("samples, seeds, functions: expected at least one value each")
        for n in self.samples:
            check_int("samples", n, minimum=20)
        for s in self.seeds:
            check_seed("seeds", s)
        unknown = sorted(set(self.functions) - set(FUNCTIONS))
        if unknown:
            raise ValueError(f"functions: expected names from {list(FUNCTIONS)}, got {unknown}")
        check_float("interval", self.interval, above=0.0)
        check_float("burn_in", self.burn_in, at_least=0.0)
        check_float("switch_time", self.switch_time, above=0.0)


def wishart(dim: int, seed: int) -> tuple[Tensor, Tensor]:
    """A = XXᵀ/(2d) with X ~ N(0, 1)^{d×2d} and b ~ N(0, I), float64, from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(dim, 2 * dim, dtype=torch.float64, generator=g)
    return x @ x.T / (2 * dim), torch.randn(dim, dtype=torch.float64, generator=g)


def digital_answer(name: str, a: Tensor, b: Tensor) -> Tensor:
    """The ``torch.linalg`` answer of each function (the oracle and the digital competitor)."""
    if name == "solve":
        return torch.linalg.solve(a, b)
    if name == "inv":
        return torch.linalg.inv(a)
    if name == "expnegm":
        return torch.linalg.matrix_exp(-a)
    return torch.linalg.slogdet(a)[1]


def relative_error(estimate: Tensor, exact: Tensor) -> float:
    return float((estimate - exact).norm() / exact.norm())


def _thermodynamic(
    name: str, a: Tensor, b: Tensor, samples: int, config: LinalgConfig, g: torch.Generator
) -> linalg.ThermoLinalgResult:
    if name == "solve":
        return linalg.solve(
            a, b, samples=samples, interval=config.interval, burn_in=config.burn_in, generator=g
        )
    if name == "inv":
        return linalg.inv(
            a, samples=samples, interval=config.interval, burn_in=config.burn_in, generator=g
        )
    if name == "expnegm":
        return linalg.expnegm(a, samples=samples, burn_in=config.burn_in, generator=g)
    return linalg.logdet(
        a, chains=max(2, samples // 10), switch_time=config.switch_time, generator=g
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _digital_seconds(name: str, a: Tensor, b: Tensor) -> float:
    digital_answer(name, a, b)  # warm-up
    times = []
    for _ in range(20):
        _, seconds = _timed(lambda: digital_answer(name, a, b))
        times.append(seconds)
    return statistics.median(times)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def sweep(
    config: LinalgConfig, *, progress: Callable[[int], object] | None = None
) -> list[dict[str, Any]]:
    """One row per function and sample count: error, standard error, device and wall-clock
    columns over the seeds."""
    tick = progress or (lambda _n: None)
    rows = []
    for name in config.functions:
        for samples in config.samples:
            errors, stderrs, walls, digital = [], [], [], []
            costs: list[linalg.DeviceCost] = []
            for seed in config.seeds:
                a, b = wishart(config.dim, seed)
                exact = digital_answer(name, a, b)
                g = torch.Generator().manual_seed(seed + 1)
                result, seconds = _timed(lambda: _thermodynamic(name, a, b, samples, config, g))  # noqa: B023
                errors.append(relative_error(result.estimate, exact))
                stderrs.append(float(result.stderr.norm() / exact.norm()))
                walls.append(seconds)
                digital.append(_digital_seconds(name, a, b))
                costs.append(result.device)
                tick(1)
            device = costs[-1]  # the same dimension and couplings for every seed
            error, error_std = _mean_std(errors)
            rows.append(
                {
                    "function": name,
                    "samples": samples,
                    "readouts": device.samples,
                    "error": error,
                    "error_std": error_std,
                    "reported_stderr": statistics.fmean(stderrs),
                    "device_time_tau": device.time,
                    "device_seconds": device.seconds,
                    "device_energy_joules": device.energy_joules,
                    "wall_seconds": statistics.median(walls),
                    "digital_seconds": statistics.median(digital),
                }
            )
    return rows


def run_linalg(
    config: LinalgConfig,
    run_dir: Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run the sweep; write ``results.json``, ``report.md`` and ``linalg_accuracy.png``.
    ``progress`` is called with 1 per finished (function, samples, seed)."""
    with RunFolder(run_dir).writing(command=command):
        rows = sweep(config, progress=progress)
        payload = {
            "config": asdict(config),
            "device_model": asdict(linalg.DeviceModel()),
            "rows": rows,
        }
        plot_accuracy(rows, Path(run_dir) / "linalg_accuracy.png")
        atomic_write_json(Path(run_dir) / "results.json", payload)
        atomic_write_text(Path(run_dir) / "report.md", report(payload))
    return payload


def report(p: dict[str, Any]) -> str:
    c = p["config"]
    lines = [
        "# Thermodynamic linear algebra: accuracy against samples",
        "",
        f"A = XXᵀ/(2d), d = {c['dim']}, seeds {list(c['seeds'])}; readouts every "
        f"{c['interval']} τ after {c['burn_in']} τ; logdet by Jarzynski over samples/10 "
        f"switching chains of {c['switch_time']} τ. Error: ‖estimate − exact‖_F / ‖exact‖_F, "
        "mean ± std over seeds. Device columns are the modelled analog device "
        "(thermonn.linalg.DeviceModel defaults, assumptions); wall-clock is this computer's "
        "simulation; the digital column is torch.linalg on this computer.",
        "",
        "![accuracy](linalg_accuracy.png)",
        "",
        "| function | samples | error | reported stderr | device time (τ) | device energy (J) | simulation wall (s) | torch.linalg wall (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in p["rows"]:
        lines.append(
            f"| {r['function']} | {r['samples']} | {r['error']:.3g} ± {r['error_std']:.2g} | "
            f"{r['reported_stderr']:.3g} | {r['device_time_tau']:.4g} | "
            f"{r['device_energy_joules']:.3g} | {r['wall_seconds']:.3g} | {r['digital_seconds']:.2g} |"
        )
    lines += [
        "",
        "The digital answer is exact to rounding and takes microseconds here; the simulated "
        "device needs thousands of samples for percent-level accuracy (error ∝ 1/√samples). "
        "What a device would save is in the device columns, which rest on assumed constants.",
        "",
    ]
    return "\n".join(lines)


def plot_accuracy(
    rows: Sequence[dict[str, Any]], path: Path, extra: Sequence[dict[str, Any]] = ()
) -> None:
    """Error vs samples and vs device time per function (``extra``: rows of another library,
    with ``function``, ``samples``, ``error``, ``library``, drawn dashed in the first panel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    names = sorted({r["function"] for r in rows}, key=FUNCTIONS.index)
    for i, name in enumerate(names):
        mine = [r for r in rows if r["function"] == name]
        color = f"C{i}"
        n = [r["samples"] for r in mine]
        err = [r["error"] for r in mine]
        axes[0].errorbar(
            n,
            err,
            yerr=[r["error_std"] for r in mine],
            fmt="o-",
            color=color,
            label=f"{name} (thermonn)",
        )
        axes[1].plot([r["device_time_tau"] for r in mine], err, "o-", color=color, label=name)
        theirs = [r for r in extra if r["function"] == name]
        if theirs:
            axes[0].plot(
                [r["samples"] for r in theirs],
                [r["error"] for r in theirs],
                "s--",
                color=color,
                alpha=0.7,
                label=f"{name} ({theirs[0]['library']})",
            )
    if rows:
        n0 = min(r["samples"] for r in rows)
        guide = [n0, max(r["samples"] for r in rows)]
        e0 = max(r["error"] for r in rows if r["samples"] == n0)
        axes[0].plot(
            guide, [e0 * math.sqrt(n0 / g) for g in guide], "k:", lw=1, label="∝ 1/√samples"
        )
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="samples",
        ylabel="relative error",
        title="error vs samples",
    )
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="device time (τ)",
        ylabel="relative error",
        title="error vs modelled device time",
    )
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.savefig(path, dpi=120)
    plt.close(fig)
