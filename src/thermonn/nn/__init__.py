"""Thin ``nn.Module`` wrappers over :mod:`thermonn.functional`."""

from thermonn.nn.activations import (
    Boltzmann,
    FermiDirac,
    MaxwellBoltzmann,
    ThermalActivation,
    ThermalReLU,
    temperature_penalty,
)
from thermonn.nn.convert import (
    ACTIVATIONS,
    DEFAULT_RULES,
    PATTERNS,
    ConversionReport,
    Pattern,
    Replacement,
    Skipped,
    convert,
    load_converted,
    reconvert,
    save_converted,
)
from thermonn.nn.diagnostics import DiagnosticsLog, collect_diagnostics, trace_scalars
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
    "PATTERNS",
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
    "Pattern",
    "Replacement",
    "Skipped",
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
    "load_converted",
    "node_states",
    "reconvert",
    "save_converted",
    "temperature_penalty",
    "trace_scalars",
]
