"""The report's tables: the headline summaries (TEL; the thermodynamic layers), the variants'
tallies, per-task results, the drop-in studies and the achieved compute matching."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path

from thermonn._io import read_json
from thermonn.bench.families import FAMILIES
from thermonn.bench.report._common import Groups, fmt, mean_of, values
from thermonn.bench.stats import Comparison, compare
from thermonn.bench.suites import VECTOR_TASKS
from thermonn.bench.tasks import TASKS

Verdicts = dict[str, tuple[str, dict[str, Comparison]]]
"""Per vector task: its best baseline and each studied variant's comparison with it."""

BASELINES = [m for m, f in FAMILIES.items() if not (f.tel or f.thermal)]
TEL_VARIANTS = [m for m, f in FAMILIES.items() if f.tel]
THERMAL_VARIANTS = [m for m, f in FAMILIES.items() if f.thermal]


def best_model(
    task: str, groups: Groups, models: Iterable[str], budget: str = "default"
) -> str | None:
    """The model of ``models`` with the best mean metric on ``task`` at ``budget`` (depth 1);
    ``None`` when none of them has a finished run."""
    higher = TASKS[task].higher_is_better
    scored = [
        (statistics.fmean(v), m)
        for m in models
        if (v := values(groups.get((task, m, budget, 1), [])))
    ]
    if not scored:
        return None
    return (max if higher else min)(scored)[1]


def versus_best(groups: Groups, budget: str, variants: Iterable[str]) -> Verdicts:
    """Per vector task: its best baseline (of those in ``groups``) and each of ``variants``'
    comparison with it (computed once; the summaries, tallies and per-task tables read this)."""
    variants = list(variants)
    verdicts: Verdicts = {}
    for task in VECTOR_TASKS:
        best = best_model(task, groups, BASELINES, budget)
        if best is None:
            continue
        reference = values(groups[(task, best, budget, 1)])
        higher = TASKS[task].higher_is_better
        verdicts[task] = (
            best,
            {
                m: compare(v, reference, higher_is_better=higher)
                for m in variants
                if (v := values(groups.get((task, m, budget, 1), [])))
            },
        )
    return verdicts


def summary(groups: Groups, budget: str, verdicts: Verdicts) -> tuple[list[str], dict[str, int]]:
    """One line per vector task: best baseline, the default TEL and its verdict, the best TEL
    variant (chosen after the fact, so not counted), and TEL's cost relative to the GELU MLP."""
    variants = TEL_VARIANTS
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
        top = best_model(task, groups, variants, budget) or "tel"
        lines.append(
            f"| {task} | {t.metric} {'↑' if t.higher_is_better else '↓'} "
            f"| {best} {fmt(values(best_rows))} | {fmt(values(mlp_rows))} "
            f"| {fmt(values(tel_rows))} | {c.delta:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}] "
            f"| **{c.verdict}** | {top} {fmt(values(groups[(task, top, budget, 1)]))} "
            f"| {mean_of(tel_rows, 'ms_per_step') / mean_of(mlp_rows, 'ms_per_step'):.1f}× "
            f"| {mean_of(tel_rows, 'saved_activation_mib') / mean_of(mlp_rows, 'saved_activation_mib'):.1f}× |"
        )
    return lines, counts


def thermal_summary(groups: Groups, budget: str, verdicts: Verdicts) -> list[str]:
    """One line per vector task: best baseline, GELU MLP, every thermodynamic-layer family with
    its verdict against the best baseline, and thermo-fd's cost relative to the GELU MLP."""
    present = [
        m for m in THERMAL_VARIANTS if any((t, m, budget, 1) in groups for t in VECTOR_TASKS)
    ]
    lines = [
        "| task | metric | best baseline | GELU MLP | "
        + " | ".join(present)
        + " | thermo-fd/MLP time per step | thermo-fd/MLP activation memory |",
        "|---|---|---|---|" + "---|" * len(present) + "---|---|",
    ]
    for task in VECTOR_TASKS:
        best, comparisons = verdicts.get(task, ("", {}))
        mlp_rows = groups.get((task, "mlp-gelu", budget, 1), [])
        if not comparisons or not mlp_rows:
            continue
        t = TASKS[task]
        cells = [
            f"{fmt(values(groups[(task, m, budget, 1)]))} **{comparisons[m].verdict}**"
            if m in comparisons
            else "—"
            for m in present
        ]
        fd = groups.get((task, "thermo-fd", budget, 1), [])
        cost = (
            f"{mean_of(fd, 'ms_per_step') / mean_of(mlp_rows, 'ms_per_step'):.1f}× "
            f"| {mean_of(fd, 'saved_activation_mib') / mean_of(mlp_rows, 'saved_activation_mib'):.1f}×"
            if fd
            else "— | —"
        )
        lines.append(
            f"| {task} | {t.metric} {'↑' if t.higher_is_better else '↓'} "
            f"| {best} {fmt(values(groups[(task, best, budget, 1)]))} | {fmt(values(mlp_rows))} | "
            + " | ".join(cells)
            + f" | {cost} |"
        )
    return lines


def variant_counts(verdicts: Verdicts, variants: Iterable[str] = TEL_VARIANTS) -> list[str]:
    """Wins/ties/losses of every variant against each task's best baseline."""
    lines = ["| variant | wins | ties | losses | tasks |", "|---|---|---|---|---|"]
    for variant in variants:
        counts = {"win": 0, "tie": 0, "loss": 0}
        for _, comparisons in verdicts.values():
            if variant in comparisons:
                counts[comparisons[variant].verdict] += 1
        if sum(counts.values()):
            lines.append(
                f"| {variant} | {counts['win']} | {counts['tie']} | {counts['loss']} | {sum(counts.values())} |"
            )
    return lines


def results_section(groups: Groups, budget: str, verdicts: Verdicts) -> list[str]:
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
                -sign * statistics.fmean(values(groups[(task, m, budget, 1)]) or [float("nan")])
            ),
        )
        for m in order:
            rs = groups[(task, m, budget, 1)]
            r0 = rs[0]
            bad = len(rs) - len(values(rs))
            lines.append(
                f"| {m} | {fmt(values(rs))}{f' ({bad} diverged)' if bad else ''} | {len(rs)} "
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
                f"Variants against the best baseline (**{best}**); Δ = variant − baseline in {t.metric}:",
                "",
                "| comparison | Δ mean | 95% bootstrap CI | Welch p | verdict |",
                "|---|---|---|---|---|",
                *rows_cmp,
            ]
        lines.append("")
    return lines


def dropin_section(groups: Groups, budget: str) -> list[str]:
    tasks = [t for t, task in TASKS.items() if task.backbone and (t, "ffn", budget, 1) in groups]
    if not tasks:
        return []
    lines = [
        "## Drop-in studies (`thermonn.convert`; the thermal conv, RNN and attention swaps)",
        "",
        "| task | model | metric (mean ± std) | Δ vs ffn [95% CI] | Welch p | verdict | params | train ms/step | saved activations MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        t = TASKS[task]
        base = values(groups[(task, "ffn", budget, 1)])
        for model in [m for (tt, m, b, d) in groups if tt == task and b == budget]:
            rs = groups[(task, model, budget, 1)]
            v = values(rs)
            if model == "ffn" or not v:
                cmp_cells = "— | — | —"
            else:
                c = compare(v, base, higher_is_better=t.higher_is_better)
                cmp_cells = f"{c.delta:+.4f} [{c.ci[0]:+.4f}, {c.ci[1]:+.4f}] | {c.p_value:.3g} | {c.verdict}"
            lines.append(
                f"| {task} ({t.backbone}, {t.metric}) | {model} | {fmt(v)} | {cmp_cells} | {rs[0]['params']} "
                f"| {statistics.fmean(r['ms_per_step'] for r in rs):.2f} "
                f"| {statistics.fmean(r['saved_activation_mib'] for r in rs):.2f} |"
            )
    return [*lines, ""]


def matching_section(out: Path) -> list[str]:
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
