"""The thermodynamic computer: the machine and its energy, its trainers (exact action fit,
Adam on the action, distillation through the dynamics), heat accounting and the digital-cost
comparison, and the generative twin."""

from thermonn.machines.thermocomputer.energetics import (
    BOLTZMANN,
    DigitalCost,
    count_macs,
    heat_released,
    path_energetics,
)
from thermonn.machines.thermocomputer.fit import (
    FitReport,
    PathSource,
    drift_targets,
    fit_exact,
    fit_paths,
    idealised_paths,
    mean_action,
)
from thermonn.machines.thermocomputer.generative import (
    MAX_VISIBLE,
    GenerativeSamples,
    generative_machine,
    noising_paths,
    sample,
    train_generative,
)
from thermonn.machines.thermocomputer.gradient_fit import fit_adam, fit_distill
from thermonn.machines.thermocomputer.machine import (
    BLOCKS,
    MachineConfig,
    QuarticEnergy,
    ThermoComputer,
    idealised_trajectory,
    onsite_gradient,
)

__all__ = [
    "BLOCKS",
    "BOLTZMANN",
    "MAX_VISIBLE",
    "DigitalCost",
    "FitReport",
    "GenerativeSamples",
    "MachineConfig",
    "PathSource",
    "QuarticEnergy",
    "ThermoComputer",
    "count_macs",
    "drift_targets",
    "fit_adam",
    "fit_distill",
    "fit_exact",
    "fit_paths",
    "generative_machine",
    "heat_released",
    "idealised_paths",
    "idealised_trajectory",
    "mean_action",
    "noising_paths",
    "onsite_gradient",
    "path_energetics",
    "sample",
    "train_generative",
]
