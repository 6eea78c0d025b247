"""Thermodynamic linear algebra (answers read off a simulated analog device, with its cost model)
and the matrix-free Krylov tools the thermodynamic natural-gradient optimiser uses."""

from thermonn.linalg.device import DeviceCost, DeviceModel
from thermonn.linalg.krylov import KrylovResult, lanczos_function
from thermonn.linalg.thermodynamic import ThermoLinalgResult, expnegm, inv, logdet, solve

__all__ = [
    "DeviceCost",
    "DeviceModel",
    "KrylovResult",
    "ThermoLinalgResult",
    "expnegm",
    "inv",
    "lanczos_function",
    "logdet",
    "solve",
]
