"""Named studies: which cells a sweep runs. Cells shared by studies (same key) run once."""

from __future__ import annotations

from collections.abc import Sequence

from thermonn.bench.cells import Cell

__all__ = [
    "BASELINE_MODELS",
    "DROPIN_MODELS",
    "K_SWEEP",
    "K_SWEEP_SPIN",
    "SUITES",
    "THERMAL_MODELS",
    "VECTOR_TASKS",
    "cells_for",
]

VECTOR_TASKS = (
    "digits",
    "breast_cancer",
    "wine",
    "fashion_mnist",
    "spirals",
    "diabetes",
    "friedman1",
    "pendulum",
    "digits_ae",
    "fashion_mnist_ae",
)
BASELINE_MODELS = (
    "linear",
    "mlp-relu",
    "mlp-gelu",
    "swiglu",
    "gated-residual",
    "kan",
    "deq",
    "hopfield",
    "ebm",
    "tel",
    "tel-spin",
    "tel-gate",
    "tel-fixed",
    "tel-nonexp",
    "tel-k1",
)
K_SWEEP = {1: "tel-k1", 2: "tel-k2", 3: "tel-k3", 4: "tel", 5: "tel-k5", 8: "tel-k8"}
K_SWEEP_SPIN = {k: ("tel-spin" if k == 4 else f"tel-spin-k{k}") for k in K_SWEEP}
K_SWEEP_TASKS = ("digits", "friedman1", "fashion_mnist")
DEPTHS = (1, 2, 4, 8)
DEPTH_MODELS = ("mlp-gelu", "tel", "tel-nonexp")
DEPTH_TASKS = ("digits",)
DROPIN_TASKS = ("fashion_mnist_cnn", "fashion_mnist_rows", "charlm")
DROPIN_MODELS = ("ffn", "tel-first", "tel-all")
BUDGET_TASKS = ("digits", "friedman1", "spirals")
BUDGET_MODELS = ("mlp-gelu", "swiglu", "kan", "tel", "tel-spin")
BUDGET_SWEEP = ("small", "default", "large")
THERMAL_MODELS = ("thermo-fd", "thermo-relu", "thermo-mb", "thermo-boltzmann", "thermo-coupled")
THERMAL_REFERENCES = ("linear", "mlp-relu", "mlp-gelu", "swiglu")
THERMAL_DROPIN = {
    "fashion_mnist_cnn": "thermal-conv",
    "fashion_mnist_rows": "thermal-rnn",
    "charlm": "thermal-attn",
}
QUICK_TASKS = ("wine", "diabetes")
QUICK_MODELS = ("mlp-gelu", "tel", "kan")


def _grid(
    tasks: Sequence[str],
    models: Sequence[str],
    seeds: Sequence[int],
    budget: str,
    depths: Sequence[int] = (1,),
) -> list[Cell]:
    return [Cell(t, m, budget, s, d) for t in tasks for m in models for d in depths for s in seeds]


def cells_for(suite: str, seeds: Sequence[int], budget: str = "default") -> list[Cell]:
    """The cells of ``suite`` (see :data:`SUITES`). Raises ``ValueError`` for an unknown suite."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid suites: {sorted(SUITES)}")
    if suite == "full":
        return [
            c
            for name in ("baselines", "ksweep", "depth", "dropin", "budgets")
            for c in cells_for(name, seeds, budget)
        ]
    if suite == "baselines":
        return _grid(VECTOR_TASKS, BASELINE_MODELS, seeds, budget)
    if suite == "ksweep":
        return _grid(K_SWEEP_TASKS, [*K_SWEEP.values(), *K_SWEEP_SPIN.values()], seeds, budget)
    if suite == "depth":
        return _grid(DEPTH_TASKS, DEPTH_MODELS, seeds, budget, DEPTHS)
    if suite == "budgets":
        return [c for b in BUDGET_SWEEP for c in _grid(BUDGET_TASKS, BUDGET_MODELS, seeds, b)]
    if suite == "dropin":
        return _grid(DROPIN_TASKS, DROPIN_MODELS, seeds, budget)
    if suite == "thermal":
        return _grid(VECTOR_TASKS, [*THERMAL_REFERENCES, *THERMAL_MODELS], seeds, budget) + [
            c for t, v in THERMAL_DROPIN.items() for c in _grid([t], ["ffn", v], seeds, budget)
        ]
    return _grid(QUICK_TASKS, QUICK_MODELS, seeds, budget)


SUITES = {
    "baselines": "10 vector tasks x 15 models (baselines and TEL ablations)",
    "ksweep": "TEL (logcosh and spin) with K = 1, 2, 3, 4, 5, 8 on digits, friedman1, fashion_mnist",
    "depth": "stacks of 1, 2, 4, 8 blocks on digits: GELU MLP, TEL, TEL nonexpansive",
    "dropin": "CNN, LSTM, Transformer with original FFNs, TEL in the first FFN, TEL in all",
    "budgets": "small/default/large budgets on digits, friedman1, spirals (metric vs FLOPs)",
    "thermal": "thermodynamic layers (5 node families) and linear/ReLU/GELU/SwiGLU MLPs on the "
    "10 vector tasks; thermal conv, RNN and attention against the original CNN, LSTM, Transformer",
    "quick": "CI smoke: wine and diabetes x (mlp-gelu, tel, kan)",
    "full": "baselines + ksweep + depth + dropin + budgets (the committed sweep)",
}
