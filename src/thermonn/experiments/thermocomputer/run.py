"""A thermodynamic-computer run folder: train (teacher, machine), eval, report.

Layout of ``RUN/``::

    config.json               dataset, preset, κ, trainer and its settings
    teacher.safetensors       the teacher MLP
    machine.safetensors       the trained machine
    fit_checkpoint.safetensors  Adam's resumable state (Adam trainer only)
    machine_action.safetensors  the action-fitted machine before distillation (distill_epochs > 0)
    distill_checkpoint.safetensors  distillation's resumable state
    evaluation.json           every measurement (evaluate_machine)
    eval_samples.safetensors  heat samples and output-spin paths for the plots
    summary.json              the machine-readable headline (see summary.summarise)
    report.md, plots/*.png    written by write_report (thermonn.experiments.thermocomputer.report)

Every file is written atomically; ``train`` on an existing folder resumes (a finished teacher
is loaded, Adam continues from its checkpoint) and refuses a different configuration.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from thermonn._io import read_json
from thermonn._random import seeded_default_generator
from thermonn._validation import check_float, check_int, check_optional_int, check_seed
from thermonn.data.split import DatasetSplit
from thermonn.experiments.thermocomputer.data import DATASETS, load_machine_data
from thermonn.experiments.thermocomputer.evaluate import topk_accuracy
from thermonn.experiments.thermocomputer.teacher import (
    build_teacher,
    teacher_targets,
    train_teacher,
)
from thermonn.machines.thermocomputer import (
    FitReport,
    MachineConfig,
    ThermoComputer,
    fit_adam,
    fit_distill,
    fit_exact,
    idealised_paths,
    mean_action,
)
from thermonn.train import RunFolder, load_module, load_tensors, save_tensors

__all__ = [
    "TRAINERS",
    "RunConfig",
    "accuracy",
    "check_run_folder",
    "load_data",
    "load_run",
    "train_run",
]

TRAINERS = ("exact", "adam")


@dataclass(frozen=True)
class RunConfig:
    """One experiment. ``kappa`` None is the exact guide; ``trainer`` 'exact' or 'adam' fits the
    action; ``distill_epochs`` > 0 then fine-tunes by distillation through the dynamics."""

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    kappa: float | None = 100.0
    trainer: str = "exact"
    epochs: int = 10
    lr: float = 5e-2
    batch_size: int = 256
    teacher_epochs: int = 30
    distill_epochs: int = 0
    distill_lr: float = 3e-3
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    t_final: float = 0.2
    blocks: tuple[str, ...] = MachineConfig().blocks

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {list(DATASETS)}, got {self.dataset!r}")
        if self.trainer not in TRAINERS:
            raise ValueError(f"trainer: expected one of {list(TRAINERS)}, got {self.trainer!r}")
        if self.kappa is not None:
            check_float("kappa", self.kappa, above=0.0)
        check_int("distill_epochs", self.distill_epochs, minimum=0)
        check_float("distill_lr", self.distill_lr, above=0.0)
        for name in ("epochs", "batch_size", "teacher_epochs"):
            check_int(name, getattr(self, name), minimum=1)
        check_float("lr", self.lr, above=0.0)
        check_seed("seed", self.seed)
        check_optional_int("limit_train", self.limit_train, 1)
        check_optional_int("limit_test", self.limit_test, 1)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise TypeError(f"data_dir: expected a str or None, got {type(self.data_dir).__name__}")
        self.machine_config(1)  # t_final and blocks, checked by the machine's own config

    def machine_config(self, n_in: int) -> MachineConfig:
        """The paper's preset (64 hidden, 10 outputs, J₂ = J₄ = kT = 1, Δt = 1e-3) for inputs
        of size ``n_in`` (784 for MNIST-like data: exactly the paper's machine)."""
        return MachineConfig(n_in=n_in, t_final=self.t_final, blocks=tuple(self.blocks))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "blocks": list(self.blocks)}


def accuracy(model: torch.nn.Module, split: DatasetSplit) -> float:
    """Top-1 test accuracy of ``model`` on ``split``."""
    with torch.no_grad():
        return topk_accuracy(model(split.x_test), split.y_test, 1)


@dataclass
class Run:
    """A loaded run folder: its config, data, teacher and machine."""

    folder: Path
    config: RunConfig
    data: DatasetSplit
    teacher: torch.nn.Sequential
    machine: ThermoComputer
    meta: dict[str, Any] = field(default_factory=dict)


def _config_from_json(raw: dict[str, Any], source: Path) -> RunConfig:
    try:
        return RunConfig(**{**raw, "blocks": tuple(raw.get("blocks", MachineConfig().blocks))})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{source}: not a run configuration written by thermonn ({err})") from None


def load_data(config: RunConfig) -> DatasetSplit:
    """The run's data set, preprocessed for the machine (errors name the file at fault)."""
    return load_machine_data(
        config.dataset,
        config.data_dir,
        limit_train=config.limit_train,
        limit_test=config.limit_test,
    )


def check_run_folder(folder: str | os.PathLike[str], config: RunConfig) -> None:
    """Refuse a folder that holds a run of another configuration (or an unreadable
    ``config.json``); writes nothing.

    Raises:
        ValueError: naming the folder and every differing field (was, now).
    """
    RunFolder(folder).check_config(config.to_json())


def train_run(
    config: RunConfig,
    folder: str | os.PathLike[str],
    *,
    log: Callable[[str], None] = print,
    teacher_progress: Callable[[int, float], None] | None = None,
    fit_progress: Callable[[int, float], None] | None = None,
    distill_progress: Callable[[int, float], None] | None = None,
    command: Sequence[str] | None = None,
    data: DatasetSplit | None = None,
) -> Run:
    """Train the teacher (or load it) and fit the machine; writes ``config.json``,
    ``teacher.safetensors``, ``machine.safetensors`` (+ Adam's checkpoint), and ``command.txt``
    when ``command`` (the ``thermonn`` arguments) is given.

    The folder and the data are checked first and the folder is locked for the whole run
    (:class:`~thermonn.train.RunFolder`); nothing is written before both checks pass.
    ``data`` is the run's :func:`load_data`, if the caller has already loaded it.

    Raises:
        ValueError: another configuration in the folder, bad data, or a folder in use.
    """
    run_folder = RunFolder(folder)
    run_folder.check_config(config.to_json())
    data = load_data(config) if data is None else data
    with run_folder.writing(lambda: run_folder.check_config(config.to_json()), command=command):
        run_folder.write_json("config.json", config.to_json())
        return _train(
            config, run_folder.path, data, log, teacher_progress, fit_progress, distill_progress
        )


def _train(
    config: RunConfig,
    folder: Path,
    data: DatasetSplit,
    log: Callable[[str], None],
    teacher_progress: Callable[[int, float], None] | None,
    fit_progress: Callable[[int, float], None] | None,
    distill_progress: Callable[[int, float], None] | None,
) -> Run:
    def stage_generator(stage: int) -> torch.Generator:
        # one stream per stage (teacher, Adam, distillation): a stage that starts after a
        # resumed or loaded earlier stage sees the same noise as in an uninterrupted run
        return torch.Generator().manual_seed(config.seed * 1000 + stage)

    with seeded_default_generator(config.seed):  # seeded weights, caller's RNG untouched
        teacher = build_teacher(data.num_features)
    path = folder / "teacher.safetensors"
    if path.is_file():
        load_module(teacher, load_tensors(path)[0], source=str(path))
        log(f"teacher loaded from {path}")
    else:
        start = time.perf_counter()
        train_teacher(
            teacher,
            data.x_train,
            data.y_train,
            epochs=config.teacher_epochs,
            generator=stage_generator(0),
            progress=teacher_progress,
        )
        save_tensors(path, teacher.state_dict(), {"seconds": time.perf_counter() - start})
    teacher.eval()
    log(f"teacher top-1 {accuracy(teacher, data):.4f}")
    machine = ThermoComputer(config.machine_config(data.num_features))
    targets = teacher_targets(teacher, data.x_train)
    action_file = folder / "machine_action.safetensors"
    if config.distill_epochs and action_file.is_file():
        tensors, meta = load_tensors(action_file)
        load_module(machine, tensors, source=str(action_file))
        report = FitReport(**meta["fit"])
        log(f"action-fitted machine loaded from {action_file}")
    elif config.trainer == "exact":
        report = fit_exact(machine, data.x_train, targets, kappa=config.kappa)
    else:
        report = fit_adam(
            machine,
            data.x_train,
            targets,
            kappa=config.kappa,
            epochs=config.epochs,
            lr=config.lr,
            batch_size=config.batch_size,
            generator=stage_generator(1),
            checkpoint=folder / "fit_checkpoint.safetensors",
            progress=fit_progress,
        )
    log(
        f"machine fitted ({report.method}): action per step per unit "
        f"{report.action_per_unit_step:.4f}, {report.seconds:.1f} s"
    )
    fit = {"fit": asdict(report)}
    if config.distill_epochs:
        save_tensors(action_file, machine.state_dict(), fit)
        with torch.no_grad():
            probs = teacher(data.x_train).softmax(-1)
        distill = fit_distill(
            machine,
            data.x_train,
            probs,
            epochs=config.distill_epochs,
            lr=config.distill_lr,
            batch_size=config.batch_size,
            generator=stage_generator(2),
            checkpoint=folder / "distill_checkpoint.safetensors",
            progress=distill_progress,
        )
        distill.action_per_unit_step = mean_action(
            machine, data.x_train, idealised_paths(targets, machine.config, config.kappa)
        )
        fit["distill"] = asdict(distill)
        log(f"distilled: cross-entropy {distill.history[-1]:.4f}, {distill.seconds:.1f} s")
    save_tensors(folder / "machine.safetensors", machine.state_dict(), fit)
    return Run(folder, config, data, teacher, machine, fit)


def load_run(folder: str | os.PathLike[str]) -> Run:
    """A trained run folder (config, data, teacher and machine), shapes checked.

    Raises:
        FileNotFoundError: the folder is not a trained run.
        ValueError: a parameter file does not fit the configuration.
    """
    folder = Path(folder)
    for name in ("config.json", "teacher.safetensors", "machine.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder}: no {name}; train first with `thermonn computer train --out {folder}`"
            )
    config = _config_from_json(read_json(folder / "config.json") or {}, folder / "config.json")
    data = load_data(config)
    with seeded_default_generator(None):  # initial weights are overwritten below
        teacher = build_teacher(data.num_features)
    load_module(
        teacher,
        load_tensors(folder / "teacher.safetensors")[0],
        source=str(folder / "teacher.safetensors"),
    )
    machine = ThermoComputer(config.machine_config(data.num_features))
    tensors, meta = load_tensors(folder / "machine.safetensors")
    load_module(machine, tensors, source=str(folder / "machine.safetensors"))
    return Run(folder, config, data, teacher.eval(), machine, meta)
