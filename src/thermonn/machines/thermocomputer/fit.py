"""Training the machine on the teacher's idealised trajectories.

For the Euler–Maruyama path ω = {x_k} the Onsager–Machlup action is

    U_θ[ω] = μΔt/(4kT) Σ_k Σ_i (b_i + h_i + (J x_k)_i − y_k,i)²,
    y_k = −Δx_k/(μΔt) − (2J₂ x_k + 4J₄ x_k³),    h = u W,

the squared mismatch between the drift the machine supplies and the drift the path needs. It is a
convex quadratic in θ = (W, b, J), so two trainers reach the same optimum:

* :func:`~thermonn.machines.thermocomputer.gradient_fit.fit_adam` — minibatch gradient descent
  on the action, as in the paper (θ₀ = 0), with resumable checkpoints;
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

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics import onsager_machlup_action
from thermonn.machines.thermocomputer.machine import (
    MachineConfig,
    ThermoComputer,
    idealised_trajectory,
    onsite_gradient,
)

__all__ = [
    "FitReport",
    "PathSource",
    "check_fit_data",
    "drift_targets",
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


def check_fit_data(machine: ThermoComputer, u: Tensor, targets: Tensor) -> None:
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
    check_fit_data(machine, u, targets)
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
