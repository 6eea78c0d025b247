"""Path weights of overdamped Langevin trajectories: Onsager–Machlup action and heat.

For the Euler–Maruyama discretisation the negative log path probability (up to a constant) is

    U[ω] = Σ_k Σ_{i mobile} (Δx_i^(k) − μ F_i(x_k) Δt)² / (4 μ kT Δt),

so on trajectories of the model itself each term is ξ²/2: ⟨U⟩ per step per unit = ½.
The reversed path ω̃ = (x_K, …, x_0) has weight U[ω̃]; ln P[ω] − ln P[ω̃] = U[ω̃] − U[ω] tends to
the heat released, Q / kT with Q = V(x_0) − V(x_K), as Δt → 0 (Sekimoto).

``path`` is a recorded trajectory's states at every step, shape ``(steps + 1, *batch, n)``;
``force`` is x ↦ F(x) (an :class:`~thermonn.dynamics.Energy`'s ``force``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from thermonn.dynamics.langevin import Langevin

__all__ = ["log_path_ratio", "onsager_machlup_action", "unit_heat"]

Force = Callable[[Tensor], Tensor]


def onsager_machlup_action(path: Tensor, force: Force, langevin: Langevin) -> Tensor:
    """U[ω] of ``path``, summed over steps and units; returns shape ``batch``. Differentiable
    in the parameters ``force`` closes over.

    Raises:
        ValueError: if ``langevin.kT`` is a schedule or zero.
    """
    kT = langevin.constant_temperature()
    mu, dt = langevin.mobility, langevin.dt
    residual = path[1:] - path[:-1] - mu * dt * force(path[:-1])
    if langevin.mobile is not None:  # clamped units neither move nor carry action
        residual = residual * langevin.mobile.to(residual.dtype)
    return residual.square().sum(dim=(0, -1)) / (4.0 * mu * kT * dt)


def log_path_ratio(path: Tensor, force: Force, langevin: Langevin) -> Tensor:
    """ln P[ω] − ln P[ω̃] = U[ω̃] − U[ω] for the time-reversed path ω̃ (entropy production in
    units of k_B); → Q/kT as Δt → 0."""
    forward = onsager_machlup_action(path, force, langevin)
    return onsager_machlup_action(path.flip(0), force, langevin) - forward


def unit_heat(path: Tensor, force: Force) -> Tensor:
    """Heat released by each unit along ``path``: Q_i = ∫ F_i ∘ dx_i (Stratonovich, trapezoid
    rule), returned with shape ``(*batch, n)``.

    For a time-independent potential Σ_i Q_i → V(x_0) − V(x_K) as Δt → 0 (Sekimoto); clamped
    units do not move and release nothing."""
    f = force(path)
    return (0.5 * (f[1:] + f[:-1]) * (path[1:] - path[:-1])).sum(0)
