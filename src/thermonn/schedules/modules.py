"""Schedules that drive a module's temperature, stepped like ``torch.optim.lr_scheduler``.

act = ThermalReLU(temperature=2.0)
scheduler = TemperatureScheduler(model, ExponentialCooling(2.0, 0.1, 100))
for epoch in range(100):
    train_one_epoch(model)
    scheduler.step()          # kT of every fixed-temperature thermal module ← schedule(epoch + 1)
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from thermonn.nn.activations import ThermalActivation

__all__ = ["TemperatureScheduler"]


class TemperatureScheduler:
    """Set the temperature of every non-learnable :class:`~thermonn.nn.ThermalActivation` in
    ``module`` to ``schedule(t)``, t = 0 at construction and + 1 per :meth:`step`.

    Raises:
        ValueError: a module without fixed-temperature thermal activations.
    """

    def __init__(self, module: nn.Module, schedule: Callable[[float], float]) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule: expected a callable t ↦ kT, got {type(schedule).__name__}")
        self.targets = [
            m for m in module.modules() if isinstance(m, ThermalActivation) and not m.learnable
        ]
        if not self.targets:
            raise ValueError(
                f"module: expected fixed-temperature ThermalActivation modules, found none in {type(module).__name__}"
            )
        self.schedule = schedule
        self.t = 0
        self._apply()

    def _apply(self) -> None:
        value = float(self.schedule(float(self.t)))
        for m in self.targets:
            m.set_temperature(value)
        self._last = value

    def step(self) -> None:
        self.t += 1
        self._apply()

    def get_last_temperature(self) -> float:
        """kT set at the current step (every temperature of every target, per-channel ones too)."""
        return self._last

    def state_dict(self) -> dict[str, int]:
        return {"t": self.t}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.t = int(state["t"])
        self._apply()
