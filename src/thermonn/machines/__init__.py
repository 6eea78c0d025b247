"""Machines: an energy on the engine's protocol plus a readout, run by :mod:`thermonn.dynamics`."""

from thermonn.machines.thermocomputer import (
    BLOCKS,
    MachineConfig,
    QuarticEnergy,
    ThermoComputer,
    idealised_trajectory,
)

__all__ = ["BLOCKS", "MachineConfig", "QuarticEnergy", "ThermoComputer", "idealised_trajectory"]
