"""The package's one randomness policy.

Every stochastic function takes ``generator: torch.Generator | None``. A generator is the only
source of its random numbers. ``None`` means torch's default generator, exactly as for
``torch.randn``: ``torch.manual_seed(s)`` before the call makes it reproducible. The library
itself never seeds, resets or forks the default generator state visible to the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["generator_or_default", "seeded_default_generator"]


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


@contextmanager
def seeded_default_generator(
    seed: int | None, device: torch.device | str = "cpu"
) -> Iterator[None]:
    """Inside the block torch's default CPU generator — and the default generator of
    ``device`` when it is a CUDA device — start from ``seed`` (``None``: left as they are, e.g.
    to build throw-away models); after it, the caller's states are restored exactly
    (``torch.random.fork_rng`` of exactly those generators). For code that must draw from the
    default generator, e.g. a library's weight initialisation."""
    device = torch.device(device)
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        if seed is not None:
            torch.default_generator.manual_seed(seed)
            for index in cuda:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
        yield
