"""thermonn: thermodynamics-inspired neural computation in PyTorch."""

from thermonn import functional
from thermonn.functional.entropy import (
    Bernoulli,
    CustomEntropy,
    Entropy,
    Gate,
    LogCosh,
    Shannon,
    Spin,
)
from thermonn.functional.tel import TELResult, TELTrace
from thermonn.nn import (
    TEL,
    AdaptiveTemperature,
    ConversionReport,
    DiagnosticsLog,
    FixedTemperature,
    Replacement,
    TELFeedForward,
    TemperatureRule,
    collect_diagnostics,
    convert,
    load_converted,
    reconvert,
    save_converted,
    trace_scalars,
)

__version__ = "0.1.0"

__all__ = [
    "TEL",
    "AdaptiveTemperature",
    "Bernoulli",
    "ConversionReport",
    "CustomEntropy",
    "DiagnosticsLog",
    "Entropy",
    "FixedTemperature",
    "Gate",
    "LogCosh",
    "Replacement",
    "Shannon",
    "Spin",
    "TELFeedForward",
    "TELResult",
    "TELTrace",
    "TemperatureRule",
    "__version__",
    "collect_diagnostics",
    "convert",
    "functional",
    "load_converted",
    "reconvert",
    "save_converted",
    "trace_scalars",
]
