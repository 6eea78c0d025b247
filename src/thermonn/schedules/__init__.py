"""Temperature schedules: callables t ↦ kT accepted by every ``kT=`` of the engine."""

from thermonn.schedules.cooling import ExponentialCooling, LinearCooling, PowerLawCooling

__all__ = ["ExponentialCooling", "LinearCooling", "PowerLawCooling"]
