"""What one benchmark run is — a :class:`Cell` (task × model × budget × depth × seed) — how runs
execute (:class:`RunOptions`), and its compute-matched plan (:func:`plan`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from thermonn._random import seeded_default_generator
from thermonn._validation import check_float, check_int, check_seed
from thermonn.bench.backbones import build_backbone, variants_for
from thermonn.bench.families import FAMILIES, REFERENCE, get_family
from thermonn.bench.matching import Match, count_flops, count_parameters, match_width
from thermonn.bench.tasks import Task, get_task

__all__ = ["BUDGETS", "Cell", "RunOptions", "build_model", "plan", "plan_task"]

BUDGETS: dict[str, float] = {"small": 0.5, "default": 1.0, "large": 2.0, "xlarge": 4.0}


@dataclass(frozen=True)
class Cell:
    """One run: the model ``model`` on ``task`` at ``budget`` (× the task's base width), ``depth``
    stacked blocks (vector tasks), initialised and shuffled with ``seed``."""

    task: str
    model: str
    budget: str = "default"
    seed: int = 0
    depth: int = 1

    @property
    def key(self) -> str:
        return f"{self.task}|{self.model}|{self.budget}|d{self.depth}|s{self.seed}"

    @property
    def plan_key(self) -> str:
        return f"{self.task}|{self.model}|{self.budget}|d{self.depth}"

    def validate(self) -> Task:
        """Check every name; ``ValueError`` lists the valid choices."""
        task = get_task(self.task)
        if self.budget not in BUDGETS:
            raise ValueError(f"unknown budget {self.budget!r}; valid budgets: {list(BUDGETS)}")
        if task.backbone is None:
            get_family(self.model)
        elif self.model not in variants_for(task.backbone):
            raise ValueError(
                f"unknown model {self.model!r} for the drop-in task {self.task!r}; "
                f"valid models: {variants_for(task.backbone)}"
            )
        check_seed("seed", self.seed)
        check_int("depth", self.depth)
        if self.depth < 1 or (task.backbone is not None and self.depth != 1):
            raise ValueError(
                f"depth: expected 1 for drop-in tasks and >= 1 otherwise, got {self.depth}"
            )
        return task


@dataclass(frozen=True)
class RunOptions:
    """How runs are executed (not part of a row's key): ``epochs_scale`` multiplies every task's
    epochs, ``max_train`` subsamples training sets (quick mode), ``threads`` per run."""

    epochs_scale: float = 1.0
    max_train: int | None = None
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_float("epochs_scale", self.epochs_scale, above=0.0)
        for name in ("max_train", "threads"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        try:
            kind = torch.device(self.device).type
        except RuntimeError:
            raise ValueError(
                f"device: expected a torch device such as 'cpu' or 'cuda:0', got {self.device!r}"
            ) from None
        if kind not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device: expected cpu, cuda, cuda:N or mps, got {self.device!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device: {self.device!r} requested but CUDA is not available here")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device: {self.device!r} requested but MPS is not available here")


def build_model(cell: Cell, task: Task) -> tuple[Callable[..., nn.Module], int]:
    split, d_out = task.data()
    width0 = max(1, round(task.width * BUDGETS[cell.budget]))
    if task.backbone is not None:
        backbone = task.backbone
        return (lambda w, **_: build_backbone(backbone, cell.model, w, d_out)), width0
    family = get_family(cell.model)
    d_in = split.x_train.shape[-1]
    return (lambda w, **k: family.build(d_in, d_out, w, depth=cell.depth, **k)), width0


def plan(cell: Cell) -> Match:
    """The matched width/knobs of ``cell``'s model against the reference at its budget
    (GELU MLP for vector tasks, the original-FFN network for drop-in tasks); computed once per
    (task, model, budget, depth) and process, whatever the seed."""
    return plan_task(cell, cell.validate())


def plan_task(cell: Cell, task: Task) -> Match:
    """:func:`plan` of a cell already validated into ``task``. The candidate models it builds
    draw their initial weights inside ``fork_rng``: planning leaves torch's default generator
    as it found it."""
    with seeded_default_generator(None):
        return _plan(Cell(cell.task, cell.model, cell.budget, 0, cell.depth), task)


@cache
def _plan(cell: Cell, task: Task) -> Match:
    split, _ = task.data()
    x = split.x_train[:8]
    reference = Cell(cell.task, "ffn" if task.backbone else REFERENCE, cell.budget, 0, cell.depth)
    build_ref, width0 = build_model(reference, task)
    ref = build_ref(width0)
    target_params, target_flops = count_parameters(ref), count_flops(ref, x)
    build, _ = build_model(cell, task)
    if task.backbone is not None:  # architecture fixed; only the FFN activation changes
        model = build(width0)
        return Match(
            width0, {}, count_parameters(model), count_flops(model, x), target_params, target_flops
        )
    family = FAMILIES[cell.model]
    return match_width(
        build,
        x,
        target_params=target_params,
        target_flops=target_flops,
        knob_grid=family.knob_grid,
        min_width=family.min_width,
    )
