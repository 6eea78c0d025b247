"""The one minibatch training loop, with a pluggable optimiser.

Every trainer in the package — the demo's classifiers, the benchmark's cells, the
thermodynamic computer's teacher and its action and distillation fits — is this loop with its
own ``batch_loss(rows)`` and optimiser. Any ``torch.optim.Optimizer`` plugs in (Adam, SGD, the
thermodynamic natural-gradient optimiser), as may a per-step learning-rate scheduler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from thermonn._validation import check_int

__all__ = ["TrainResult", "train_minibatch"]


@dataclass
class TrainResult:
    """``history``: mean loss per finished epoch (rows-weighted, float64 accumulation);
    ``steps``: optimiser steps taken in this call; ``last_loss``: the last batch's loss;
    ``diverged``: the loop stopped because an epoch's mean loss was not finite (that epoch is
    not in ``history`` and ``on_epoch`` was not called for it). The per-batch losses stay on
    their device during an epoch and come to the host once at its end."""

    history: list[float] = field(default_factory=list)
    steps: int = 0
    last_loss: float = math.nan
    diverged: bool = False


def train_minibatch(
    batch_loss: Callable[[Tensor], Tensor],
    n: int,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    start_epoch: int = 0,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    modules: Sequence[nn.Module] = (),
    on_epoch: Callable[[int, float], object] | None = None,
) -> TrainResult:
    """Epochs ``start_epoch + 1 … epochs`` of minibatch descent over rows ``0 … n − 1``.

    Each epoch draws one permutation of the rows from ``generator``, cuts it into batches of
    ``batch_size`` and, per batch, minimises ``batch_loss(rows)`` with one ``optimizer`` step
    (then one ``scheduler`` step). ``modules`` are put in training mode at the start of every
    epoch. ``on_epoch(epoch, mean_loss)`` runs after each finished epoch (checkpoints, progress
    bars); the loop holds no host sync per step, only one per epoch.
    """
    check_int("n", n, minimum=1)
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_int("start_epoch", start_epoch, minimum=0)
    result = TrainResult()
    for epoch in range(start_epoch, epochs):
        for module in modules:
            module.train()
        losses: list[Tensor] = []
        sizes: list[int] = []
        for rows in torch.randperm(n, generator=generator).split(batch_size):
            loss = batch_loss(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())
            sizes.append(len(rows))
        values = torch.stack(losses).tolist()  # the epoch's one host transfer
        result.steps += len(values)
        result.last_loss = values[-1]
        total = 0.0  # rows-weighted, summed in order in float64
        for value, size in zip(values, sizes, strict=True):
            total += value * size
        mean = total / n
        if not math.isfinite(mean):
            result.diverged = True
            break
        result.history.append(mean)
        if on_epoch is not None:
            on_epoch(epoch + 1, mean)
    return result
