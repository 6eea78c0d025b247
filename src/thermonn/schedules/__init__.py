"""Temperature schedules: callables t ↦ kT accepted by every ``kT=`` of the engine."""

from thermonn.schedules.cooling import (
    AdaptiveCooling,
    ExponentialCooling,
    LinearCooling,
    PowerLawCooling,
)

__all__ = ["AdaptiveCooling", "ExponentialCooling", "LinearCooling", "PowerLawCooling"]
