"""Learning rules: contrastive divergence (CD-k, PCD-k) for any torch optimiser, the thermal
Hebbian rule with decay, the free-energy gradient Δw = −η(∂U/∂w − T ∂S/∂w), and thermodynamic
natural gradient descent (TNGD, TNGD-Adam) on matrix-free GGN products."""

from thermonn.optim.contrastive import ContrastiveDivergence
from thermonn.optim.free_energy import FreeEnergyGradient
from thermonn.optim.ggn import HESSIANS, GGNOperator
from thermonn.optim.hebbian import ThermalHebbian
from thermonn.optim.tngd import TNGD, TNGDStep

__all__ = [
    "HESSIANS",
    "TNGD",
    "ContrastiveDivergence",
    "FreeEnergyGradient",
    "GGNOperator",
    "TNGDStep",
    "ThermalHebbian",
]
