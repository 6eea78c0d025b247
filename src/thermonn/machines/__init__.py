"""Machines: an energy on the engine's protocol plus a readout, run by :mod:`thermonn.dynamics`."""

from thermonn.machines.annealing import (
    AnnealResult,
    LangevinAnnealResult,
    langevin_annealing,
    lattice_spin_glass,
    qubo_to_ising,
    random_spin_glass,
    simulated_annealing,
    temperature_range,
)
from thermonn.machines.hopfield import hebbian, overlaps, synchronous_update
from thermonn.machines.ising import IsingModel, onsager
from thermonn.machines.lattice import PeriodicLattice
from thermonn.machines.potts import PottsModel, potts_critical_temperature
from thermonn.machines.rbm import (
    RBM,
    BernoulliUnits,
    GaussianUnits,
    RBMEnergy,
    RBMGibbs,
    RBMPath,
    VisibleUnits,
)
from thermonn.machines.thermocomputer import (
    BLOCKS,
    MachineConfig,
    QuarticEnergy,
    ThermoComputer,
    idealised_trajectory,
)

__all__ = [
    "BLOCKS",
    "RBM",
    "AnnealResult",
    "BernoulliUnits",
    "GaussianUnits",
    "IsingModel",
    "LangevinAnnealResult",
    "MachineConfig",
    "PeriodicLattice",
    "PottsModel",
    "QuarticEnergy",
    "RBMEnergy",
    "RBMGibbs",
    "RBMPath",
    "ThermoComputer",
    "VisibleUnits",
    "hebbian",
    "idealised_trajectory",
    "langevin_annealing",
    "lattice_spin_glass",
    "onsager",
    "overlaps",
    "potts_critical_temperature",
    "qubo_to_ising",
    "random_spin_glass",
    "simulated_annealing",
    "synchronous_update",
    "temperature_range",
]
