"""Machines built on the dynamics core: each a potential and a readout, not a new engine."""

from thermonn.machines.thermocomputer import (
    BLOCKS,
    MachineConfig,
    ThermoComputer,
    idealised_trajectory,
)

__all__ = ["BLOCKS", "MachineConfig", "ThermoComputer", "idealised_trajectory"]
