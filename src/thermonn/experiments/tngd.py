r"""``thermonn tngd``: TNGD, TNGD-Adam, Adam, SGD and exact NGD side by side.

Two tasks, one model each, the same initial weights and minibatch order per seed for every
optimiser:

* ``fashion-mnist``: a small CNN (conv 1→8, 3×3, ReLU, max-pool; conv 8→16, ReLU, max-pool;
  linear 784→10; 9,098 parameters) on the first ``train_size`` Fashion-MNIST training images
  (the paper's 10k), cross-entropy, batch 64;
* ``friedman1``: an MLP 10→16→16→1 (tanh, 465 parameters) on scikit-learn's Friedman #1
  regression (standardised), squared error, batch 64 — small enough for exact NGD by a dense
  GGN (``TNGD(solver="dense", time=inf)``).

Every run records the full training loss every ``eval_every`` steps against the step count and
the wall-clock of the optimisation alone (evaluations are off the clock), the median time per
step, and the test metric. The summary reports, per seed against Adam's final training loss,
the steps TNGD and TNGD-Adam take to reach it; TNGD's step time as a multiple of Adam's; and
how close the device's update at the configured time is to exact NGD (t = ∞ by Lanczos to
1e-10) on the same batch, at the start of training and after it. Each finished run is a JSON
file in the run folder, so an interrupted benchmark resumes at the next run.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from thermonn._io import atomic_write_json, atomic_write_text
from thermonn._random import seeded_default_generator
from thermonn._validation import check_float, check_int, check_seed
from thermonn.optim import TNGD
from thermonn.train import RunFolder, train_minibatch

__all__ = ["OPTIMIZERS", "TASKS", "TNGDConfig", "run_tngd"]

TASKS = ("fashion-mnist", "friedman1")
OPTIMIZERS = ("tngd", "tngd-adam", "adam", "sgd", "ngd")
DEFAULT_LR = {
    "fashion-mnist": {"tngd": 0.1, "tngd-adam": 3e-3, "adam": 0.01, "sgd": 0.1, "ngd": 0.1},
    "friedman1": {"tngd": 0.03, "tngd-adam": 3e-3, "adam": 0.03, "sgd": 0.1, "ngd": 0.1},
}
"""Learning rates per task, chosen on seed 100 (not a benchmark seed) by the final training loss:
friedman1 from {1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3} over 40 epochs at damping 1e-3; fashion-mnist
Adam and SGD from the same grid over 2 epochs, TNGD from {0.03, 0.1, 0.3, 1} × damping
{0.01, 0.1, 1} over 1 epoch, TNGD-Adam from {1e-3, 3e-3, 0.01} at damping 0.1 (docs/tngd.md)."""
DENSE_LIMIT = 2000  # parameters: exact NGD by a dense GGN only below this


@dataclass(frozen=True)
class TNGDConfig:
    """The task, optimisers, seeds, epochs (0: the task's default — 5 for fashion-mnist, 40 for
    friedman1), batch size, Fashion-MNIST training images, TNGD's time t, damping λ, noise κ₀
    and Krylov tolerance, the evaluation stride, and learning rates (0: the task's default)."""

    task: str = "fashion-mnist"
    optimizers: tuple[str, ...] = OPTIMIZERS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 0
    batch_size: int = 64
    train_size: int = 10_000
    time: float = 50.0
    damping: float = 0.1
    kappa: float = 0.0
    tol: float = 1e-3
    eval_every: int = 25
    lr_tngd: float = 0.0
    lr_tngd_adam: float = 0.0
    lr_adam: float = 0.0
    lr_sgd: float = 0.0
    lr_ngd: float = 0.0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task: expected one of {list(TASKS)}, got {self.task!r}")
        unknown = sorted(set(self.optimizers) - set(OPTIMIZERS))
        if unknown or not self.optimizers:
            raise ValueError(f"optimizers: expected names from {list(OPTIMIZERS)}, got {unknown}")
        if not self.seeds:
            raise ValueError("seeds: expected at least one seed")
        for s in self.seeds:
            check_seed("seeds", s)
        check_int("epochs", self.epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("train_size", self.train_size, minimum=self.batch_size)
        check_float("time", self.time, above=0.0)
        check_float("damping", self.damping, above=0.0)
        check_float("kappa", self.kappa, at_least=0.0)
        check_float("tol", self.tol, above=0.0)
        check_int("eval_every", self.eval_every, minimum=1)
        for name in OPTIMIZERS:
            check_float(f"lr_{name.replace('-', '_')}", self.lr(name, raw=True), at_least=0.0)

    def lr(self, name: str, *, raw: bool = False) -> float:
        value = getattr(self, f"lr_{name.replace('-', '_')}")
        return value if raw or value > 0 else DEFAULT_LR[self.task][name]

    @property
    def epoch_count(self) -> int:
        return self.epochs or (5 if self.task == "fashion-mnist" else 40)


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 10),
    )  # fmt: skip


def small_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
    )


@dataclass(frozen=True)
class _Task:
    x: Tensor
    y: Tensor
    x_test: Tensor
    y_test: Tensor
    model: Callable[[], nn.Module]
    loss: Callable[[Tensor, Tensor], Tensor]
    rule: str
    metric: str


def load_task(config: TNGDConfig) -> _Task:
    """The task's data and model (nothing downloaded; a missing Fashion-MNIST says how to get it)."""
    if config.task == "fashion-mnist":
        from thermonn.data.idx import load_idx_split

        split = load_idx_split(flatten=False, limit_train=config.train_size)
        return _Task(
            split.x_train.unsqueeze(1), split.y_train, split.x_test.unsqueeze(1), split.y_test,
            small_cnn, F.cross_entropy, "cross_entropy", "test accuracy",
        )  # fmt: skip
    from thermonn.data.tabular import load_sklearn_split

    split = load_sklearn_split("friedman1")
    return _Task(
        split.x_train, split.y_train.reshape(len(split.y_train), -1), split.x_test,
        split.y_test.reshape(len(split.y_test), -1), small_mlp, F.mse_loss, "mse", "test MSE",
    )  # fmt: skip


def make_optimizer(
    name: str, model: nn.Module, config: TNGDConfig, rule: str, seed: int = 0
) -> torch.optim.Optimizer:
    """The named optimiser with the configured learning rate; TNGD's device noise is drawn
    from a generator seeded by ``seed``."""
    lr = config.lr(name)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    dense = name == "ngd"
    return TNGD(
        model, lr=lr, time=math.inf if dense else config.time, kappa=0.0 if dense else config.kappa,
        warm_start=not dense, update="adam" if name == "tngd-adam" else "sgd",
        solver="dense" if dense else "krylov", damping=config.damping, output_hessian=rule,
        tol=config.tol, generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip


@torch.no_grad()
def _full_loss(task: _Task, model: nn.Module) -> float:
    return float(
        sum(
            task.loss(model(x), y) * len(x)
            for x, y in zip(task.x.split(2000), task.y.split(2000), strict=True)
        )
        / len(task.x)
    )


@torch.no_grad()
def _test_metric(task: _Task, model: nn.Module) -> float:
    out = model(task.x_test)
    if task.rule == "cross_entropy":
        return float((out.argmax(1) == task.y_test).double().mean())
    return float(F.mse_loss(out, task.y_test))


def ngd_agreement(task: _Task, model: nn.Module, config: TNGDConfig, rows: Tensor) -> float:
    """‖g(t) − g(∞)‖/‖g(∞)‖ of the device from a cold start on one batch, g(∞) by Lanczos at
    t = ∞ to 1e-10 (exact NGD up to that tolerance)."""
    steps = []
    for t, tol in ((config.time, config.tol), (math.inf, 1e-10)):
        twin = copy.deepcopy(model)
        opt = TNGD(twin, lr=1.0, time=t, damping=config.damping, warm_start=False,
                   output_hessian=task.rule, tol=tol, max_iter=500)  # fmt: skip
        before = torch.cat([p.detach().reshape(-1).clone() for p in twin.parameters()])
        loss = task.loss(twin(task.x[rows]), task.y[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps.append(before - torch.cat([p.detach().reshape(-1) for p in twin.parameters()]))
    return float((steps[0] - steps[1]).norm() / steps[1].norm())


def train_one(task: _Task, name: str, seed: int, config: TNGDConfig) -> dict[str, Any]:
    """One optimiser, one seed: the loss trace, step times, test metric (and NGD agreement)."""
    with seeded_default_generator(seed):  # the same initial weights for every optimiser
        model = task.model()
    opt = make_optimizer(name, model, config, task.rule, seed)
    probe = torch.randperm(len(task.x), generator=torch.Generator().manual_seed(seed))[
        : config.batch_size
    ]
    agreement = {}
    if name == "tngd":
        agreement["start"] = ngd_agreement(task, model, config, probe)
    trace: list[tuple[int, float, float]] = [(0, 0.0, _full_loss(task, model))]
    clock = {"elapsed": 0.0, "last": time.perf_counter()}
    done = [0]  # steps taken
    step_times: list[float] = []

    def batch_loss(rows: Tensor) -> Tensor:
        clock["last"] = time.perf_counter()
        return task.loss(model(task.x[rows]), task.y[rows])

    def after_step(*_: Any) -> None:
        now = time.perf_counter()
        step_times.append(now - clock["last"])
        clock["elapsed"] += now - clock["last"]
        done[0] += 1
        if done[0] % config.eval_every == 0:
            trace.append((done[0], clock["elapsed"], _full_loss(task, model)))

    hook = opt.register_step_post_hook(after_step)
    result = train_minibatch(
        batch_loss, len(task.x), opt, epochs=config.epoch_count, batch_size=config.batch_size,
        generator=torch.Generator().manual_seed(seed), modules=[model],
    )  # fmt: skip
    hook.remove()
    if trace[-1][0] != done[0]:
        trace.append((done[0], clock["elapsed"], _full_loss(task, model)))
    if name == "tngd":
        agreement["end"] = ngd_agreement(task, model, config, probe)
    return {
        "optimizer": name,
        "seed": seed,
        "lr": config.lr(name),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": result.steps,
        "diverged": result.diverged,
        "trace": trace,
        "final_train_loss": trace[-1][2],
        "median_step_seconds": statistics.median(step_times),
        "wall_seconds": clock["elapsed"],
        "test_metric": _test_metric(task, model),
        "ngd_agreement": agreement,
    }


def environment() -> dict[str, Any]:
    """The machine and versions a run measured on (wall-clock columns depend on them)."""
    import platform

    from thermonn import __version__

    return {
        "thermonn": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }


def _steps_to(trace: Sequence[Sequence[float]], target: float) -> int | None:
    for step, _, loss in trace:
        if loss <= target:
            return int(step)
    return None


def summarise(config: TNGDConfig, runs: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["optimizer"], r["seed"]): r for r in runs}
    out: dict[str, Any] = {"optimizers": {}}
    for name in config.optimizers:
        mine = [by[(name, s)] for s in config.seeds if (name, s) in by]
        if not mine:
            continue
        finals = [r["final_train_loss"] for r in mine]
        metrics = [r["test_metric"] for r in mine]
        out["optimizers"][name] = {
            "final_train_loss": _mean_std(finals),
            "test_metric": _mean_std(metrics),
            "median_step_seconds": statistics.median(r["median_step_seconds"] for r in mine),
            "wall_seconds": _mean_std([r["wall_seconds"] for r in mine]),
        }
    adam = out["optimizers"].get("adam")
    if adam is not None:
        for name in ("tngd", "tngd-adam", "ngd", "sgd"):
            if name not in out["optimizers"]:
                continue
            fractions = []
            for s in config.seeds:
                if (name, s) in by and ("adam", s) in by:
                    reached = _steps_to(by[(name, s)]["trace"], by[("adam", s)]["final_train_loss"])
                    total = by[("adam", s)]["steps"]
                    fractions.append(math.inf if reached is None else reached / total)
            out["optimizers"][name]["steps_to_adam_final_fraction"] = fractions
            out["optimizers"][name]["step_time_vs_adam"] = (
                out["optimizers"][name]["median_step_seconds"] / adam["median_step_seconds"]
            )
    tngd = [r["ngd_agreement"] for r in runs if r["optimizer"] == "tngd"]
    if tngd:
        out["ngd_agreement"] = {k: [a[k] for a in tngd if k in a] for k in ("start", "end")}
    return out


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    finite = [v for v in values if math.isfinite(v)]
    return {
        "mean": statistics.fmean(finite) if finite else math.nan,
        "std": statistics.stdev(finite) if len(finite) > 1 else 0.0,
        "non_finite": len(values) - len(finite),
    }


def run_tngd(
    config: TNGDConfig,
    run_dir: Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every (optimiser, seed) run — each saved as ``runs/<optimiser>-<seed>.json`` and skipped
    when present (resume) — then ``results.json``, ``report.md`` and ``tngd_loss.png``."""
    tick = progress or (lambda _n: None)
    folder = RunFolder(run_dir)
    task = load_task(config)  # a missing dataset fails before anything is written
    as_json = json.loads(json.dumps(asdict(config)))  # tuples as the file holds them: lists
    with folder.writing(lambda: folder.check_config(as_json), command=command):
        atomic_write_json(Path(run_dir) / "config.json", as_json)
        with seeded_default_generator(0):  # a throw-away model, the caller's RNG untouched
            dense_ok = sum(p.numel() for p in task.model().parameters()) <= DENSE_LIMIT
        runs = []
        for name in config.optimizers:
            for seed in config.seeds:
                path = Path(run_dir) / "runs" / f"{name}-{seed}.json"
                if path.exists():
                    runs.append(json.loads(path.read_text()))
                else:
                    if name == "ngd" and not dense_ok:
                        tick(1)
                        continue  # a dense GGN of this model is out of reach (stated in the report)
                    run = train_one(task, name, seed, config)
                    path.parent.mkdir(exist_ok=True)
                    atomic_write_json(path, run)
                    runs.append(run)
                tick(1)
        payload = {
            "config": asdict(config),
            "environment": environment(),
            "summary": summarise(config, runs),
            "runs": runs,
        }
        plot_losses(runs, Path(run_dir) / "tngd_loss.png", config.task)
        atomic_write_json(Path(run_dir) / "results.json", payload)
        atomic_write_text(Path(run_dir) / "report.md", report(payload))
    return payload


def report(p: dict[str, Any]) -> str:
    c, s = p["config"], p["summary"]
    lines = [
        f"# TNGD vs Adam, SGD and exact NGD — {c['task']}",
        "",
        f"Seeds {list(c['seeds'])}, batch {c['batch_size']}, epochs {c['epochs'] or 'default'}; "
        f"TNGD t = {c['time']}, λ = {c['damping']}, κ₀ = {c['kappa']}, Krylov tol {c['tol']}. "
        "Wall-clock is the optimisation alone on this computer (evaluations off the clock).",
        "",
        "![loss](tngd_loss.png)",
        "",
        "| optimiser | final train loss | test metric | step time (ms) | × Adam | steps to Adam's final loss (fraction of Adam's) |",
        "|---|---|---|---|---|---|",
    ]
    for name, o in s["optimizers"].items():
        fr = o.get("steps_to_adam_final_fraction")
        frac = (
            "—" if fr is None else ", ".join("never" if math.isinf(f) else f"{f:.2f}" for f in fr)
        )
        ratio = o.get("step_time_vs_adam")
        lines.append(
            f"| {name} | {o['final_train_loss']['mean']:.4f} ± {o['final_train_loss']['std']:.4f} | "
            f"{o['test_metric']['mean']:.4f} ± {o['test_metric']['std']:.4f} | "
            f"{o['median_step_seconds'] * 1e3:.2f} | {'—' if ratio is None else f'{ratio:.2f}'} | {frac} |"
        )
    if "ngd" in c["optimizers"] and "ngd" not in s["optimizers"]:
        lines += [
            "",
            f"Exact NGD was not run: the model has more than {DENSE_LIMIT} parameters for a dense GGN.",
        ]
    agreement = s.get("ngd_agreement")
    if agreement:
        lines += [
            "",
            f"TNGD's update at t = {c['time']} vs exact NGD (t = ∞, Lanczos to 1e-10) on one batch, "
            f"‖g(t) − g(∞)‖/‖g(∞)‖ per seed: at the start {', '.join(f'{v:.2e}' for v in agreement['start'])}; "
            f"after training {', '.join(f'{v:.2e}' for v in agreement['end'])}.",
        ]
    lines.append("")
    return "\n".join(lines)


def plot_losses(runs: Sequence[dict[str, Any]], path: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    names = [n for n in OPTIMIZERS if any(r["optimizer"] == n for r in runs)]
    for i, name in enumerate(names):
        mine = [r for r in runs if r["optimizer"] == name]
        for j, r in enumerate(mine):
            steps, wall, loss = zip(*r["trace"], strict=True)
            label = name if j == 0 else None
            axes[0].plot(steps, loss, color=f"C{i}", alpha=0.7, lw=1, label=label)
            axes[1].plot(wall[1:], loss[1:], color=f"C{i}", alpha=0.7, lw=1, label=label)
    axes[0].set(
        xlabel="iteration", ylabel="training loss", yscale="log", title=f"{task}: loss vs iteration"
    )
    axes[1].set(
        xscale="log",
        xlabel="wall-clock (s, this CPU; log scale)",
        ylabel="training loss",
        yscale="log",
        title="loss vs wall-clock",
    )
    axes[0].legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
