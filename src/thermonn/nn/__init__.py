"""Thin ``nn.Module`` wrappers over :mod:`thermonn.functional`."""

from thermonn.nn.activations import (
    Boltzmann,
    FermiDirac,
    MaxwellBoltzmann,
    ThermalActivation,
    ThermalReLU,
    temperature_penalty,
)
from thermonn.nn.convert import ACTIVATIONS, DEFAULT_RULES, ConversionReport, Replacement, convert
from thermonn.nn.diagnostics import DiagnosticsLog, collect_diagnostics
from thermonn.nn.hopfield import ModernHopfield
from thermonn.nn.memory import OUMemory
from thermonn.nn.tel import TEL, TELFeedForward
from thermonn.nn.temperature import (
    AdaptiveTemperature,
    FixedTemperature,
    TemperatureRule,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RULES",
    "TEL",
    "AdaptiveTemperature",
    "Boltzmann",
    "ConversionReport",
    "DiagnosticsLog",
    "FermiDirac",
    "FixedTemperature",
    "MaxwellBoltzmann",
    "ModernHopfield",
    "OUMemory",
    "Replacement",
    "TELFeedForward",
    "TemperatureRule",
    "ThermalActivation",
    "ThermalReLU",
    "collect_diagnostics",
    "convert",
    "temperature_penalty",
]
