r"""Maximum-likelihood fitting of an Ornstein–Uhlenbeck process to observed paths.

Maximises the exact path log-likelihood (:func:`~thermonn.dynamics.ou_log_prob`, x₀ given)

.. math::  \ell(A, b, D) = \sum_k \ln \mathcal N\bigl(x_{k+1};\; b + e^{-A\Delta t_k}(x_k - b),\;
           Q(\Delta t_k)\bigr)

over A (any matrix), b and D = LLᵀ (L lower triangular), by L-BFGS with a strong-Wolfe line
search, started from the Euler regression Δx/Δt ≈ −A x + A b with D from its residuals. The
likelihood is differentiated through the matrix exponentials of the exact transition, so the
estimate has no discretisation bias at any sampling interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_int
from thermonn.dynamics.integrate import check_grid
from thermonn.dynamics.ou import OUProcess, ou_log_prob

__all__ = ["OUFit", "fit_ou"]


@dataclass(frozen=True)
class OUFit:
    """``process`` (the fitted OUProcess), ``log_likelihood`` (at the optimum, summed over the
    transitions of every path), ``iterations`` (L-BFGS iterations) and ``converged``."""

    process: OUProcess
    log_likelihood: float
    iterations: int
    converged: bool


def fit_ou(times: Tensor, path: Tensor, *, max_iter: int = 500) -> OUFit:
    """Fit A, b, D to a ``path`` ``(n + 1, ..., d)`` (extra dimensions are independent paths
    sharing the process) observed at ``times`` ``(n + 1,)``.

    Raises:
        ValueError: fewer than d + 2 points, a non-increasing grid, non-finite values, or a
            maximum-likelihood drift that is not stable (the data do not look stationary).
    """
    grid = check_grid("times", times)
    check_int("max_iter", max_iter, minimum=1)
    if not isinstance(path, Tensor) or path.dim() < 2 or len(path) != len(grid):
        raise ValueError(f"path: expected a tensor (len(times) = {len(grid)}, ..., d)")
    if not bool(torch.isfinite(path).all()):
        raise ValueError("path: expected finite values, got NaN or inf")
    d = path.shape[-1]
    if len(path) < d + 2:
        raise ValueError(f"path: expected at least {d + 2} points for d = {d}, got {len(path)}")
    data = path.detach().double()
    steps = (grid[1:] - grid[:-1]).to(data.device).view(-1, *([1] * (data.dim() - 1)))
    x, rate = data[:-1].reshape(-1, d), ((data[1:] - data[:-1]) / steps).reshape(-1, d)
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)
    coef = torch.linalg.lstsq(design, rate).solution  # rate ≈ x Mᵀ + c with M = −A, c = A b
    drift = -coef[:d].mT
    mean = torch.linalg.lstsq(drift, coef[d].unsqueeze(-1)).solution.squeeze(-1)
    residual = rate - design @ coef
    scale = float(steps.mean())
    diffusion = residual.mT @ residual / len(residual) * scale
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    factor = torch.linalg.cholesky(diffusion + 1e-9 * float(diffusion.diagonal().mean()) * eye)
    a = drift.contiguous().clone().requires_grad_(True)
    b = mean.clone().requires_grad_(True)
    lower = factor.contiguous().clone().requires_grad_(True)
    mask = torch.tril(torch.ones(d, d, dtype=torch.bool, device=x.device))
    transitions = (len(data) - 1) * max(1, data[0].numel() // d)
    optimizer = torch.optim.LBFGS(
        [a, b, lower], max_iter=max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-9
    )

    def objective() -> Tensor:
        optimizer.zero_grad()
        l_matrix = torch.where(mask, lower, torch.zeros_like(lower))
        loss = -ou_log_prob(a, b, l_matrix @ l_matrix.mT, grid, data).sum() / transitions
        loss.backward()
        return loss

    optimizer.step(objective)
    state = optimizer.state[optimizer._params[0]]
    iterations = int(state.get("n_iter", 0))
    with torch.no_grad():
        l_matrix = torch.where(mask, lower, torch.zeros_like(lower))
        fitted_d = l_matrix @ l_matrix.mT
        value = float(ou_log_prob(a, b, fitted_d, grid, data).sum())
    try:
        process = OUProcess(
            a.detach().to(path.dtype), b.detach().to(path.dtype), fitted_d.to(path.dtype)
        )
    except ValueError as err:
        raise ValueError(f"path: the maximum-likelihood process is not valid ({err})") from None
    return OUFit(process, value, iterations, iterations < max_iter)
