r"""The Ornstein–Uhlenbeck memory cell, on the shared Langevin engine.

.. math::  dm = -\gamma m\,dt + u(t)\,dt + \sqrt{2\gamma kT}\,dW,

a leaky integrator of its input u with thermal noise: overdamped Langevin dynamics of mobility γ
in the well E(m) = ½|m − u/γ|² (:class:`~thermonn.dynamics.QuadraticEnergy`), stepped by
Euler–Maruyama (the exact OU transition replaces it when the engine has one). For constant u
it relaxes at rate γ to N(u/γ, kT); Euler–Maruyama's discrete moments are
m_k = a^k m_0 + (u/γ)(1 − a^k) and Var_k = 2γkTΔt (1 − a^{2k}) / (1 − a²), a = 1 − γΔt.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate

__all__ = ["OUMemory"]


class OUMemory(nn.Module):
    """``features`` OU memory units with relaxation rate ``gamma``, temperature ``kT`` and
    time step ``dt``. ``forward(inputs)`` takes inputs ``(steps, batch, features)`` (u_k held
    over step k) and returns the memory ``(steps + 1, batch, features)`` from ``m0`` (default
    zeros); differentiable in the inputs; every random number from ``generator``."""

    def __init__(
        self, features: int, *, gamma: float = 1.0, kT: float = 0.01, dt: float = 0.01
    ) -> None:
        super().__init__()
        self.features = check_int("features", features, minimum=1)
        self.gamma = check_float("gamma", gamma, above=0.0)
        self.kT = check_float("kT", kT, at_least=0.0)
        self.dt = check_float("dt", dt, above=0.0)
        if self.gamma * self.dt >= 1.0:
            raise ValueError(
                f"dt: expected gamma * dt < 1 for a stable Euler–Maruyama step, got {self.gamma * self.dt:g}"
            )

    def extra_repr(self) -> str:
        return f"features={self.features}, gamma={self.gamma}, kT={self.kT}, dt={self.dt}"

    def forward(
        self, inputs: Tensor, m0: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        if inputs.dim() != 3 or inputs.shape[-1] != self.features or not inputs.is_floating_point():
            raise ValueError(
                f"inputs: expected a floating tensor of shape (steps, batch, {self.features}), got "
                f"{inputs.dtype} {tuple(inputs.shape)}"
            )
        steps = len(inputs)
        eye = torch.eye(self.features, dtype=inputs.dtype, device=inputs.device)
        wells = [QuadraticEnergy(eye, u / self.gamma) for u in inputs]  # E_k = ½|m − u_k/γ|²
        dt = self.dt

        def energy_at(t: float) -> QuadraticEnergy:
            return wells[min(round(t / dt), steps - 1)]

        start = torch.zeros_like(inputs[0]) if m0 is None else m0
        stepper = EulerMaruyama(energy_at, Langevin(dt, mobility=self.gamma, kT=self.kT))
        return integrate(stepper, start, steps=steps, save_every=1, generator=generator).states
