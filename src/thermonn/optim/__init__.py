"""Learning rules usable with any torch optimiser: contrastive divergence (CD-k, PCD-k)."""

from thermonn.optim.contrastive import ContrastiveDivergence

__all__ = ["ContrastiveDivergence"]
