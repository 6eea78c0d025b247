"""Turn a sweep folder's ``rows.jsonl`` into ``rows.csv``, ``report.md`` and PNG plots.

Statistics: mean ± sample std over seeds; for TEL against the best baseline of each task, the
difference of means with a 95% percentile-bootstrap CI (``scipy.stats.bootstrap``, 10,000
resamples) and Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``). A comparison counts
as a win or a loss only when the bootstrap CI excludes 0 and Welch's p < 0.05; otherwise a tie.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thermonn._io import atomic_write_text, read_json
from thermonn.bench.families import FAMILIES
from thermonn.bench.runner import read_rows
from thermonn.bench.suites import DEPTH_MODELS, K_SWEEP, K_SWEEP_SPIN, VECTOR_TASKS
from thermonn.bench.tasks import TASKS

__all__ = ["Comparison", "compare", "write_report"]

Row = dict[str, Any]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _fmt(values: Sequence[float], digits: int = 4) -> str:
    if not values:
        return "—"
    m, s = _mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


class Comparison:
    """Model ``a`` against model ``b`` on one task: Δ = mean(a) − mean(b) in metric units,
    ``better`` > 0 when ``a`` is better (sign flipped for lower-is-better metrics)."""

    def __init__(self, a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> None:
        from scipy import stats

        self.a, self.b = np.asarray(a, float), np.asarray(b, float)
        self.delta = float(self.a.mean() - self.b.mean())
        sign = 1.0 if higher_is_better else -1.0
        self.better = sign * self.delta
        if len(self.a) > 1 and len(self.b) > 1 and (self.a.std() > 0 or self.b.std() > 0):
            with warnings.catch_warnings():  # nearly identical samples: p is then ~1 anyway
                warnings.simplefilter("ignore", RuntimeWarning)
                self.p_value = float(stats.ttest_ind(self.a, self.b, equal_var=False).pvalue)
            ci = stats.bootstrap(
                (self.a, self.b),
                lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                n_resamples=10_000,
                method="percentile",
                rng=np.random.default_rng(0),
                vectorized=True,
            ).confidence_interval
            self.ci = (float(ci.low), float(ci.high))
        else:
            self.p_value, self.ci = float("nan"), (self.delta, self.delta)

    @property
    def verdict(self) -> str:
        """``win``/``loss`` only when the bootstrap CI excludes 0 *and* Welch's p < 0.05 (with
        five seeds the percentile bootstrap alone is anti-conservative); else ``tie``."""
        low, high = self.ci
        if low <= 0 <= high or not np.isfinite(low) or not self.p_value < 0.05:
            return "tie"
        return "win" if self.better > 0 else "loss"


def compare(a: Sequence[float], b: Sequence[float], *, higher_is_better: bool) -> Comparison:
    return Comparison(a, b, higher_is_better)


def _group(rows: Iterable[Row]) -> dict[tuple[str, str, str, int], list[Row]]:
    groups: dict[tuple[str, str, str, int], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["model"], r["budget"], r["depth"])].append(r)
    return groups


def _values(rows: Sequence[Row]) -> list[float]:
    return [r["value"] for r in rows if r["status"] == "ok"]


def _best(task: str, groups: dict, models: Iterable[str], budget: str = "default") -> str | None:
    higher = TASKS[task].higher_is_better
    scored = [
        (statistics.fmean(v), m)
        for m in models
        if (v := _values(groups.get((task, m, budget, 1), [])))
    ]
    if not scored:
        return None
    return (max if higher else min)(scored)[1]


Verdicts = dict[str, tuple[str, dict[str, Comparison]]]


def _tel_vs_best(groups: dict, budget: str) -> Verdicts:
    """Per vector task: its best baseline and each TEL variant's comparison with it (computed
    once; the summary, the tally and the per-task tables all read this)."""
    baselines = [m for m, f in FAMILIES.items() if not f.tel]
    variants = [m for m, f in FAMILIES.items() if f.tel]
    verdicts: Verdicts = {}
    for task in VECTOR_TASKS:
        best = _best(task, groups, baselines, budget)
        if best is None:
            continue
        reference = _values(groups[(task, best, budget, 1)])
        higher = TASKS[task].higher_is_better
        verdicts[task] = (
            best,
            {
                m: compare(v, reference, higher_is_better=higher)
                for m in variants
                if (v := _values(groups.get((task, m, budget, 1), [])))
            },
        )
    return verdicts


def _write_csv(rows: Sequence[Row], path: Path) -> None:
    fields = [k for k in rows[0] if k not in ("traces",)]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()})
    atomic_write_text(path, text.getvalue())


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _results_section(groups: dict, budget: str, verdicts: Verdicts) -> list[str]:
    lines: list[str] = []
    for task in VECTOR_TASKS:
        t = TASKS[task]
        present = [m for m in FAMILIES if (task, m, budget, 1) in groups]
        if not present:
            continue
        arrow = "↑" if t.higher_is_better else "↓"
        lines += [
            f"### {task} — {t.description}",
            "",
            f"| model | {t.metric} {arrow} (mean ± std) | n | params (Δ) | fwd FLOPs/sample (Δ) | "
            "train ms/step | saved activations MiB | peak RSS MiB | matched |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        sign = 1 if t.higher_is_better else -1
        order = sorted(
            present,
            key=lambda m: (
                -sign * statistics.fmean(_values(groups[(task, m, budget, 1)]) or [float("nan")])
            ),
        )
        for m in order:
            rs = groups[(task, m, budget, 1)]
            r0 = rs[0]
            bad = len(rs) - len(_values(rs))
            lines.append(
                f"| {m} | {_fmt(_values(rs))}{f' ({bad} diverged)' if bad else ''} | {len(rs)} "
                f"| {r0['params']} ({r0['param_error']:+.1%}) | {r0['flops_forward']:.0f} ({r0['flop_error']:+.1%}) "
                f"| {statistics.fmean(r['ms_per_step'] for r in rs):.2f} "
                f"| {statistics.fmean(r['saved_activation_mib'] for r in rs):.2f} "
                f"| {statistics.median(r['peak_memory_mib'] for r in rs):.1f} "
                f"| {'yes' if r0['matched'] else '**no**'} |"
            )
        best, comparisons = verdicts.get(task, ("", {}))
        rows_cmp = [
            f"| {tel} vs {best} | {c.delta:+.4f} | [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}] | {c.p_value:.3g} | {c.verdict} |"
            for tel, c in comparisons.items()
        ]
        if rows_cmp:
            lines += [
                "",
                f"TEL variants against the best baseline (**{best}**); Δ = TEL − baseline in {t.metric}:",
                "",
                "| comparison | Δ mean | 95% bootstrap CI | Welch p | verdict |",
                "|---|---|---|---|---|",
                *rows_cmp,
            ]
        lines.append("")
    return lines


def _mean_of(rows: Sequence[Row], field: str) -> float:
    return statistics.fmean(r[field] for r in rows)


def _summary(groups: dict, budget: str, verdicts: Verdicts) -> tuple[list[str], dict[str, int]]:
    """One line per vector task: best baseline, the default TEL and its verdict, the best TEL
    variant (chosen after the fact, so not counted), and TEL's cost relative to the GELU MLP."""
    variants = [m for m, f in FAMILIES.items() if f.tel]
    counts = {"win": 0, "tie": 0, "loss": 0}
    lines = [
        "| task | metric | best baseline | GELU MLP | TEL (default) | TEL vs best: Δ [95% CI] | verdict "
        "| best TEL variant (post hoc) | TEL/MLP time per step | TEL/MLP activation memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in VECTOR_TASKS:
        t = TASKS[task]
        best, comparisons = verdicts.get(task, ("", {}))
        tel_rows = groups.get((task, "tel", budget, 1), [])
        mlp_rows = groups.get((task, "mlp-gelu", budget, 1), [])
        if "tel" not in comparisons or not mlp_rows:
            continue
        best_rows = groups[(task, best, budget, 1)]
        c = comparisons["tel"]
        counts[c.verdict] += 1
        top = _best(task, groups, variants, budget) or "tel"
        lines.append(
            f"| {task} | {t.metric} {'↑' if t.higher_is_better else '↓'} "
            f"| {best} {_fmt(_values(best_rows))} | {_fmt(_values(mlp_rows))} "
            f"| {_fmt(_values(tel_rows))} | {c.delta:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}] "
            f"| **{c.verdict}** | {top} {_fmt(_values(groups[(task, top, budget, 1)]))} "
            f"| {_mean_of(tel_rows, 'ms_per_step') / _mean_of(mlp_rows, 'ms_per_step'):.1f}× "
            f"| {_mean_of(tel_rows, 'saved_activation_mib') / _mean_of(mlp_rows, 'saved_activation_mib'):.1f}× |"
        )
    return lines, counts


def _variant_counts(verdicts: Verdicts) -> list[str]:
    """Wins/ties/losses of every TEL variant against each task's best baseline."""
    lines = ["| TEL variant | wins | ties | losses | tasks |", "|---|---|---|---|---|"]
    for variant in [m for m, f in FAMILIES.items() if f.tel]:
        counts = {"win": 0, "tie": 0, "loss": 0}
        for _, comparisons in verdicts.values():
            if variant in comparisons:
                counts[comparisons[variant].verdict] += 1
        if sum(counts.values()):
            lines.append(
                f"| {variant} | {counts['win']} | {counts['tie']} | {counts['loss']} | {sum(counts.values())} |"
            )
    return lines


def _matching_section(out: Path) -> list[str]:
    path = out / "matching.json"
    if not path.exists():
        return []
    matches = read_json(path) or {}
    lines = [
        "## Compute matching (achieved)",
        "",
        "Target: the GELU MLP at the task's base width and the same depth (the original-FFN "
        "network for drop-in tasks). Tolerance: parameters ±5%, forward FLOPs ±10% "
        "(`torch.utils.flop_counter` formulas: matmuls, convolutions, attention; element-wise "
        "work is not counted and appears in wall-clock instead).",
        "",
        "| task · model · budget · depth | width | knobs | params (Δ) | FLOPs (Δ) | matched |",
        "|---|---|---|---|---|---|",
    ]
    unmatched = []
    for key, m in sorted(matches.items()):
        lines.append(
            f"| {key} | {m['width']} | {m['knobs'] or ''} | {m['params']} ({m['param_error']:+.1%}) "
            f"| {m['flops']:.0f} ({m['flop_error']:+.1%}) | {'yes' if m['matched'] else '**no**'} |"
        )
        if not m["matched"]:
            unmatched.append(key)
    lines += [
        "",
        f"{len(unmatched)} of {len(matches)} budgets could not be matched within tolerance "
        "and ran flagged (**no**): " + (", ".join(unmatched) or "none") + ".",
        "",
    ]
    return lines


def _ksweep(groups: dict, out: Path, budget: str) -> list[str]:
    sweeps = {"logcosh": K_SWEEP, "spin": K_SWEEP_SPIN}
    swept = {m for sweep in sweeps.values() for k, m in sweep.items() if k not in (1, 4)}
    tasks = sorted({t for (t, m, b, d) in groups if m in swept and b == budget})
    if not tasks:
        return []
    plt = _plt()
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
                v = _values(groups.get((task, m, budget, 1), []))
                cells.append(_fmt(v))
                if v:
                    mean, std = _mean_std(v)
                    ks.append(k)
                    ms.append(mean)
                    ss.append(std)
            if ks:
                lines.append(f"| {task} | {entropy} | " + " | ".join(cells) + " |")
                ax.errorbar(
                    ks, ms, yerr=ss, marker="o", capsize=3, color=f"C{i}", label=f"TEL {entropy}"
                )
        ref = _values(groups.get((task, "mlp-gelu", budget, 1), []))
        if ref:
            ax.axhline(statistics.fmean(ref), color="gray", ls="--", label="GELU MLP")
        ax.set(title=task, xlabel="descent steps K", ylabel=TASKS[task].metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, out / "accuracy_vs_k.png")
    return [*lines, "", "![accuracy vs K](accuracy_vs_k.png)", ""]


def _depth(groups: dict, out: Path, budget: str) -> list[str]:
    depth_keys = sorted({(t, m, d) for (t, m, b, d) in groups if d > 1 and b == budget})
    if not depth_keys:
        return []
    tasks = sorted({t for t, _, _ in depth_keys})
    plt = _plt()
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
                v = _values(rs)
                lines.append(
                    f"| {task} | {model} | {d} | {_fmt(v)} | {len(rs) - len(v)} of {len(rs)} "
                    f"| {statistics.fmean(r['ms_per_step'] for r in rs):.2f} |"
                )
                if v:
                    mean, std = _mean_std(v)
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
    _save(fig, out / "depth.png")
    return [*lines, "", "![depth sweep](depth.png)", ""]


def _dropin(groups: dict, budget: str) -> list[str]:
    tasks = [t for t, task in TASKS.items() if task.backbone and (t, "ffn", budget, 1) in groups]
    if not tasks:
        return []
    lines = [
        "## Drop-in studies (`thermonn.convert`)",
        "",
        "| task | model | metric (mean ± std) | Δ vs ffn [95% CI] | Welch p | verdict | params | train ms/step | saved activations MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        t = TASKS[task]
        base = _values(groups[(task, "ffn", budget, 1)])
        for model in [m for (tt, m, b, d) in groups if tt == task and b == budget]:
            rs = groups[(task, model, budget, 1)]
            v = _values(rs)
            if model == "ffn" or not v:
                cmp_cells = "— | — | —"
            else:
                c = compare(v, base, higher_is_better=t.higher_is_better)
                cmp_cells = f"{c.delta:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}] | {c.p_value:.3g} | {c.verdict}"
            lines.append(
                f"| {task} ({t.backbone}, {t.metric}) | {model} | {_fmt(v)} | {cmp_cells} | {rs[0]['params']} "
                f"| {statistics.fmean(r['ms_per_step'] for r in rs):.2f} "
                f"| {statistics.fmean(r['saved_activation_mib'] for r in rs):.2f} |"
            )
    return [*lines, ""]


def _budget_section(groups: dict, out: Path) -> list[str]:
    """Metric vs forward FLOPs across budgets: one line per model (tasks run at >1 budget)."""
    tasks = sorted({t for (t, m, b, d) in groups if b != "default" and d == 1})
    if not tasks:
        return []
    plt = _plt()
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
                if v := _values(rs):
                    mean, std = _mean_std(v)
                    pts.append((rs[0]["flops_forward"], mean, std))
                    lines.append(
                        f"| {task} | {model} | {b} | {rs[0]['flops_forward']:.0f} | {rs[0]['params']} | {_fmt(v)} |"
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
    _save(fig, out / "metric_vs_flops.png")
    return [*lines, "", "![metric vs FLOPs](metric_vs_flops.png)", ""]


def _cost_plot(groups: dict, out: Path, budget: str) -> list[str]:
    """Per task at ``budget``: metric against training wall-clock per step (same FLOPs)."""
    tasks = [t for t in VECTOR_TASKS if any(k[0] == t and k[2] == budget for k in groups)]
    if not tasks:
        return []
    plt = _plt()
    cols = min(5, len(tasks))
    rows_n = (len(tasks) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.8 * cols, 3.3 * rows_n), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for (t, m, b, d), rs in sorted(groups.items()):
            if t != task or d != 1 or b != budget or not (v := _values(rs)):
                continue
            mean, std = _mean_std(v)
            tel = FAMILIES[m].tel
            ms = statistics.fmean(r["ms_per_step"] for r in rs)
            ax.errorbar(
                ms,
                mean,
                yerr=std,
                marker="o" if tel else "s",
                ms=4,
                capsize=2,
                color="C3" if tel else "C0",
                alpha=0.85 if rs[0]["matched"] else 0.35,
            )
            if m in ("tel", "tel-spin", "mlp-gelu", "kan", "deq", "swiglu"):
                ax.annotate(m, (ms, mean), fontsize=6)
        ax.set(title=task, xscale="log", xlabel="train ms / step", ylabel=TASKS[task].metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.axis("off")
    fig.suptitle(
        "metric vs training wall-clock at matched budget (red circles: TEL variants; "
        "blue squares: baselines; faded: unmatched)"
    )
    _save(fig, out / "metric_vs_wallclock.png")
    return ["![metric vs wall-clock](metric_vs_wallclock.png)", ""]


def _trajectories(rows: Sequence[Row], out: Path, budget: str) -> list[str]:
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
    plt = _plt()
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
            bottom.plot(k, [f - tr["free_energy"][0] for f in tr["free_energy"]], marker="o", ms=3)
        top.set(title=task, xlabel="k", ylabel="T_k")
        bottom.set(xlabel="k", ylabel="F_k − F_0")
        for ax in (top, bottom):
            ax.axis("on")
            ax.grid(alpha=0.3)
    fig.suptitle(
        "TEL (logcosh, K = 4) temperature and free-energy trajectories on each test set (first seed)"
    )
    _save(fig, out / "temperature_trajectories.png")
    return [
        "## Temperature trajectories on real data",
        "",
        "![trajectories](temperature_trajectories.png)",
        "",
    ]


def write_report(out: Path, *, budget: str = "default") -> Path:
    """Write ``rows.csv``, ``report.md`` and the plots of the sweep folder ``out``.

    Raises:
        FileNotFoundError: if ``out`` has no ``rows.jsonl``.
    """
    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(
            f"{out}: no such sweep folder (run `thermonn bench run --out {out}` first)"
        )
    found = read_rows(out / "rows.jsonl")
    rows = found.rows
    if not rows:
        raise FileNotFoundError(
            f"{out}: no rows.jsonl with finished runs (run `thermonn bench run --out {out}` first)"
        )
    _write_csv(rows, out / "rows.csv")
    groups = _group(rows)
    machine = read_json(out / "machine.json") or {}
    command = (
        (out / "command.txt").read_text().strip()
        if (out / "command.txt").exists()
        else "(not recorded)"
    )
    verdicts = _tel_vs_best(groups, budget)
    summary, counts = _summary(groups, budget, verdicts)
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    lines = [
        "# TEL benchmark report",
        "",
        f"Generated from `{out / 'rows.jsonl'}` ({len(rows)} runs: "
        + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        + ")"
        + (
            f"; {len(found.duplicates)} duplicate rows of already-present runs ignored"
            if found.duplicates
            else ""
        )
        + ".",
        "",
        f"Command: `{command}`",
        "",
        "Machine: " + ", ".join(f"{k} = {v}" for k, v in machine.items()),
        "",
        f"Runs finished between {min(r['finished'] for r in rows)} and "
        f"{max(r['finished'] for r in rows)}; training time summed over runs: "
        f"{sum(r['train_seconds'] for r in rows) / 3600:.2f} h.",
        "",
        "Every model of a task gets the same recipe (Adam, cosine decay, the task's epochs, batch "
        "size and learning rate; no per-model tuning). Wall-clock is measured with other runs "
        "in parallel (see jobs); compare it within a table, not across machines.",
        "",
        "## Headline",
        "",
        f"TEL (logcosh, K = 4, adaptive T — the spec's default) against the best baseline of each "
        f"vector task: **{counts['win']} wins, {counts['tie']} ties, {counts['loss']} losses** "
        f"(win/loss only when the 95% bootstrap CI of the difference excludes 0 and Welch's "
        f"p < 0.05).",
        "",
        *summary,
        "",
        "Every TEL variant against the same best baselines (one comparison per task and variant "
        "on the same test sets: with this many tests some ties and wins are luck; the default row "
        "above is the pre-registered one):",
        "",
        *_variant_counts(verdicts),
        "",
        *_cost_plot(groups, out, budget),
        "## Results per task (budget: " + budget + ")",
        "",
        *_results_section(groups, budget, verdicts),
        *_ksweep(groups, out, budget),
        *_depth(groups, out, budget),
        *_dropin(groups, budget),
        *_budget_section(groups, out),
        *_trajectories(rows, out, budget),
        *_matching_section(out),
    ]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
