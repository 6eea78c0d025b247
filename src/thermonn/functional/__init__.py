"""Pure tensor functions: entropies, free energies, temperature rules and the TEL descent core;
the statistical-mechanics vocabulary (``statmech``: Gibbs entropies, heat capacities) and
energies (``potentials``: kinetic, harmonic, Lennard-Jones, Coulomb, bonds) as modules."""

from thermonn.functional import activations, entropy, nodes, potentials, statmech
from thermonn.functional.entropy import *  # noqa: F403  (every entropy name, listed once there)
from thermonn.functional.free_energy import free_energy, free_energy_grad
from thermonn.functional.hopfield import hopfield_energy, hopfield_update
from thermonn.functional.tel import (
    KERNELS,
    TELResult,
    TELTrace,
    TemperatureUpdate,
    unrolled_descent,
)
from thermonn.functional.tel_adjoint import tel_descent
from thermonn.functional.temperature import (
    check_temperature_box,
    ema,
    gaussian_entropy,
    moment_features,
    target_temperature,
    temperature_bounds,
)

__all__ = [
    *entropy.__all__,
    "KERNELS",
    "TELResult",
    "TELTrace",
    "TemperatureUpdate",
    "activations",
    "check_temperature_box",
    "ema",
    "free_energy",
    "free_energy_grad",
    "gaussian_entropy",
    "hopfield_energy",
    "hopfield_update",
    "moment_features",
    "nodes",
    "potentials",
    "statmech",
    "target_temperature",
    "tel_descent",
    "unrolled_descent",
    "temperature_bounds",
]
