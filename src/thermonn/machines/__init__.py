"""Machines: an energy on the engine's protocol plus a readout, run by :mod:`thermonn.dynamics`."""

from thermonn.machines.ising import IsingModel, onsager
from thermonn.machines.lattice import PeriodicLattice
from thermonn.machines.potts import PottsModel, potts_critical_temperature
from thermonn.machines.thermocomputer import (
    BLOCKS,
    MachineConfig,
    QuarticEnergy,
    ThermoComputer,
    idealised_trajectory,
)

__all__ = [
    "BLOCKS",
    "IsingModel",
    "MachineConfig",
    "PeriodicLattice",
    "PottsModel",
    "QuarticEnergy",
    "ThermoComputer",
    "idealised_trajectory",
    "onsager",
    "potts_critical_temperature",
]
