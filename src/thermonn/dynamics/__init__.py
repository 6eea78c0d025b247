"""The one integrator core for Langevin dynamics and its path weights."""

from thermonn.dynamics.action import (
    log_path_ratio,
    onsager_machlup_action,
    quartic_action_grad,
    unit_heat,
)
from thermonn.dynamics.langevin import (
    AffineForce,
    LangevinResult,
    langevin_step,
    simulate_langevin,
)

__all__ = [
    "AffineForce",
    "LangevinResult",
    "langevin_step",
    "log_path_ratio",
    "onsager_machlup_action",
    "quartic_action_grad",
    "simulate_langevin",
    "unit_heat",
]
