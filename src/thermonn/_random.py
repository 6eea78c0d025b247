"""The package's one randomness policy.

Every stochastic function takes ``generator: torch.Generator | None``. A generator is the only
source of its random numbers. ``None`` means torch's default generator, exactly as for
``torch.randn``: ``torch.manual_seed(s)`` before the call makes it reproducible. The library
itself never seeds, resets or forks the default generator state visible to the caller.
"""

from __future__ import annotations

import torch

__all__ = ["generator_or_default"]


def generator_or_default(
    generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> torch.Generator:
    """``generator`` itself, or for ``None`` a new generator on ``device`` seeded by one draw
    from torch's default generator (for code that must hold a generator object, e.g. to save
    its state in a checkpoint)."""
    if generator is not None:
        return generator
    seed = int(torch.randint(2**62, (), dtype=torch.int64))
    return torch.Generator(device=device).manual_seed(seed)
