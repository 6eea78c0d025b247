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
    not in ``history`` and ``on_epoch`` was not called for it)."""

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
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    check_int("start_epoch", start_epoch, minimum=0)
    result = TrainResult()
    last: Tensor | None = None
    for epoch in range(start_epoch, epochs):
        for module in modules:
            module.train()
        total = torch.zeros((), dtype=torch.float64)  # moved to the loss's device at step 1
        for rows in torch.randperm(n, generator=generator).split(batch_size):
            loss = batch_loss(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            result.steps += 1
            last = loss.detach()
            total = total.to(last.device) + last.double() * len(rows)
        mean = float(total) / n
        if not math.isfinite(mean):
            result.diverged = True
            break
        result.history.append(mean)
        if on_epoch is not None:
            on_epoch(epoch + 1, mean)
    if last is not None:
        result.last_loss = float(last)
    return result
