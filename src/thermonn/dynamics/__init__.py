"""The one engine for dynamics: energies, stateless steppers (Langevin, Monte-Carlo sweeps, heat
flow), the integrate() driver, the chunk executor, and the path weights (action, heat) of
Langevin trajectories."""

from thermonn.dynamics.action import log_path_ratio, onsager_machlup_action, unit_heat
from thermonn.dynamics.categorical import CategoricalEnergy, CategoricalGibbs
from thermonn.dynamics.cluster import SwendsenWang, cluster_labels
from thermonn.dynamics.energy import (
    AffineSplit,
    Energy,
    QuadraticEnergy,
    boltzmann,
    log_partition,
)
from thermonn.dynamics.executor import run_chunked
from thermonn.dynamics.heat_flow import HeatFlow, graph_laplacian, heat_current
from thermonn.dynamics.integrate import Stepper, Trajectory, integrate
from thermonn.dynamics.langevin import EMState, EulerMaruyama, Langevin, temperature_at
from thermonn.dynamics.ou import (
    ExactOU,
    Gaussian,
    OUProcess,
    OUState,
    Transition,
    ou_log_prob,
    ou_transition,
)
from thermonn.dynamics.spins import BlockGibbs, Metropolis, SpinEnergy, SpinSweep, SweepPlan
from thermonn.dynamics.tempering import ParallelTempering, TemperingState

__all__ = [
    "AffineSplit",
    "BlockGibbs",
    "CategoricalEnergy",
    "CategoricalGibbs",
    "EMState",
    "Energy",
    "EulerMaruyama",
    "ExactOU",
    "Gaussian",
    "HeatFlow",
    "Langevin",
    "Metropolis",
    "OUProcess",
    "OUState",
    "ParallelTempering",
    "QuadraticEnergy",
    "SpinEnergy",
    "SpinSweep",
    "Stepper",
    "SweepPlan",
    "SwendsenWang",
    "TemperingState",
    "Trajectory",
    "Transition",
    "boltzmann",
    "cluster_labels",
    "graph_laplacian",
    "heat_current",
    "integrate",
    "log_partition",
    "log_path_ratio",
    "onsager_machlup_action",
    "ou_log_prob",
    "ou_transition",
    "run_chunked",
    "temperature_at",
    "unit_heat",
]
