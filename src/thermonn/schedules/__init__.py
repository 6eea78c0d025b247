"""Temperature schedules: callables t ↦ kT accepted by every ``kT=`` of the engine, and the
scheduler that drives a module's thermal activations with one."""

from thermonn.schedules.cooling import (
    AdaptiveCooling,
    ExponentialCooling,
    LinearCooling,
    PowerLawCooling,
)
from thermonn.schedules.modules import TemperatureScheduler

__all__ = [
    "AdaptiveCooling",
    "ExponentialCooling",
    "LinearCooling",
    "PowerLawCooling",
    "TemperatureScheduler",
]
