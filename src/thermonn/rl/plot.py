"""The learning-curve figure of one or more runs (matplotlib, Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thermonn.rl.loop import RLResult

__all__ = ["plot_learning_curve"]


def plot_learning_curve(
    runs: Mapping[str, RLResult],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    episodes: bool = True,
) -> Path:
    """Evaluation return (mean ± std over the evaluation episodes) against environment steps,
    one line per run of ``runs`` (label → result); ``episodes``: the training episodes'
    returns as faint points; the temperature α on a second, logarithmic axis (dashed).
    Writes a PNG at ``path`` and returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    temperature = ax.twinx()
    for i, (label, run) in enumerate(runs.items()):
        color = f"C{i}"
        if episodes and run.episodes:
            ax.plot([e.steps for e in run.episodes], [e.reward for e in run.episodes], ".",
                    color=color, alpha=0.2, markersize=3)  # fmt: skip
        x = [p.steps for p in run.curve]
        mean = [p.mean for p in run.curve]
        std = [p.std for p in run.curve]
        ax.plot(x, mean, "-o", color=color, markersize=3, label=f"{label} (eval)")
        ax.fill_between(x, [m - s for m, s in zip(mean, std, strict=True)],
                        [m + s for m, s in zip(mean, std, strict=True)], color=color, alpha=0.15)  # fmt: skip
        temperature.plot(x, [p.alpha for p in run.curve], "--", color=color, linewidth=1)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("return (deterministic policy; dots: training episodes)")
    temperature.set_ylabel("temperature α (dashed)")
    temperature.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
