"""The teacher network the machine imitates, and the targets it hands the idealised trajectory.

Teacher: an MLP d-32-32-10 with tanh hidden units and a softmax output (the paper's 784-32-32-10).
Targets per input: s = (A¹, A², 2p − 1) — the 64 tanh activations for the hidden spins and
2p − 1 ∈ (−1, 1) for the output spins.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from thermonn._random import generator_or_default
from thermonn._validation import check_float, check_int
from thermonn.train import train_minibatch

__all__ = ["build_teacher", "teacher_targets", "train_teacher"]


def build_teacher(n_in: int, hidden: tuple[int, ...] = (32, 32), n_out: int = 10) -> nn.Sequential:
    """``Linear → tanh`` per hidden layer, then a linear readout (softmax in the loss)."""
    layers: list[nn.Module] = []
    width = check_int("n_in", n_in, minimum=1)
    for h in hidden:
        layers += [nn.Linear(width, check_int("hidden", h, minimum=1)), nn.Tanh()]
        width = h
    layers.append(nn.Linear(width, check_int("n_out", n_out, minimum=2)))
    return nn.Sequential(*layers)


def teacher_targets(teacher: nn.Sequential, x: Tensor) -> Tensor:
    """``(batch, n_hidden + n_out)``: every tanh activation, then 2·softmax − 1."""
    acts = []
    with torch.no_grad():
        h = x
        for layer in teacher:
            h = layer(h)
            if isinstance(layer, nn.Tanh):
                acts.append(h)
        acts.append(2 * h.softmax(-1) - 1)
    return torch.cat(acts, dim=-1)


def train_teacher(
    teacher: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 256,
    weight_decay: float = 1e-4,
    generator: torch.Generator | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """AdamW on the cross-entropy in the package's minibatch loop (the paper used 300 epochs of
    SGD). ``progress(epoch, loss)`` is called after each epoch; ``generator`` orders the rows
    (``None``: seeded from torch's default generator).

    Raises:
        FloatingPointError: if the loss becomes non-finite.
    """
    opt = torch.optim.AdamW(
        teacher.parameters(), lr=check_float("lr", lr, above=0.0), weight_decay=weight_decay
    )
    result = train_minibatch(
        lambda rows: nn.functional.cross_entropy(teacher(x[rows]), y[rows]),
        len(x),
        opt,
        epochs=epochs,
        batch_size=batch_size,
        generator=generator_or_default(generator),
        on_epoch=progress,
    )
    if result.diverged:
        raise FloatingPointError(
            f"teacher: the loss became non-finite with lr={lr:g}; lower the learning rate"
        )
    return teacher.eval()
