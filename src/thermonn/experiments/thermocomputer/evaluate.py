"""Scoring a trained machine: accuracy (top-1/top-2, one or M trajectories), accuracy against
readout time and inference temperature, deviation from the teacher's idealised trajectory per
node, the confusion matrix, and the energetics of every classification."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from thermonn._validation import check_int
from thermonn.machines.thermocomputer import ThermoComputer, idealised_trajectory
from thermonn.machines.thermocomputer.energetics import DigitalCost, heat_released, path_energetics

__all__ = ["Evaluation", "evaluate_machine", "topk_accuracy"]


def topk_accuracy(scores: Tensor, labels: Tensor, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` largest scores."""
    return float((scores.topk(k, dim=-1).indices == labels[:, None]).any(-1).float().mean())


@dataclass
class Evaluation:
    """Everything measured on a test set (JSON-able apart from the tensors kept for plots)."""

    accuracy: dict[str, float]  # top1_m1, top2_m1, top1_mM, top2_mM
    trajectories: int
    time_grid: list[float]
    accuracy_vs_time: list[float]
    temperatures: list[float]
    accuracy_vs_temperature: list[float]
    confusion: list[list[int]]
    node_deviation: list[float]  # mean |x_i(t_f) − x⁰_i(t_f)| per mobile node
    heat_kT: dict[str, float]  # mean, std, min, max over the test set (M = 1)
    entropy_production: dict[str, float]  # mean, std, paths: ln P[ω]/P[ω̃] on the recorded subset
    unit_heat_kT: list[float]  # mean per-unit heat on the recorded subset
    digital: dict[str, float | int | str]
    advantage: float
    heat_samples: Tensor = field(repr=False)
    output_paths: Tensor = field(repr=False)  # (steps + 1, n, n_out) of the recorded subset
    recorded_labels: Tensor = field(repr=False)


def evaluate_machine(
    machine: ThermoComputer,
    u: Tensor,
    labels: Tensor,
    targets: Tensor,
    *,
    kappa: float | None,
    digital: DigitalCost,
    trajectories: int = 10,
    temperatures: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
    recorded: int = 1000,
    generator: torch.Generator | None = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    """Score ``machine`` on ``(u, labels)``; ``targets`` are the teacher's targets for ``u``
    (for the per-node deviation). ``recorded`` inputs get full paths (accuracy vs time, per-unit
    heat, entropy production)."""
    check_int("trajectories", trajectories, minimum=1)
    check_int("recorded", recorded, minimum=1)
    c = machine.config
    note = progress or (lambda _: None)
    with torch.no_grad():
        note("one trajectory")
        x1 = machine.run(u, generator=generator).final[0]
        out1 = x1[:, c.n_hidden :]
        heat = heat_released(machine, u, x1) / c.kT
        note(f"{trajectories} trajectories")
        outm = machine(u, trajectories=trajectories, generator=generator)
        note("temperatures")
        by_temp = [
            topk_accuracy(
                machine.run(u, kT=t, generator=generator).final[0][:, c.n_hidden :], labels, 1
            )
            for t in temperatures
        ]
        note("recorded paths")
        sub = slice(0, min(recorded, len(u)))
        path = machine.run(u[sub], save_every=1, generator=generator).states  # (K+1, 1, n, mobile)
        energetics = path_energetics(machine, u[sub], path)
        outputs = path[:, 0, :, c.n_hidden :]
        by_time = [topk_accuracy(o, labels[sub], 1) for o in outputs]
        ideal = idealised_trajectory(targets, c, kappa=kappa)[-1]
    pred = out1.argmax(-1)
    confusion = torch.zeros(c.n_out, c.n_out, dtype=torch.int64)
    confusion.index_put_((labels, pred), torch.ones_like(pred), accumulate=True)
    ep = energetics["entropy_production"].flatten()
    mean_heat = float(heat.mean())
    return Evaluation(
        accuracy={
            "top1_m1": topk_accuracy(out1, labels, 1),
            "top2_m1": topk_accuracy(out1, labels, 2),
            f"top1_m{trajectories}": topk_accuracy(outm, labels, 1),
            f"top2_m{trajectories}": topk_accuracy(outm, labels, 2),
        },
        trajectories=trajectories,
        time_grid=[k * c.dt for k in range(len(by_time))],
        accuracy_vs_time=by_time,
        temperatures=[float(t) for t in temperatures],
        accuracy_vs_temperature=by_temp,
        confusion=confusion.tolist(),
        node_deviation=(x1 - ideal).abs().mean(0).tolist(),
        heat_kT={
            "mean": mean_heat,
            "std": float(heat.std()),
            "min": float(heat.min()),
            "max": float(heat.max()),
            "mean_joules": mean_heat * digital.kT_joules,
        },
        entropy_production={"mean": float(ep.mean()), "std": float(ep.std()), "paths": ep.numel()},
        unit_heat_kT=(energetics["unit_heat"].mean((0, 1)) / c.kT).tolist(),
        digital=digital.describe(),
        advantage=digital.advantage(mean_heat),
        heat_samples=heat,
        output_paths=outputs,
        recorded_labels=labels[sub],
    )
