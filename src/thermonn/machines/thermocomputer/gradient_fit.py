"""Gradient trainers of the machine, in the package's one minibatch loop with resumable
checkpoints: Adam on the Onsager–Machlup action of the teacher's idealised paths
(:func:`fit_adam`, the paper's trainer), and distillation through the dynamics
(:func:`fit_distill`). The exact least-squares optimum of the same action is
:func:`~thermonn.machines.thermocomputer.fit.fit_exact`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from thermonn._random import generator_or_default
from thermonn._validation import check_float, check_int
from thermonn.dynamics import onsager_machlup_action
from thermonn.machines.thermocomputer.fit import (
    FitReport,
    check_fit_data,
    idealised_paths,
    mean_action,
)
from thermonn.machines.thermocomputer.machine import ThermoComputer, idealised_trajectory
from thermonn.train import (
    load_module,
    load_tensors,
    optimizer_from_tensors,
    optimizer_tensors,
    save_tensors,
    train_minibatch,
)

__all__ = ["fit_adam", "fit_distill"]


def _train_epochs(
    name: str,
    machine: ThermoComputer,
    n: int,
    batch_loss: Callable[[Tensor], Tensor],
    *,
    extra: nn.Module | None,
    epochs: int,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
    checkpoint: str | os.PathLike[str] | None,
    progress: Callable[[int, float], None] | None,
) -> list[float]:
    """Adam on ``batch_loss(rows)`` in the package's minibatch loop; after every epoch the
    machine (and ``extra``), the optimizer, the epoch and the generator state go atomically to
    ``checkpoint``; a call with an existing checkpoint resumes exactly after its last finished
    epoch. ``generator`` orders the rows (and is saved with the checkpoint)."""
    check_int("epochs", epochs, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    modules = {"machine": machine, **({"extra": extra} if extra is not None else {})}
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=check_float("lr", lr, above=0.0))
    history: list[float] = []
    first = 0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.is_file():
        tensors, meta = load_tensors(ckpt)
        if meta.get("trainer") != name:
            raise ValueError(
                f"{ckpt}: expected a checkpoint of the {name!r} trainer, "
                f"got one of {meta.get('trainer')!r}"
            )
        for key, module in modules.items():
            load_module(module, tensors, source=str(ckpt), prefix=f"{key}.")
        try:
            optimizer_from_tensors(opt, tensors, meta["param_groups"])
            generator.set_state(tensors["generator"])
            first, history = int(meta["epoch"]), [float(v) for v in meta["history"]]
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"{ckpt}: not a complete {name!r} checkpoint ({type(err).__name__}: {err}); "
                "delete it to restart that stage"
            ) from None

    def finished(epoch: int, loss: float) -> None:
        history.append(loss)
        if ckpt is not None:
            opt_t, groups = optimizer_tensors(opt)
            state = {
                f"{key}.{k}": v for key, m in modules.items() for k, v in m.state_dict().items()
            }
            save_tensors(
                ckpt,
                {**state, **opt_t, "generator": generator.get_state()},
                {"trainer": name, "epoch": epoch, "history": history, "param_groups": groups},
            )
        if progress is not None:
            progress(epoch, loss)

    result = train_minibatch(
        batch_loss, n, opt, epochs=epochs, batch_size=batch_size, generator=generator,
        start_epoch=first, on_epoch=finished,
    )  # fmt: skip
    if result.diverged:
        raise FloatingPointError(
            f"{name}: the loss became non-finite in epoch {len(history) + 1} with learning rate "
            f"lr={lr:g}; lower the learning rate (the last good checkpoint is kept)"
        )
    return history


def fit_adam(
    machine: ThermoComputer,
    u: Tensor,
    targets: Tensor,
    *,
    kappa: float | None = 100.0,
    epochs: int = 10,
    lr: float = 5e-2,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> FitReport:
    """Adam on the action of the idealised paths, from the machine's current parameters (zero
    for a fresh machine, as in the paper). The loss is U per step per mobile unit.

    With ``checkpoint``, the machine, the optimizer, the epoch and the generator's state are
    written atomically after every epoch; calling again with the same file resumes exactly
    where the last finished epoch left off. ``progress(epoch, loss)`` after each epoch.
    ``generator`` orders the rows; ``None`` seeds one from torch's default generator."""
    check_fit_data(machine, u, targets)
    c = machine.config
    start = time.perf_counter()
    scale = c.steps * c.n_mobile

    langevin = c.langevin()

    def batch_loss(rows: Tensor) -> Tensor:
        path = idealised_trajectory(targets[rows], c, kappa=kappa)
        force = machine.energy(machine.fields(u[rows])).force
        return onsager_machlup_action(path, force, langevin).mean() / scale

    history = _train_epochs(
        "adam", machine, len(u), batch_loss, extra=None, epochs=epochs, lr=lr,
        batch_size=batch_size, generator=generator_or_default(generator),
        checkpoint=checkpoint, progress=progress,
    )  # fmt: skip
    action = mean_action(machine, u, idealised_paths(targets, c, kappa))
    return FitReport("adam", epochs, action, time.perf_counter() - start, history)


class _ReadoutScale(nn.Module):
    """The inverse temperature a of the distillation readout softmax(a · x_out); argmax, and
    so the machine's prediction, does not depend on it."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))


def fit_distill(
    machine: ThermoComputer,
    u: Tensor,
    teacher_probs: Tensor,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> FitReport:
    """Distillation through the dynamics (an extension of the paper): Adam on the
    cross-entropy H(p_teacher, softmax(a · x_out(t_f))) of one noisy trajectory per input at the
    machine's kT, differentiating through all Euler–Maruyama steps (the noise is a fixed
    draw per step, so the gradient is the pathwise one). Start it from an action fit: the
    action fit gives the machine the teacher's internal representation, distillation then
    corrects what the readout at t_f gets wrong. Checkpoints and resumption as in
    :func:`fit_adam`; the loss reported is the cross-entropy in nats."""
    c = machine.config
    if u.dim() != 2 or u.shape[1] != c.n_in:
        raise ValueError(f"inputs: expected shape (n, {c.n_in}), got {tuple(u.shape)}")
    if teacher_probs.shape != (len(u), c.n_out):
        raise ValueError(
            f"teacher_probs: expected shape ({len(u)}, {c.n_out}), got {tuple(teacher_probs.shape)}"
        )
    if not torch.isfinite(teacher_probs).all():
        raise ValueError("teacher_probs: expected finite values, got NaN or inf")
    start = time.perf_counter()
    readout = _ReadoutScale()
    generator = generator_or_default(generator)

    def batch_loss(rows: Tensor) -> Tensor:
        x = machine.run(u[rows], generator=generator).final[0][:, c.n_hidden :]
        logp = (readout.scale * x).log_softmax(-1)
        return -(teacher_probs[rows] * logp).sum(-1).mean()

    history = _train_epochs(
        "distill", machine, len(u), batch_loss, extra=readout, epochs=epochs, lr=lr,
        batch_size=batch_size, generator=generator, checkpoint=checkpoint, progress=progress,
    )  # fmt: skip
    return FitReport("distill", epochs, float("nan"), time.perf_counter() - start, history)
