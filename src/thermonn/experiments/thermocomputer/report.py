"""Plots and the markdown report of a thermodynamic-computer run folder."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from thermonn._io import atomic_write_text
from thermonn.experiments.thermocomputer.summary import PAPER
from thermonn.train.checkpoint import load_tensors

__all__ = ["write_report"]


def _plots(
    folder: Path,
    ev: dict[str, Any],
    samples: dict[str, torch.Tensor],
    weight: torch.Tensor,
    n_hidden: int,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = folder / "plots"
    out.mkdir(exist_ok=True)
    made = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)

    paths, labels = samples["output_paths"], samples["labels"]  # (K+1, n, n_out)
    pred = paths[-1].argmax(-1)
    t = ev["time_grid"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, want, title in ((axes[0], True, "correct"), (axes[1], False, "wrong")):
        hits = ((pred == labels) == want).nonzero().flatten()
        if len(hits) == 0:
            ax.set_title(f"no {title} example")
            continue
        i = int(hits[0])
        for k in range(paths.shape[-1]):
            bold = k == int(labels[i])
            ax.plot(
                t,
                paths[:, i, k].numpy(),
                lw=2.2 if bold else 0.9,
                label=f"{k}" + (" (label)" if bold else ""),
            )
        ax.set_title(f"{title}: label {int(labels[i])}, predicted {int(pred[i])}")
        ax.set_xlabel("time t")
    axes[0].set_ylabel("output spin x_i(t)")
    axes[1].legend(fontsize=7, ncol=2)
    save(fig, "output_trajectories.png")

    side = math.isqrt(weight.shape[0])
    if side * side == weight.shape[0]:
        count = min(16, n_hidden)
        fig, axes = plt.subplots(2, (count + 1) // 2, figsize=(12, 3.4))
        for k, ax in enumerate(axes.flat):
            ax.axis("off")
            if k < count:
                w = weight[:, k].reshape(side, side)
                lim = float(w.abs().max()) or 1.0
                ax.imshow(w.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
                ax.set_title(f"hidden {k}", fontsize=8)
        fig.suptitle("input → hidden connection fields")
        save(fig, "connection_fields.png")

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(t, ev["accuracy_vs_time"])
    ax.set(
        xlabel="readout time t", ylabel="top-1 accuracy (M = 1)", title="accuracy vs readout time"
    )
    save(fig, "accuracy_vs_time.png")

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ev["temperatures"], ev["accuracy_vs_temperature"], marker="o")
    ax.set(xlabel="inference kT", ylabel="top-1 accuracy (M = 1)", title="accuracy vs temperature")
    save(fig, "accuracy_vs_temperature.png")

    sweep = ev.get("kappa_sweep") or []
    if sweep:
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        names = [str(r["kappa"]) for r in sweep]
        ax.plot(names, [r["top1_m1"] for r in sweep], marker="o", color="C0")
        ax.set(xlabel="guide scale κ", ylabel="top-1 accuracy", title="accuracy and heat vs κ")
        ax2 = ax.twinx()
        ax2.plot(names, [r["heat_kT_mean"] for r in sweep], marker="s", color="C3")
        ax2.set_ylabel("heat per classification (kT)", color="C3")
        save(fig, "accuracy_heat_vs_kappa.png")

    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.hist(samples["heat"].numpy(), bins=60)
    ax.set(xlabel="heat per classification Q (kT)", ylabel="test inputs", title="heat histogram")
    save(fig, "heat_histogram.png")

    fig, ax = plt.subplots(figsize=(4.6, 4))
    conf = torch.tensor(ev["confusion"], dtype=torch.float64)
    ax.imshow((conf / conf.sum(1, keepdim=True).clamp_min(1)).numpy(), cmap="Blues")
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (row-normalised)")
    save(fig, "confusion.png")

    fig, ax = plt.subplots(figsize=(7, 3))
    dev = ev["node_deviation"]
    ax.bar(range(len(dev)), dev, color=["C0"] * n_hidden + ["C1"] * (len(dev) - n_hidden))
    ax.set(
        xlabel="mobile node (hidden | output)",
        ylabel="mean |x(t_f) − x⁰(t_f)|",
        title="deviation from the teacher's trajectory",
    )
    save(fig, "node_deviation.png")
    return made


def _fmt(x: float) -> str:
    return (
        f"{x:.3g}" if abs(x) >= 1e4 or abs(x) < 1e-2 else f"{x:.4f}" if abs(x) < 10 else f"{x:,.0f}"
    )


def write_report(folder: str | Path) -> Path:
    """Write ``plots/*.png`` and ``report.md`` from ``summary.json`` / ``evaluation.json``.

    Raises:
        FileNotFoundError: the folder has not been evaluated yet.
    """
    folder = Path(folder)
    for name in ("summary.json", "evaluation.json", "eval_samples.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder}: no {name}; run `thermonn computer eval {folder}` first"
            )
    summary = json.loads((folder / "summary.json").read_text())
    ev = json.loads((folder / "evaluation.json").read_text())
    samples = load_tensors(folder / "eval_samples.safetensors")[0]
    machine = load_tensors(folder / "machine.safetensors")[0]
    n_hidden = summary["preset"]["n_hidden"]
    plots = _plots(folder, ev, samples, machine["weight"] * machine["in_mask"], n_hidden)
    m = ev["trajectories"]
    s, heat = summary["student"], summary["heat_per_classification_kT"]
    dig = summary["digital_cost"]
    speed = summary["seconds_to_classify"]
    lines = [
        f"# Thermodynamic computer — {summary['dataset']}",
        "",
        f"Machine: {summary['preset']['n_in']} inputs, {n_hidden} hidden, {summary['preset']['n_out']} outputs; "
        f"J₂ = {summary['preset']['j2']}, J₄ = {summary['preset']['j4']}, kT = {summary['preset']['kT']}, "
        f"Δt = {summary['preset']['dt']}, t_f = {summary['preset']['t_final']}; guide κ = {summary['kappa']}; "
        f"trainer: {summary['trainer']}.",
        "",
        "| | this run | paper (MNIST) |",
        "|---|---|---|",
        f"| teacher top-1 | {summary['teacher_top1']:.4f} | {PAPER['teacher_top1']} |",
        f"| student top-1, M = 1 | {s['top1_m1']:.4f} | {PAPER['student_top1_m1']} |",
        f"| student top-1, M = {m} | {s[f'top1_m{m}']:.4f} | {PAPER['student_top1_m10']} (M = 10) |",
        f"| student top-2, M = 1 | {s['top2_m1']:.4f} | {PAPER['student_top2']} |",
        f"| student/teacher (top-1, M = 1) | {summary['ratio_top1_m1']:.4f} | {PAPER['ratio']} |",
        f"| heat per classification (kT) | {_fmt(heat['mean'])} ± {_fmt(heat['std'])} | ~{PAPER['heat_kT']:.0e} |",
        f"| thermodynamic advantage | {_fmt(summary['advantage_ratio'])} | > {PAPER['advantage']:.0e} |",
        "",
        "## Energetics",
        "",
        f"- Heat per classification Q = V(x(0)) − V(x(t_f)): {_fmt(heat['mean'])} ± {_fmt(heat['std'])} kT "
        f"(mean ± std over {len(samples['heat'])} test inputs) = {summary['heat_per_classification_joules']:.3g} J "
        f"at {dig['temperature']} K.",
        f"- Entropy production ln P[ω]/P[ω̃] on {ev['entropy_production']['paths']} recorded paths: "
        f"{_fmt(ev['entropy_production']['mean'])} ± {_fmt(ev['entropy_production']['std'])} k_B (→ Q/kT as Δt → 0).",
        f"- Per-unit heat: hidden units {_fmt(sum(ev['unit_heat_kT'][:n_hidden]))} kT, output units "
        f"{_fmt(sum(ev['unit_heat_kT'][n_hidden:]))} kT (Stratonovich, recorded paths).",
        f"- Digital cost: {dig['macs']:,} MACs × {dig['joules_per_mac']:.0e} J/MAC "
        f"({dig['energy_per_mac_kT']:.3g} kT each) = {dig['digital_energy_kT']:.3g} kT; "
        f"advantage = {summary['advantage_ratio']:.3g}. Assumptions: {dig['assumptions']}.",
        "",
        "## Accuracy against readout time, temperature and κ",
        "",
        "| inference kT | " + " | ".join(f"{t:g}" for t in ev["temperatures"]) + " |",
        "|---" * (len(ev["temperatures"]) + 1) + "|",
        "| top-1 (M = 1) | " + " | ".join(f"{a:.4f}" for a in ev["accuracy_vs_temperature"]) + " |",
        "",
    ]
    grid = ev["time_grid"]
    picks = sorted({round(f * (len(grid) - 1)) for f in (0.1, 0.25, 0.5, 0.75, 1.0)})
    lines += [
        "| readout time | " + " | ".join(f"{grid[i]:.3f}" for i in picks) + " |",
        "|---" * (len(picks) + 1) + "|",
        "| top-1 (recorded subset) | "
        + " | ".join(f"{ev['accuracy_vs_time'][i]:.4f}" for i in picks)
        + " |",
        "",
    ]
    if ev.get("kappa_sweep"):
        lines += ["| κ (exact trainer) | top-1 (M = 1) | heat (kT) |", "|---|---|---|"]
        lines += [
            f"| {r['kappa']} | {r['top1_m1']:.4f} | {_fmt(r['heat_kT_mean'])} ± {_fmt(r['heat_kT_std'])} |"
            for r in ev["kappa_sweep"]
        ]
        lines.append("")
    dev = ev["node_deviation"]
    lines += [
        "## Fidelity and speed",
        "",
        f"- Mean |x(t_f) − x⁰(t_f)| against the teacher's idealised trajectory: hidden "
        f"{sum(dev[:n_hidden]) / max(1, n_hidden):.3f}, output {sum(dev[n_hidden:]) / max(1, len(dev) - n_hidden):.3f}.",
        f"- Fit: {summary['fit'].get('method')} — action per step per unit "
        f"{summary['fit'].get('action_per_unit_step', float('nan')):.4f}, {summary['fit'].get('seconds', float('nan')):.1f} s.",
    ]
    distill = summary.get("distill")
    if distill:
        lines.append(
            f"- Distillation through the dynamics: {distill['epochs']} epochs, cross-entropy to the "
            f"teacher {distill['history'][0]:.4f} → {distill['history'][-1]:.4f} nats, action per "
            f"step per unit afterwards {distill['action_per_unit_step']:.4f}, {distill['seconds']:.1f} s."
        )
    lines += [
        f"- Classifying {speed['inputs']:,} inputs ({speed['trajectory_steps']} steps, one trajectory each) took "
        f"{speed['seconds']:.2f} s on {speed['threads']} threads.",
        "",
        "## Plots",
        "",
    ]
    lines += [f"![{p}](plots/{p})" for p in plots]
    return atomic_write_text(folder / "report.md", "\n".join(lines) + "\n")
