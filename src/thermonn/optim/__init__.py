"""Learning rules: contrastive divergence (CD-k, PCD-k) for any torch optimiser, the thermal
Hebbian rule with decay, and the free-energy gradient Δw = −η(∂U/∂w − T ∂S/∂w)."""

from thermonn.optim.contrastive import ContrastiveDivergence
from thermonn.optim.free_energy import FreeEnergyGradient
from thermonn.optim.hebbian import ThermalHebbian

__all__ = ["ContrastiveDivergence", "FreeEnergyGradient", "ThermalHebbian"]
