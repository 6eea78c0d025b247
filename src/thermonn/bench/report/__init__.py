"""Turn a sweep folder's ``rows.jsonl`` into ``rows.csv``, ``report.md`` and PNG plots.

Statistics (:mod:`thermonn.bench.stats`): mean ± sample std over seeds; for TEL and for the
thermodynamic layers against the best baseline of each task, the difference of means with a 95% percentile-bootstrap CI
(``scipy.stats.bootstrap``, 10,000 resamples) and Welch's t-test
(``scipy.stats.ttest_ind(equal_var=False)``). A comparison counts as a win or a loss only when the
bootstrap CI excludes 0 and Welch's p < 0.05; otherwise a tie.

The tables live in :mod:`._tables`, the plots with their tables in :mod:`._plots`, the row
grouping, formatting, CSV and matplotlib plumbing in :mod:`._common`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from thermonn._io import atomic_write_text, read_json
from thermonn.bench.report import _common, _plots, _tables
from thermonn.bench.rows import read_rows
from thermonn.bench.stats import Comparison, compare

__all__ = ["Comparison", "compare", "write_report"]


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
    _common.write_csv(rows, out / "rows.csv")
    groups = _common.group(rows)
    machine = read_json(out / "machine.json") or {}
    command = (
        (out / "command.txt").read_text().strip()
        if (out / "command.txt").exists()
        else "(not recorded)"
    )
    verdicts = _tables.versus_best(groups, budget, _tables.TEL_VARIANTS)
    thermal = _tables.versus_best(groups, budget, _tables.THERMAL_VARIANTS)
    summary, counts = _tables.summary(groups, budget, verdicts)
    headline = []
    if counts["win"] + counts["tie"] + counts["loss"]:
        headline += [
            f"TEL (logcosh, K = 4, adaptive T — the spec's default) against the best baseline of "
            f"each vector task: **{counts['win']} wins, {counts['tie']} ties, {counts['loss']} "
            f"losses** (win/loss only when the 95% bootstrap CI of the difference excludes 0 and "
            f"Welch's p < 0.05).",
            "",
            *summary,
            "",
            "Every TEL variant against the same best baselines (one comparison per task and "
            "variant on the same test sets: with this many tests some ties and wins are luck; "
            "the default row above is the pre-registered one):",
            "",
            *_tables.variant_counts(verdicts),
            "",
        ]
    if any(c for _, c in thermal.values()):
        headline += [
            "Thermodynamic layers (`thermonn.nn.ThermodynamicLayer`: Linear then nodes with a "
            "learnable temperature each) against the best baseline of each vector task in this "
            "folder (win/loss only when the 95% bootstrap CI of the difference excludes 0 and "
            "Welch's p < 0.05):",
            "",
            *_tables.thermal_summary(groups, budget, thermal),
            "",
            *_tables.variant_counts(thermal, _tables.THERMAL_VARIANTS),
            "",
        ]
    merged = dict(verdicts)  # per task: TEL's and the thermal layers' comparisons together
    for task, (best, comparisons) in thermal.items():
        merged[task] = (best, {**verdicts.get(task, (best, {}))[1], **comparisons})
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    lines = [
        "# Compute-matched benchmark report",
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
        *headline,
        *_plots.cost_plot(groups, out, budget),
        "## Results per task (budget: " + budget + ")",
        "",
        *_tables.results_section(groups, budget, merged),
        *_plots.ksweep_section(groups, out, budget),
        *_plots.depth_section(groups, out, budget),
        *_tables.dropin_section(groups, budget),
        *_plots.budget_section(groups, out),
        *_plots.trajectories_section(rows, out, budget),
        *_tables.matching_section(out),
    ]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
