"""The report's plots, each with its table where it has one: metric against wall-clock, the K
sweep, the depth sweep, metric against FLOPs across budgets and TEL's temperature trajectories."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from thermonn.bench.families import FAMILIES
from thermonn.bench.report._common import Groups, Row, fmt, pyplot, save, values
from thermonn.bench.stats import mean_std
from thermonn.bench.suites import DEPTH_MODELS, K_SWEEP, K_SWEEP_SPIN, VECTOR_TASKS
from thermonn.bench.tasks import TASKS


def cost_plot(groups: Groups, out: Path, budget: str) -> list[str]:
    """Per task at ``budget``: metric against training wall-clock per step (same FLOPs)."""
    tasks = [t for t in VECTOR_TASKS if any(k[0] == t and k[2] == budget for k in groups)]
    if not tasks:
        return []
    plt = pyplot()
    cols = min(5, len(tasks))
    rows_n = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.8 * cols, 3.3 * rows_n), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for (t, m, b, d), rs in sorted(groups.items()):
            if t != task or d != 1 or b != budget or not (v := values(rs)):
                continue
            mean, std = mean_std(v)
            family = FAMILIES[m]
            kind = "tel" if family.tel else "thermal" if family.thermal else "baseline"
            ms = statistics.fmean(r["ms_per_step"] for r in rs)
            ax.errorbar(
                ms,
                mean,
                yerr=std,
                marker={"tel": "o", "thermal": "^", "baseline": "s"}[kind],
                ms=4,
                capsize=2,
                color={"tel": "C3", "thermal": "C2", "baseline": "C0"}[kind],
                alpha=0.85 if rs[0]["matched"] else 0.35,
            )
            if m in ("tel", "tel-spin", "mlp-gelu", "kan", "deq", "swiglu", "thermo-fd"):
                ax.annotate(m, (ms, mean), fontsize=6)
        ax.set(title=task, xscale="log", xlabel="train ms / step", ylabel=TASKS[task].metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle(
        "metric vs training wall-clock at matched budget (red circles: TEL variants; green triangles: "
        "thermodynamic layers; "
        "blue squares: baselines; faded: unmatched)"
    )
    save(fig, out / "metric_vs_wallclock.png")
    return ["![metric vs wall-clock](metric_vs_wallclock.png)", ""]


def ksweep_section(groups: Groups, out: Path, budget: str) -> list[str]:
    sweeps = {"logcosh": K_SWEEP, "spin": K_SWEEP_SPIN}
    swept = {m for sweep in sweeps.values() for k, m in sweep.items() if k not in (1, 4)}
    tasks = sorted({t for (t, m, b, d) in groups if m in swept and b == budget})
    if not tasks:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    lines = [
        "## Accuracy vs K (TEL with adaptive T; logcosh and spin entropies)",
        "",
        "| task | entropy | " + " | ".join(f"K={k}" for k in K_SWEEP) + " |",
        "|---|---|" + "---|" * len(K_SWEEP),
    ]
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, (entropy, sweep) in enumerate(sweeps.items()):
            ks, ms, ss, cells = [], [], [], []
            for k, m in sweep.items():
                v = values(groups.get((task, m, budget, 1), []))
                cells.append(fmt(v))
                if v:
                    mean, std = mean_std(v)
                    ks.append(k)
                    ms.append(mean)
                    ss.append(std)
            if ks:
                lines.append(f"| {task} | {entropy} | " + " | ".join(cells) + " |")
                ax.errorbar(
                    ks, ms, yerr=ss, marker="o", capsize=3, color=f"C{i}", label=f"TEL {entropy}"
                )
        ref = values(groups.get((task, "mlp-gelu", budget, 1), []))
        if ref:
            ax.axhline(statistics.fmean(ref), color="gray", ls="--", label="GELU MLP")
        ax.set(title=task, xlabel="descent steps K", ylabel=TASKS[task].metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out / "accuracy_vs_k.png")
    return [*lines, "", "![accuracy vs K](accuracy_vs_k.png)", ""]


def depth_section(groups: Groups, out: Path, budget: str) -> list[str]:
    depth_keys = sorted({(t, m, d) for (t, m, b, d) in groups if d > 1 and b == budget})
    if not depth_keys:
        return []
    tasks = sorted({t for t, _, _ in depth_keys})
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.4), squeeze=False)
    lines = [
        "## Depth sweep (stacks of blocks, no residual connections)",
        "",
        "| task | model | depth | metric (mean ± std) | diverged | train ms/step |",
        "|---|---|---|---|---|---|",
    ]
    for ax, task in zip(axes[0], tasks, strict=True):
        for model in DEPTH_MODELS:
            ds = sorted({d for (t, m, b, d) in groups if t == task and m == model and b == budget})
            xs, ms, ss = [], [], []
            for d in ds:
                rs = groups[(task, model, budget, d)]
                v = values(rs)
                lines.append(
                    f"| {task} | {model} | {d} | {fmt(v)} | {len(rs) - len(v)} of {len(rs)} "
                    f"| {statistics.fmean(r['ms_per_step'] for r in rs):.2f} |"
                )
                if v:
                    mean, std = mean_std(v)
                    xs.append(d)
                    ms.append(mean)
                    ss.append(std)
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=model)
        ax.set(
            title=task,
            xlabel="depth (stacked blocks)",
            ylabel=TASKS[task].metric,
            xscale="log",
            xticks=[1, 2, 4, 8],
        )
        ax.set_xticklabels(["1", "2", "4", "8"])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    save(fig, out / "depth.png")
    return [*lines, "", "![depth sweep](depth.png)", ""]


def budget_section(groups: Groups, out: Path) -> list[str]:
    """Metric vs forward FLOPs across budgets: one line per model (tasks run at >1 budget)."""
    tasks = sorted({t for (t, m, b, d) in groups if b != "default" and d == 1})
    if not tasks:
        return []
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.4 * len(tasks), 3.6), squeeze=False)
    lines = [
        "## Metric vs FLOPs across budgets",
        "",
        "| task | model | budget | fwd FLOPs/sample | params | metric (mean ± std) |",
        "|---|---|---|---|---|---|",
    ]
    for ax, task in zip(axes[0], tasks, strict=True):
        models = sorted({m for (t, m, b, d) in groups if t == task and b != "default" and d == 1})
        for i, model in enumerate(models):
            pts = []
            for b in ("small", "default", "large", "xlarge"):
                rs = groups.get((task, model, b, 1), [])
                if v := values(rs):
                    mean, std = mean_std(v)
                    pts.append((rs[0]["flops_forward"], mean, std))
                    lines.append(
                        f"| {task} | {model} | {b} | {rs[0]['flops_forward']:.0f} | {rs[0]['params']} | {fmt(v)} |"
                    )
            if pts:
                x, y, e = zip(*sorted(pts), strict=True)
                tel = FAMILIES[model].tel
                ax.errorbar(
                    x,
                    y,
                    yerr=e,
                    marker="o" if tel else "s",
                    ls="-" if tel else "--",
                    capsize=2,
                    color=f"C{i}",
                    label=model,
                )
        ax.set(title=task, xscale="log", xlabel="forward FLOPs / sample", ylabel=TASKS[task].metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save(fig, out / "metric_vs_flops.png")
    return [*lines, "", "![metric vs FLOPs](metric_vs_flops.png)", ""]


def trajectories_section(rows: Sequence[Row], out: Path, budget: str) -> list[str]:
    picked = {}
    for r in rows:
        if (
            r["model"] == "tel"
            and r["seed"] == min(x["seed"] for x in rows)
            and r["traces"]
            and r["budget"] == budget
            and r["depth"] == 1
        ):
            picked[r["task"]] = r["traces"]
    if not picked:
        return []
    plt = pyplot()
    cols = min(5, len(picked))
    bands = (len(picked) + cols - 1) // cols  # each band: a row of T_k over a row of F_k - F_0
    fig, axes = plt.subplots(2 * bands, cols, figsize=(3.2 * cols, 2.7 * 2 * bands), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (task, traces) in enumerate(sorted(picked.items())):
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        for layer, tr in traces.items():
            k = range(len(tr["temperature"]))
            top.plot(k, tr["temperature"], marker="o", ms=3, label=f"layer {layer}")
            change = tr.get("free_energy_change")  # float64-accumulated; older rows lack it
            if change is None:
                change = [f - tr["free_energy"][0] for f in tr["free_energy"]]
            bottom.plot(k, change, marker="o", ms=3)
        top.set(title=task, xlabel="k", ylabel="T_k")
        bottom.set(xlabel="k", ylabel="F_k − F_0")
        for ax in (top, bottom):
            ax.axis("on")
            ax.grid(alpha=0.3)
    fig.suptitle(
        "TEL (logcosh, K = 4) temperature and free-energy trajectories on each test set (first seed)"
    )
    save(fig, out / "temperature_trajectories.png")
    return [
        "## Temperature trajectories on real data",
        "",
        "![trajectories](temperature_trajectories.png)",
        "",
    ]
