"""Thin ``nn.Module`` wrappers over :mod:`thermonn.functional`."""

from thermonn.nn.convert import ACTIVATIONS, DEFAULT_RULES, ConversionReport, Replacement, convert
from thermonn.nn.diagnostics import DiagnosticsLog, collect_diagnostics
from thermonn.nn.hopfield import ModernHopfield
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
    "ConversionReport",
    "DiagnosticsLog",
    "FixedTemperature",
    "ModernHopfield",
    "Replacement",
    "TELFeedForward",
    "TemperatureRule",
    "collect_diagnostics",
    "convert",
]
