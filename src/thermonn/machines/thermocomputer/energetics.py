"""Heat, entropy production and the digital-cost comparison of a classification.

With a time-independent potential and clamped inputs, the heat a trajectory releases to the bath
is the potential drop (Sekimoto), Q = V(x(0)) − V(x(t_f)); from x(0) = 0 and V(0) = 0 this is
Q = −V(x(t_f)). The entropy produced in the bath is ln P[ω] − ln P[ω̃] → Q/kT as Δt → 0.

The digital comparison follows Whitelam (2025): a digital network costs (multiply-accumulates) ×
(energy per MAC); the paper's 1 pJ per MAC is ≈ 2.4·10⁸ kT at 300 K. Input loading, reset and
readout are not counted on either side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from thermonn._validation import check_float
from thermonn.dynamics import log_path_ratio, unit_heat
from thermonn.machines.thermocomputer.machine import ThermoComputer

__all__ = ["BOLTZMANN", "DigitalCost", "count_macs", "heat_released", "path_energetics"]

BOLTZMANN = 1.380649e-23  # J/K, exact (SI 2019)


def heat_released(machine: ThermoComputer, u: Tensor, x_final: Tensor) -> Tensor:
    """Q = V(0) − V(x(t_f)) per trajectory, in units of the machine's energy (kT = 1 → kT);
    ``x_final`` has shape ``(..., batch, n_mobile)``."""
    return -machine.energy(machine.fields(u)).energy(x_final)


def path_energetics(machine: ThermoComputer, u: Tensor, path: Tensor) -> dict[str, Tensor]:
    """From recorded paths ``(steps + 1, trajectories, batch, n_mobile)``: the heat by the potential
    drop, the per-unit (Stratonovich) heats and the entropy production ln P[ω]/P[ω̃] in k_B."""
    force = machine.energy(machine.fields(u)).force
    return {
        "heat": heat_released(machine, u, path[-1]),
        "unit_heat": unit_heat(path, force),
        "entropy_production": log_path_ratio(path, force, machine.config.langevin()),
    }


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of one forward pass of a stack of ``nn.Linear`` layers."""
    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


@dataclass(frozen=True)
class DigitalCost:
    """The digital side of the comparison: ``macs`` × ``joules_per_mac`` at ``temperature`` K."""

    macs: int
    joules_per_mac: float = 1e-12
    temperature: float = 300.0

    def __post_init__(self) -> None:
        check_float("joules_per_mac", self.joules_per_mac, above=0.0)
        check_float("temperature", self.temperature, above=0.0)

    @property
    def kT_joules(self) -> float:
        return BOLTZMANN * self.temperature

    @property
    def energy_kT(self) -> float:
        return self.macs * self.joules_per_mac / self.kT_joules

    def advantage(self, heat_kT: float) -> float:
        """Digital energy / thermodynamic heat per classification."""
        return self.energy_kT / heat_kT

    def describe(self) -> dict[str, float | int | str]:
        return {
            **asdict(self),
            "kT_joules": self.kT_joules,
            "energy_per_mac_kT": self.joules_per_mac / self.kT_joules,
            "digital_energy_kT": self.energy_kT,
            "assumptions": "MACs of the teacher's Linear layers x energy per MAC; input loading, "
            "reset and readout not counted on either side (as in Whitelam 2025)",
        }
