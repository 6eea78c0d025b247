"""Training the machine on the teacher's idealised trajectories.

For the Euler–Maruyama path ω = {x_k} the Onsager–Machlup action is

    U_θ[ω] = μΔt/(4kT) Σ_k Σ_i (b_i + h_i + (J x_k)_i − y_k,i)²,
    y_k = −Δx_k/(μΔt) − (2J₂ x_k + 4J₄ x_k³),    h = u W,

the squared mismatch between the drift the machine supplies and the drift the path needs. It is a
convex quadratic in θ = (W, b, J), so two trainers reach the same optimum:

* :func:`fit_adam` — minibatch gradient descent on the action, as in the paper (θ₀ = 0), with
  resumable checkpoints;
* :func:`fit_exact` — the least-squares optimum over the *symmetric* parametrisation (each bond
  once). The unit-specific (b_i, W_i) are eliminated in closed form: for fixed J they regress the
  time-averaged target of unit i on z = (1, u), leaving a quadratic in the bonds whose normal
  equations are H θ_J = c, with

      H_pq = [i=k] G_i[j,l] + [i=l] G_i[j,k] + [j=k] G_j[i,l] + [j=l] G_j[i,k]   (p=(i,j), q=(k,l))
      G_i = K X̄ᵀ(I − P_i)X̄ + X̃ᵀX̃,   P_i = Z(ZᵀZ + λI)⁻¹Zᵀ,

  X̄ the per-input time means of the path and X̃ the deviations from them. Every statistic is a
  running sum over chunks of inputs, so the whole training set never sits in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from thermonn._random import generator_or_default
from thermonn._validation import check_float, check_int
from thermonn.dynamics import onsager_machlup_action
from thermonn.machines.thermocomputer.machine import (
    MachineConfig,
    ThermoComputer,
    idealised_trajectory,
    onsite_gradient,
)
from thermonn.train import (
    load_module,
    load_tensors,
    optimizer_from_tensors,
    optimizer_tensors,
    save_tensors,
    train_minibatch,
)

__all__ = [
    "FitReport",
    "PathSource",
    "drift_targets",
    "fit_adam",
    "fit_distill",
    "fit_exact",
    "fit_paths",
    "idealised_paths",
    "mean_action",
]

PathSource = Callable[[Tensor], Tensor]  # rows of the inputs ↦ their paths (steps + 1, rows, n)


@dataclass
class FitReport:
    """What a trainer did: method, epochs, the mean action per step per mobile unit on the
    training paths after fitting, and wall time."""

    method: str
    epochs: int
    action_per_unit_step: float
    seconds: float
    history: list[float]


def drift_targets(path: Tensor, machine: ThermoComputer) -> tuple[Tensor, Tensor]:
    """States x_k (k < K) and the drift targets y_k the couplings must supply, both
    ``(K, batch, n_mobile)``."""
    c = machine.config
    x = path[:-1]
    y = -(path[1:] - x) / (c.mobility * c.dt) - onsite_gradient(x, c.j2, c.j4)
    return x, y


def mean_action(
    machine: ThermoComputer, u: Tensor, paths: PathSource, *, batch_size: int = 2048
) -> float:
    """⟨U⟩ per step per mobile unit of the training paths under the machine (½ would mean the
    paths are as likely as the machine's own)."""
    c = machine.config
    langevin = c.langevin()
    total = 0.0
    with torch.no_grad():
        for rows in torch.arange(len(u)).split(batch_size):
            force = machine.energy(machine.fields(u[rows])).force
            total += float(onsager_machlup_action(paths(rows), force, langevin).sum())
    return total / (len(u) * c.steps * c.n_mobile)


def idealised_paths(targets: Tensor, config: MachineConfig, kappa: float | None) -> PathSource:
    """The teacher's idealised paths of the rows of ``targets`` (computed on demand)."""
    return lambda rows: idealised_trajectory(targets[rows], config, kappa=kappa)


def _check(machine: ThermoComputer, u: Tensor, targets: Tensor) -> None:
    c = machine.config
    if u.dim() != 2 or u.shape[1] != c.n_in:
        raise ValueError(
            f"inputs: expected shape (n, {c.n_in}) for this preset, got {tuple(u.shape)}"
        )
    if targets.shape != (len(u), c.n_mobile):
        raise ValueError(
            f"targets: expected shape ({len(u)}, {c.n_mobile}), got {tuple(targets.shape)}"
        )
    if not (torch.isfinite(u).all() and torch.isfinite(targets).all()):
        raise ValueError("inputs/targets: expected finite values, got NaN or inf")


def fit_exact(
    machine: ThermoComputer,
    u: Tensor,
    targets: Tensor,
    *,
    kappa: float | None = 100.0,
    ridge: float = 1e-6,
    output_weight: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> FitReport:
    """Set ``machine``'s parameters to the exact minimiser of the summed action of the
    idealised paths of ``targets`` (symmetric J, blocks respected); see :func:`fit_paths`."""
    _check(machine, u, targets)
    return fit_paths(
        machine,
        u,
        idealised_paths(targets, machine.config, kappa),
        ridge=ridge,
        output_weight=output_weight,
        progress=progress,
    )


def fit_paths(
    machine: ThermoComputer,
    u: Tensor,
    paths: PathSource,
    *,
    ridge: float = 1e-6,
    output_weight: float = 1.0,
    chunk_size: int = 1024,
    progress: Callable[[int], None] | None = None,
) -> FitReport:
    """Exact least-squares fit of the machine to any set of paths: ``paths(rows)`` returns the
    paths ``(steps + 1, len(rows), n_mobile)`` of the inputs ``u[rows]`` (the machine's own
    clock). ``ridge`` (relative to the mean diagonal of ZᵀZ) only regularises directions the
    data leave undetermined. ``output_weight`` multiplies the output units' terms of the action
    (1 = the paper's objective; > 1 trades hidden-unit fidelity for output fidelity — the same
    as fitting the output units' paths at temperature kT / output_weight). ``progress(n)`` is
    called with the number of inputs processed."""
    check_float("ridge", ridge, at_least=0.0)
    check_float("output_weight", output_weight, above=0.0)
    start = time.perf_counter()
    c = machine.config
    n, steps, f64 = c.n_mobile, c.steps, torch.float64
    d = c.n_in + 1
    zz = torch.zeros(d, d, dtype=f64)
    zx = torch.zeros(d, n, dtype=f64)
    zy = torch.zeros(d, n, dtype=f64)
    xbxb, xbyb, sxx, sxy = (torch.zeros(n, n, dtype=f64) for _ in range(4))
    for rows in torch.arange(len(u)).split(chunk_size):
        path = paths(rows)
        if path.shape != (steps + 1, len(rows), n):
            raise ValueError(
                f"paths: expected shape ({steps + 1}, {len(rows)}, {n}), got {tuple(path.shape)}"
            )
        x, y = drift_targets(path, machine)
        x, y = x.to(f64), y.to(f64)
        z = torch.cat([torch.ones(len(rows), 1, dtype=f64), u[rows].to(f64)], 1)
        xb, yb = x.mean(0), y.mean(0)
        zz += z.T @ z
        zx += z.T @ xb
        zy += z.T @ yb
        xbxb += xb.T @ xb
        xbyb += xb.T @ yb
        xf, yf = x.reshape(-1, n), y.reshape(-1, n)
        sxx += xf.T @ xf
        sxy += xf.T @ yf
        if progress is not None:
            progress(len(rows))
    dev_xx, dev_xy = sxx - steps * xbxb, sxy - steps * xbyb  # X̃ᵀX̃, X̃ᵀỸ

    hidden = torch.arange(n) < c.n_hidden
    uses_inputs = torch.where(hidden, "in-hidden" in c.blocks, "in-out" in c.blocks) & (c.n_in > 0)
    solves, g_unit, r_unit = {}, torch.zeros(n, n, n, dtype=f64), torch.zeros(n, n, dtype=f64)
    for with_inputs in (True, False):
        units = (uses_inputs == with_inputs).nonzero().flatten()
        if len(units) == 0:
            continue
        cols = slice(None) if with_inputs else slice(0, 1)
        a = zz[cols, cols]
        a = a + ridge * a.diagonal().mean() * torch.eye(len(a), dtype=f64)
        chol = torch.linalg.cholesky(a)
        solve = lambda rhs, chol=chol: torch.cholesky_solve(rhs, chol)  # noqa: E731
        proj_x = solve(zx[cols])
        g = steps * (xbxb - zx[cols].T @ proj_x) + dev_xx
        r = steps * (xbyb - zx[cols].T @ solve(zy[cols])) + dev_xy
        weights = torch.where(units < c.n_hidden, 1.0, output_weight).to(f64)
        g_unit[units], r_unit[units] = g * weights[:, None, None], r.T[units] * weights[:, None]
        solves[with_inputs] = (cols, solve, units)

    i, j = (machine.bond_mask > 0).nonzero(as_tuple=True)
    coupling = torch.zeros(n, n, dtype=f64)
    if len(i):
        eq = lambda a, b: (a[:, None] == b[None, :]).to(f64)  # noqa: E731
        h = (
            eq(i, i) * g_unit[i[:, None], j[:, None], j[None, :]]
            + eq(i, j) * g_unit[i[:, None], j[:, None], i[None, :]]
            + eq(j, i) * g_unit[j[:, None], i[:, None], j[None, :]]
            + eq(j, j) * g_unit[j[:, None], i[:, None], i[None, :]]
        )
        rhs = r_unit[i, j] + r_unit[j, i]
        h = h + 1e-12 * h.diagonal().mean() * torch.eye(len(h), dtype=f64)
        theta = torch.linalg.solve(h, rhs)
        coupling[i, j] = theta
        coupling = coupling + coupling.T

    weight = torch.zeros(c.n_in, n, dtype=f64)
    bias = torch.zeros(n, dtype=f64)
    for cols, solve, units in solves.values():
        w = solve(zy[cols][:, units] - zx[cols] @ coupling[:, units])
        bias[units] = w[0]
        if w.shape[0] > 1:
            weight[:, units] = w[1:]
    with torch.no_grad():
        machine.weight.copy_(weight * machine.in_mask)
        machine.bias.copy_(bias)
        machine.bonds.copy_(coupling.triu(1))
    action = mean_action(machine, u, paths)
    return FitReport("exact", 0, action, time.perf_counter() - start, [action])


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
    _check(machine, u, targets)
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
    if not (torch.isfinite(u).all() and torch.isfinite(teacher_probs).all()):
        raise ValueError("inputs/teacher_probs: expected finite values, got NaN or inf")
    start = time.perf_counter()
    readout = _ReadoutScale()
    generator = generator_or_default(generator)

    def batch_loss(rows: Tensor) -> Tensor:
        x = machine.simulate(u[rows], generator=generator).final[0][:, c.n_hidden :]
        logp = (readout.scale * x).log_softmax(-1)
        return -(teacher_probs[rows] * logp).sum(-1).mean()

    history = _train_epochs(
        "distill", machine, len(u), batch_loss, extra=readout, epochs=epochs, lr=lr,
        batch_size=batch_size, generator=generator, checkpoint=checkpoint, progress=progress,
    )  # fmt: skip
    return FitReport("distill", epochs, float("nan"), time.perf_counter() - start, history)
