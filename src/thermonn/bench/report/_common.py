"""Plumbing of the report: rows grouped per (task, model, budget, depth), cell formatting, the
CSV file and matplotlib figures."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from thermonn._io import atomic_write_text
from thermonn.bench.stats import mean_std

Row = dict[str, Any]
GroupKey = tuple[str, str, str, int]
"""``(task, model, budget, depth)``: the runs of one group differ only in their seed."""
Groups = dict[GroupKey, list[Row]]


def group(rows: Iterable[Row]) -> Groups:
    groups: Groups = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["model"], r["budget"], r["depth"])].append(r)
    return groups


def values(rows: Sequence[Row]) -> list[float]:
    """The metric values of the runs that finished (``status`` ``ok``)."""
    return [r["value"] for r in rows if r["status"] == "ok"]


def mean_of(rows: Sequence[Row], field: str) -> float:
    return statistics.fmean(r[field] for r in rows)


def fmt(values: Sequence[float], digits: int = 4) -> str:
    """``mean ± std`` of ``values``; ``—`` when there are none."""
    if not values:
        return "—"
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def write_csv(rows: Sequence[Row], path: Path) -> None:
    """One line per row; the traces are left out and dict-valued fields written as JSON."""
    fields = [k for k in rows[0] if k not in ("traces",)]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()})
    atomic_write_text(path, text.getvalue())


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
