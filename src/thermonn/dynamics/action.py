"""Path weights of overdamped Langevin trajectories: Onsager–Machlup action and heat.

For the Euler–Maruyama discretisation the negative log path probability (up to a constant) is

    U[ω] = Σ_k Σ_{i mobile} (Δx_i^(k) − μ F_i(x_k) Δt)² / (4 μ kT Δt),

so on trajectories of the model itself each term is ξ²/2: ⟨U⟩ per step per unit = ½.
The reversed path ω̃ = (x_K, …, x_0) has weight U[ω̃]; ln P[ω] − ln P[ω̃] = U[ω̃] − U[ω] tends to
the heat released, Q / kT with Q = V(x_0) − V(x_K), as Δt → 0 (Sekimoto).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor

from thermonn._validation import check_float
from thermonn.functional.potentials import quartic_force

__all__ = ["log_path_ratio", "onsager_machlup_action", "quartic_action_grad", "unit_heat"]


def onsager_machlup_action(
    path: Tensor,
    force_fn: Callable[[Tensor], Tensor],
    *,
    dt: float,
    mobility: float = 1.0,
    kT: float = 1.0,
    mobile: Tensor | None = None,
) -> Tensor:
    """U[ω] of ``path`` (shape ``(steps + 1, *batch, n)``), summed over steps and units;
    returns shape ``batch``. Differentiable in the parameters ``force_fn`` closes over."""
    check_float("kT", kT, above=0.0)
    residual = _residual(path, force_fn, dt=dt, mobility=mobility, mobile=mobile)
    return residual.square().sum(dim=(0, -1)) / (4.0 * mobility * kT * dt)


def _residual(
    path: Tensor,
    force_fn: Callable[[Tensor], Tensor],
    *,
    dt: float,
    mobility: float,
    mobile: Tensor | None,
) -> Tensor:
    """Δx_k − μ F(x_k) Δt per step and unit (zero on clamped units): √(2μkTΔt) ξ_k on the
    model's own trajectories."""
    check_float("dt", dt, above=0.0)
    check_float("mobility", mobility, above=0.0)
    residual = path[1:] - path[:-1] - mobility * dt * force_fn(path[:-1])
    return residual if mobile is None else residual * mobile.to(residual.dtype)


def log_path_ratio(
    path: Tensor,
    force_fn: Callable[[Tensor], Tensor],
    *,
    dt: float,
    mobility: float = 1.0,
    kT: float = 1.0,
    mobile: Tensor | None = None,
) -> Tensor:
    """ln P[ω] − ln P[ω̃] = U[ω̃] − U[ω] for the time-reversed path ω̃ (entropy production in
    units of k_B); → Q/kT as Δt → 0."""
    forward = onsager_machlup_action(path, force_fn, dt=dt, mobility=mobility, kT=kT, mobile=mobile)
    reverse = onsager_machlup_action(
        path.flip(0), force_fn, dt=dt, mobility=mobility, kT=kT, mobile=mobile
    )
    return reverse - forward


def unit_heat(path: Tensor, force_fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Heat released by each unit along ``path`` (shape ``(steps + 1, *batch, n)``):
    Q_i = ∫ F_i ∘ dx_i (Stratonovich, trapezoid rule), returned with shape ``(*batch, n)``.

    For a time-independent potential Σ_i Q_i → V(x_0) − V(x_K) as Δt → 0 (Sekimoto); clamped
    units do not move and release nothing."""
    force = force_fn(path)
    return (0.5 * (force[1:] + force[:-1]) * (path[1:] - path[:-1])).sum(0)


def quartic_action_grad(
    path: Tensor,
    coupling: Tensor,
    bias: Tensor,
    *,
    j2: float,
    j4: float,
    dt: float,
    mobility: float = 1.0,
    kT: float = 1.0,
    mobile: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Analytic ∂U/∂b and ∂U/∂J of the action summed over the batch, for the quartic machine
    (:func:`thermonn.functional.potentials.quartic_potential`).

    With the residual q_i = (Δx_i + μ ∂_i V Δt) / (2 kT) on mobile units (0 on clamped ones):
    ∂U/∂b_i = Σ q_i and ∂U/∂J_ij = Σ (q_i x_j + q_j x_i) for i ≠ j (J symmetric, each bond once),
    sums over steps and batch; the diagonal of the J-gradient is 0 (no self-coupling).
    """
    check_float("kT", kT, above=0.0)
    force = partial(quartic_force, j2=j2, j4=j4, bias=bias, coupling=coupling)
    residual = _residual(path, force, dt=dt, mobility=mobility, mobile=mobile)
    x = path[:-1]
    q = (residual / (2.0 * kT)).reshape(-1, path.shape[-1])
    xs = x.reshape(-1, path.shape[-1])
    grad_j = q.T @ xs
    grad_j = grad_j + grad_j.T
    return q.sum(0), grad_j.fill_diagonal_(0.0)
