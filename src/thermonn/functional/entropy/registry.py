"""Entropy names: the registry :data:`ENTROPIES` and :func:`resolve_entropy`."""

from __future__ import annotations

from collections.abc import Callable

import torch

from thermonn.functional.entropy.base import Entropy
from thermonn.functional.entropy.dual import Bernoulli, Shannon, Spin
from thermonn.functional.entropy.primal import Gate, LogCosh

__all__ = ["ENTROPIES", "resolve_entropy"]

_Factory = Callable[..., Entropy]

ENTROPIES: dict[str, _Factory] = {
    "logcosh": lambda features, device, dtype: LogCosh(),
    "gate": lambda features, device, dtype: Gate(features, device=device, dtype=dtype),
    "bernoulli": lambda features, device, dtype: Bernoulli(),
    "spin": lambda features, device, dtype: Spin(),
    "shannon": lambda features, device, dtype: Shannon(),
}
"""Registered entropy names. Each factory takes ``(features, device, dtype)``."""


def resolve_entropy(
    entropy: str | Entropy,
    *,
    features: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Entropy:
    """Turn an entropy name or object into an :class:`Entropy` (done once, at construction).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).
        TypeError: for anything that is neither a name nor an :class:`Entropy`.
    """
    if isinstance(entropy, Entropy):
        return entropy
    if isinstance(entropy, str):
        try:
            factory = ENTROPIES[entropy]
        except KeyError:
            raise ValueError(
                f"entropy: expected one of {sorted(ENTROPIES)} or an Entropy object, "
                f"got {entropy!r}"
            ) from None
        return factory(features, device, dtype)
    raise TypeError(f"entropy: expected a str or a thermonn Entropy, got {type(entropy).__name__}")
