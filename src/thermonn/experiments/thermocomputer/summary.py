"""Scoring a trained run folder: ``evaluation.json`` (every measurement), the κ sweep,
``eval_samples.safetensors`` (what the plots need) and ``summary.json`` (the headline, beside
the paper's numbers)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch

from thermonn._validation import check_float, check_int, check_seed
from thermonn.experiments.thermocomputer.evaluate import Evaluation, evaluate_machine, topk_accuracy
from thermonn.experiments.thermocomputer.run import Run, accuracy, load_run
from thermonn.experiments.thermocomputer.teacher import teacher_targets
from thermonn.machines.thermocomputer import (
    DigitalCost,
    ThermoComputer,
    count_macs,
    fit_exact,
    heat_released,
)
from thermonn.train import RunFolder, save_tensors

__all__ = ["PAPER", "evaluate_run", "kappa_sweep", "summarise"]

PAPER = {
    "dataset": "MNIST",
    "teacher_top1": 0.973,
    "student_top1_m1": 0.917,
    "student_top1_m10": 0.920,
    "student_top2": 0.967,
    "ratio": 0.946,
    "heat_kT": 1e5,
    "advantage": 1e7,
}


def kappa_sweep(
    run: Run, kappas: Sequence[float | None], *, generator: torch.Generator
) -> list[dict[str, Any]]:
    """Refit (exact action fit, no distillation) at each κ and score: top-1 (M = 1) and heat
    per classification."""
    rows = []
    targets = teacher_targets(run.teacher, run.data.x_train)
    for kappa in kappas:
        machine = ThermoComputer(run.machine.config)
        fit_exact(machine, run.data.x_train, targets, kappa=kappa)
        with torch.no_grad():
            x = machine.run(run.data.x_test, generator=generator).final[0]
            heat = heat_released(machine, run.data.x_test, x) / machine.config.kT
        rows.append(
            {
                "kappa": "exact" if kappa is None else kappa,
                "top1_m1": topk_accuracy(x[:, machine.config.n_hidden :], run.data.y_test, 1),
                "heat_kT_mean": float(heat.mean()),
                "heat_kT_std": float(heat.std()),
            }
        )
    return rows


def evaluate_run(
    folder: str | os.PathLike[str],
    *,
    trajectories: int = 10,
    kappas: Sequence[float | None] = (),
    seed: int = 0,
    joules_per_mac: float = 1e-12,
    temperature: float = 300.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Score the run folder's machine; writes ``evaluation.json``, ``eval_samples.safetensors``
    and ``summary.json`` and returns the summary.  Every argument is checked before any work."""
    start = time.perf_counter()
    check_int("trajectories", trajectories, minimum=1)
    check_seed("seed", seed)
    check_float("joules_per_mac", joules_per_mac, above=0.0)
    check_float("temperature", temperature, above=0.0)
    for kappa in kappas:
        if kappa is not None:
            check_float("kappas", kappa, above=0.0)
    run = load_run(folder)
    with RunFolder(folder).writing():
        return _evaluate(run, trajectories, kappas, seed, joules_per_mac, temperature, log, start)


def _evaluate(
    run: Run,
    trajectories: int,
    kappas: Sequence[float | None],
    seed: int,
    joules_per_mac: float,
    temperature: float,
    log: Callable[[str], None],
    start: float,
) -> dict[str, Any]:
    folder = run.folder
    generator = torch.Generator().manual_seed(seed)
    digital = DigitalCost(count_macs(run.teacher), joules_per_mac, temperature)
    targets = teacher_targets(run.teacher, run.data.x_test)
    result: Evaluation = evaluate_machine(
        run.machine,
        run.data.x_test,
        run.data.y_test,
        targets,
        kappa=run.config.kappa,
        digital=digital,
        trajectories=trajectories,
        generator=generator,
        progress=lambda s: log(f"eval: {s}"),
    )
    t0 = time.perf_counter()
    with torch.no_grad():
        run.machine.run(run.data.x_test[:10000], generator=generator)
    classify_seconds = time.perf_counter() - t0
    sweep = kappa_sweep(run, kappas, generator=generator) if kappas else []
    evaluation = {k: v for k, v in asdict(result).items() if not isinstance(v, torch.Tensor)}
    evaluation.update(kappa_sweep=sweep, teacher_top1=accuracy(run.teacher, run.data))
    RunFolder(folder).write_json("evaluation.json", evaluation)
    save_tensors(
        folder / "eval_samples.safetensors",
        {
            "heat": result.heat_samples,
            # output-spin paths of the first 200 recorded inputs: enough for the plots
            "output_paths": result.output_paths[:, :200],
            "labels": result.recorded_labels[:200],
        },
    )
    summary = summarise(
        run,
        evaluation,
        wall=time.perf_counter() - start,
        classify_seconds=classify_seconds,
        n_classified=min(10000, len(run.data.x_test)),
    )
    RunFolder(folder).write_json("summary.json", summary)
    return summary


def summarise(
    run: Run, ev: dict[str, Any], *, wall: float, classify_seconds: float, n_classified: int
) -> dict[str, Any]:
    """The headline numbers of a run (``summary.json``)."""
    m = ev["trajectories"]
    acc = ev["accuracy"]
    teacher = ev["teacher_top1"]
    return {
        "dataset": run.config.dataset,
        "preset": {**asdict(run.machine.config), "blocks": list(run.machine.config.blocks)},
        "kappa": "exact" if run.config.kappa is None else run.config.kappa,
        "trainer": run.config.trainer
        + (f"+distill({run.config.distill_epochs})" if run.config.distill_epochs else ""),
        "teacher_top1": teacher,
        "student": {
            "top1_m1": acc["top1_m1"],
            "top2_m1": acc["top2_m1"],
            f"top1_m{m}": acc[f"top1_m{m}"],
            f"top2_m{m}": acc[f"top2_m{m}"],
        },
        "ratio_top1_m1": acc["top1_m1"] / teacher,
        f"ratio_top1_m{m}": acc[f"top1_m{m}"] / teacher,
        "heat_per_classification_kT": {"mean": ev["heat_kT"]["mean"], "std": ev["heat_kT"]["std"]},
        "heat_per_classification_joules": ev["heat_kT"]["mean_joules"],
        "entropy_production_kB": ev["entropy_production"],
        "digital_cost": ev["digital"],
        "advantage_ratio": ev["advantage"],
        "fit": run.meta.get("fit", {}),
        "distill": run.meta.get("distill"),
        "seconds_to_classify": {
            "inputs": n_classified,
            "trajectory_steps": run.machine.config.steps,
            "seconds": classify_seconds,
            "threads": torch.get_num_threads(),
        },
        "wall_seconds_eval": wall,
        "paper": PAPER,
    }
