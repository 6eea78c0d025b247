"""Learning rules: contrastive divergence (CD-k, PCD-k) for any torch optimiser, and the
thermal Hebbian rule with decay."""

from thermonn.optim.contrastive import ContrastiveDivergence
from thermonn.optim.hebbian import ThermalHebbian

__all__ = ["ContrastiveDivergence", "ThermalHebbian"]
