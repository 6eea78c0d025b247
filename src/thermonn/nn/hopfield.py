r"""The modern continuous Hopfield layer (Ramsauer et al. 2021), with its energy: a thin
module over :func:`~thermonn.functional.hopfield.hopfield_update` and
:func:`~thermonn.functional.hopfield.hopfield_energy` (the formulas and the guarantee that the
update never increases the energy are documented there)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.functional.hopfield import hopfield_energy, hopfield_update

__all__ = ["ModernHopfield"]


class ModernHopfield(nn.Module):
    """``steps`` Hopfield updates of the input states towards ``num_patterns`` learnable
    stored patterns of size ``features``, at inverse temperature ``beta``.

    Shape: input ``(..., features)`` → output ``(..., features)``. :meth:`energy` evaluates E
    for the current patterns. Patterns are initialised N(0, 1/features) by
    :meth:`reset_parameters`.
    """

    def __init__(
        self,
        features: int,
        num_patterns: int,
        *,
        beta: float = 1.0,
        steps: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.features = check_int("features", features, minimum=1)
        self.num_patterns = check_int("num_patterns", num_patterns, minimum=1)
        self.beta = check_float("beta", beta, above=0.0)
        self.steps = check_int("steps", steps, minimum=1)
        self.patterns = nn.Parameter(
            torch.empty(num_patterns, features, device=device, dtype=dtype)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.patterns, std=1.0 / math.sqrt(self.features))

    def extra_repr(self) -> str:
        return (
            f"features={self.features}, num_patterns={self.num_patterns}, beta={self.beta}, "
            f"steps={self.steps}"
        )

    def energy(self, xi: Tensor) -> Tensor:
        return hopfield_energy(xi, self.patterns, self.beta)

    def forward(self, xi: Tensor) -> Tensor:
        for _ in range(self.steps):
            xi = hopfield_update(xi, self.patterns, self.beta)
        return xi
