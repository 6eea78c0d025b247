"""``thermonn rbm``: a Bernoulli RBM trained by CD-k or PCD-k on binarized images, with
log-likelihoods bracketed by forward and reverse AIS.

Training is SGD with momentum on the (by default centred) contrastive-divergence gradient
(:class:`~thermonn.optim.ContrastiveDivergence`), one checkpoint per epoch (parameters,
optimiser state, persistent chains, generator: a resumed run continues bit for bit). After
training, forward AIS from the base-rate model (visible biases = logit of the training pixel
means) estimates log Z; reverse AIS started from model samples (the forward runs' final states
after ``reverse_burn_in`` further Gibbs sweeps) gives the other side of the bracket; the report
gives train and test log-likelihood per image with both bounds, the independent-pixel
baseline, and a grid of samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from thermonn._io import atomic_write_json, atomic_write_text
from thermonn._validation import check_bool, check_float, check_int, check_seed
from thermonn.data import BINARY_DATASETS, load_binarized
from thermonn.dynamics import integrate
from thermonn.estimators import (
    LikelihoodBracket,
    ais,
    annealing_schedule,
    likelihood_bracket,
    reverse_ais,
)
from thermonn.machines import RBM, RBMEnergy, RBMGibbs
from thermonn.optim import ContrastiveDivergence
from thermonn.train import RunFolder
from thermonn.train.checkpoint import (
    load_module,
    load_tensors,
    optimizer_from_tensors,
    optimizer_tensors,
    save_tensors,
)

__all__ = ["RBMConfig", "RBMRun", "evaluate_rbm", "run_rbm", "train_rbm"]

CHECKPOINT = "checkpoint.safetensors"
MONITORED = 1000  # training images whose reconstruction error is recorded after each epoch


@dataclass(frozen=True)
class RBMConfig:
    """Data (``dataset``, an IDX ``directory``, ``limit_train`` images), the model
    (``hidden`` units), the rule (``rule`` "pcd" or "cd", ``centered`` gradient, ``k``
    sweeps, ``chains`` persistent chains), SGD (``epochs``, ``batch_size``, ``lr``, ``momentum``,
    ``weight_decay``), AIS (``ais_steps`` on a sigmoid schedule, ``ais_runs``,
    ``reverse_burn_in``) and the seed."""

    dataset: str = "digits"
    directory: str | None = None
    limit_train: int | None = None
    hidden: int = 100
    rule: str = "pcd"
    centered: bool = True
    k: int = 1
    chains: int = 100
    epochs: int = 100
    batch_size: int = 20
    lr: float = 0.05
    momentum: float = 0.5
    weight_decay: float = 1e-4
    ais_steps: int = 10000
    ais_runs: int = 100
    reverse_burn_in: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in BINARY_DATASETS:
            raise ValueError(
                f"dataset: expected one of {list(BINARY_DATASETS)}, got {self.dataset!r}"
            )
        if self.rule not in ("pcd", "cd"):
            raise ValueError(f"rule: expected 'pcd' or 'cd', got {self.rule!r}")
        for name in ("hidden", "k", "chains", "epochs", "batch_size", "ais_steps", "ais_runs"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("reverse_burn_in", self.reverse_burn_in, minimum=0)
        if self.limit_train is not None:
            check_int("limit_train", self.limit_train, minimum=1)
        check_float("lr", self.lr, above=0.0)
        check_float("momentum", self.momentum, at_least=0.0)
        check_float("weight_decay", self.weight_decay, at_least=0.0)
        check_seed("seed", self.seed)
        check_bool("centered", self.centered)


@dataclass
class RBMRun:
    """A trained model and its training record."""

    model: RBM
    history: list[dict[str, float]]
    base_bias: Tensor
    seconds_per_epoch: float


def _data(config: RBMConfig) -> tuple[Tensor, Tensor]:
    split = load_binarized(
        config.dataset, directory=config.directory, limit_train=config.limit_train, seed=config.seed
    )
    return split.x_train, split.x_test


def train_rbm(
    config: RBMConfig,
    x_train: Tensor,
    *,
    checkpoint: Path | None = None,
    on_epoch: Callable[[int, dict[str, float]], object] | None = None,
) -> RBMRun:
    """Train (resuming from ``checkpoint`` when it exists, writing it after every epoch)."""
    g = torch.Generator().manual_seed(config.seed)
    model = RBM(x_train.shape[1], config.hidden, generator=g)
    model.init_visible_bias(x_train)
    base_bias = model.visible_bias.detach().clone()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    rule = ContrastiveDivergence(
        model,
        k=config.k,
        persistent=config.rule == "pcd",
        chains=config.chains,
        centered=config.centered,
        generator=g,
    )
    history: list[dict[str, float]] = []
    if checkpoint is not None and checkpoint.exists():
        tensors, meta = load_tensors(checkpoint)
        load_module(
            model,
            {k: v for k, v in tensors.items() if k.startswith("rbm.")},
            source=str(checkpoint),
            prefix="rbm.",
        )
        optimizer_from_tensors(optimizer, tensors, meta["groups"])
        if "negatives" in tensors:
            rule.load_state_dict({"negatives": tensors["negatives"]})
        g.set_state(tensors["generator"])
        history = meta["history"]
    for epoch in range(len(history), config.epochs):
        start = time.perf_counter()
        for rows in torch.randperm(len(x_train), generator=g).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            rule.backward(x_train[rows])
            optimizer.step()
        seconds = time.perf_counter() - start
        monitor = torch.Generator().manual_seed(config.seed * 100_003 + epoch)  # not g: resumable
        error = rule.reconstruction_error(x_train[:MONITORED], monitor)
        record = {"epoch": epoch + 1, "reconstruction_error": error, "seconds": seconds}
        history.append(record)
        if checkpoint is not None:
            opt_tensors, groups = optimizer_tensors(optimizer)
            tensors = {
                **{f"rbm.{k}": v for k, v in model.state_dict().items()},
                **opt_tensors,
                "generator": g.get_state(),
            }
            tensors.update(rule.state_dict())
            save_tensors(
                checkpoint,
                tensors,
                {"history": history, "groups": groups, "config": asdict(config)},
            )
        if on_epoch is not None:
            on_epoch(epoch + 1, record)
    seconds = sum(h["seconds"] for h in history) / max(len(history), 1)
    return RBMRun(model, history, base_bias, seconds)


def evaluate_rbm(
    energy: RBMEnergy,
    base_bias: Tensor,
    data: dict[str, Tensor],
    config: RBMConfig,
    generator: torch.Generator,
) -> tuple[dict[str, LikelihoodBracket], dict[str, Any], Tensor]:
    """Forward and reverse AIS of ``energy`` (base: the independent model with visible bias
    ``base_bias``), the bracket of every data set's mean log-likelihood, and model samples."""
    path = energy.annealing_path(base_bias)
    betas = annealing_schedule(config.ais_steps)
    start = time.perf_counter()
    forward, final = ais(path, betas, chains=config.ais_runs, generator=generator)
    samples = integrate(
        RBMGibbs(energy), final, steps=config.reverse_burn_in, generator=generator
    ).final
    reverse = reverse_ais(path, betas, samples, generator=generator)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        brackets = {
            name: likelihood_bracket(-energy.energy(x), forward, reverse)
            for name, x in data.items()
        }
    info = {
        "log_z_forward": forward.log_z,
        "log_z_forward_std": forward.log_z_std,
        "ess_forward": forward.ess,
        "log_z_reverse": reverse.log_z,
        "log_z_reverse_std": reverse.log_z_std,
        "ess_reverse": reverse.ess,
        "seconds": seconds,
    }
    return brackets, info, samples


def _independent_ll(x_train: Tensor, x: Tensor) -> float:
    """Mean log-likelihood of ``x`` under independent pixels with the (clipped) training means."""
    p = x_train.double().mean(0).clamp(1e-3, 1 - 1e-3)
    return float((x.double() * p.log() + (1 - x.double()) * (1 - p).log()).sum(-1).mean())


def run_rbm(
    config: RBMConfig,
    run_dir: Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train (resumable), evaluate, and write ``results.json``, ``report.md``,
    ``training.png`` and ``samples.png`` into ``run_dir``. ``progress`` gets 1 per epoch."""
    folder = RunFolder(run_dir)
    x_train, x_test = _data(config)
    with folder.writing(check=lambda: folder.check_config(asdict(config)), command=command):
        folder.write_json("config.json", asdict(config))
        run = train_rbm(
            config,
            x_train,
            checkpoint=Path(run_dir) / CHECKPOINT,
            on_epoch=None if progress is None else (lambda _e, _r: progress(1)),
        )
        m = run.model
        energy = RBMEnergy(
            m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach(), m.units
        )
        g = torch.Generator().manual_seed(config.seed + 1)
        brackets, info, samples = evaluate_rbm(
            energy, run.base_bias, {"train": x_train, "test": x_test}, config, g
        )
        payload = {
            "config": asdict(config),
            "history": run.history,
            "seconds_per_epoch": run.seconds_per_epoch,
            "ais": info,
            "log_likelihood": {name: b.summary() for name, b in brackets.items()},
            "independent_pixels": {
                "train": _independent_ll(x_train, x_train),
                "test": _independent_ll(x_train, x_test),
            },
        }
        atomic_write_json(Path(run_dir) / "results.json", payload)
        _plot_training(run.history, Path(run_dir) / "training.png")
        _plot_samples(energy, samples, Path(run_dir) / "samples.png")
        atomic_write_text(
            Path(run_dir) / "report.md", _report(config, payload, len(x_train), len(x_test))
        )
        return payload


def _report(config: RBMConfig, payload: dict[str, Any], n_train: int, n_test: int) -> str:
    ll, base, ais_info = payload["log_likelihood"], payload["independent_pixels"], payload["ais"]
    lines = [
        f"# RBM on binarized {config.dataset}",
        "",
        f"{config.hidden} hidden units, {'centred ' if config.centered else ''}{config.rule.upper()}-{config.k}"
        + (f" with {config.chains} persistent chains" if config.rule == "pcd" else "")
        + f", SGD lr {config.lr}, momentum {config.momentum}, weight decay {config.weight_decay}, "
        f"batch {config.batch_size}, {config.epochs} epochs over {n_train} training images "
        f"({payload['seconds_per_epoch']:.2f} s / epoch); {n_test} test images. Seed {config.seed}.",
        "",
        "| data | log-likelihood (nats / image) | bracket [reverse, forward] | independent pixels |",
        "|---|---|---|---|",
    ]
    for name in ("train", "test"):
        b = ll[name]
        lines.append(
            f"| {name} | {b['estimate']:.3f} | [{b['lower']:.3f}, {b['upper']:.3f}] | {base[name]:.3f} |"
        )
    lines += [
        "",
        f"log Z: forward AIS {ais_info['log_z_forward']:.3f} (± {ais_info['log_z_forward_std']:.3f}, ESS "
        f"{ais_info['ess_forward']:.0f} of {config.ais_runs}), reverse AIS {ais_info['log_z_reverse']:.3f} "
        f"(± {ais_info['log_z_reverse_std']:.3f}, ESS {ais_info['ess_reverse']:.0f}); {config.ais_steps} "
        f"intermediate distributions (sigmoid schedule), {ais_info['seconds']:.1f} s.",
        "Forward AIS underestimates log Z in expectation (so its log-likelihood is an upper "
        "estimate); reverse AIS overestimates it when started from exact model samples — here "
        f"the forward runs' final states after {config.reverse_burn_in} more Gibbs sweeps, so the "
        "lower end is as conservative as those chains are mixed.",
        "",
        "![training](training.png) ![samples](samples.png)",
    ]
    inverted = [name for name, b in ll.items() if not b["consistent"]]
    low_ess = min(ais_info["ess_forward"], ais_info["ess_reverse"]) < 0.1 * config.ais_runs
    if inverted or low_ess:
        lines += [
            "",
            "**Warning: AIS has not converged** — "
            + (
                f"the bracket is inverted beyond its noise ({', '.join(inverted)}); "
                if inverted
                else ""
            )
            + (
                f"an effective sample size below 10% of the {config.ais_runs} runs; "
                if low_ess
                else ""
            )
            + "these log-likelihoods are not reliable. Raise --ais-steps (and --reverse-burn-in).",
        ]
    return "\n".join(lines) + "\n"


def _plot_training(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([h["epoch"] for h in history], [h["reconstruction_error"] for h in history])
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"reconstruction error (first {MONITORED} images)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_samples(energy: RBMEnergy, samples: Tensor, path: Path, count: int = 64) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = math.isqrt(energy.n_visible)
    with torch.no_grad():
        means = energy.visible_mean(torch.sigmoid(energy.hidden_input(samples[:count])))
    cols = 8
    rows = math.ceil(len(means) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image in zip(axes.flat, means, strict=False):
        ax.imshow(image.view(side, -1).numpy(), cmap="gray_r", vmin=0, vmax=1)
    fig.suptitle("model samples (visible means)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
