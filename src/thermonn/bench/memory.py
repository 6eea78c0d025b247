"""What a benchmark run costs in memory: activations saved for backward, resident-set growth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from thermonn.bench.tasks import Task

__all__ = ["rss_reset", "saved_bytes", "status_kib"]


def saved_bytes(model: nn.Module, task: Task, x: Tensor, y: Tensor) -> int:
    """Bytes of the activations autograd keeps for the backward pass of one training step
    (each saved tensor once; parameters excluded)."""
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[tuple[int, tuple[int, ...]], int] = {}

    def pack(t: Tensor) -> Tensor:
        if t.data_ptr() not in params:
            seen[(t.data_ptr(), tuple(t.shape))] = t.numel() * t.element_size()
        return t

    model.train()
    x, y = x.clone(), y.clone()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        task.loss(model(x), task.target(x, y)).backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())


def rss_reset() -> int | None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return status_kib("VmRSS")
    except OSError:
        return None


def status_kib(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None
