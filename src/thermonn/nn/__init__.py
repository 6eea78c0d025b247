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
from thermonn.nn.thermodynamic import (
    NODE_ACTIVATIONS,
    Equilibration,
    ThermalAttention,
    ThermalNodes,
    ThermalRNN,
    ThermodynamicLayer,
    couple_temperatures,
    node_states,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RULES",
    "NODE_ACTIVATIONS",
    "TEL",
    "AdaptiveTemperature",
    "Boltzmann",
    "ConversionReport",
    "DiagnosticsLog",
    "Equilibration",
    "FermiDirac",
    "FixedTemperature",
    "MaxwellBoltzmann",
    "ModernHopfield",
    "OUMemory",
    "Replacement",
    "TELFeedForward",
    "TemperatureRule",
    "ThermalActivation",
    "ThermalAttention",
    "ThermalNodes",
    "ThermalRNN",
    "ThermalReLU",
    "ThermodynamicLayer",
    "collect_diagnostics",
    "convert",
    "couple_temperatures",
    "node_states",
    "temperature_penalty",
]
