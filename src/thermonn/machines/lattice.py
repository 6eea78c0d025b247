"""Periodic d-dimensional lattices: the geometry the lattice spin models share.

Sites are flat, in row-major order of ``shape``; every site has 2d nearest neighbours through
periodic wraps (a side of 2 reaches the same neighbour twice, and counts it twice).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int
from thermonn.dynamics.heat_flow import graph_laplacian

__all__ = ["PeriodicLattice", "greedy_colouring"]


@dataclass(frozen=True)
class PeriodicLattice:
    """A periodic lattice with sides ``shape`` (each ≥ 2).

    Raises:
        TypeError / ValueError: for a shape that is not a non-empty tuple of sides ≥ 2.
    """

    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.shape, tuple) or not self.shape:
            raise TypeError(f"shape: expected a non-empty tuple of sides, got {self.shape!r}")
        for side in self.shape:
            check_int("shape", side, minimum=2)

    @property
    def n(self) -> int:
        return math.prod(self.shape)

    def neighbour_sum(self, x: Tensor, *, trailing: int = 0) -> Tensor:
        """Σ over the 2d neighbours of every site of ``x`` ``(..., n, *tail)`` (``trailing``
        dimensions after the site axis, e.g. a one-hot axis); same shape."""
        tail = x.shape[x.dim() - trailing :]
        lead = x.shape[: x.dim() - trailing - 1]
        grid = x.reshape(*lead, *self.shape, *tail)
        first = len(lead)
        total = torch.zeros_like(grid)
        for d in range(first, first + len(self.shape)):
            total += grid.roll(1, d) + grid.roll(-1, d)
        return total.reshape(x.shape)

    def edges(self, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
        """Every bond (i, j) once per direction: d · n of them."""
        index = torch.arange(self.n, device=device).reshape(self.shape)
        i = torch.cat([index.flatten()] * len(self.shape))
        j = torch.cat([index.roll(-1, d).flatten() for d in range(len(self.shape))])
        return i, j

    def laplacian(self, spacing: float = 1.0) -> Tensor:
        """The grid Laplacian (sparse, −∇² by second differences): conductance 1/h² on every
        bond, for :class:`thermonn.dynamics.HeatFlow`."""
        h = check_float("spacing", spacing, above=0.0)
        i, j = self.edges()
        return graph_laplacian(i, j, 1.0 / (h * h), self.n)

    def adjacency(self) -> list[list[int]]:
        """The neighbours of every site."""
        i, j = self.edges()
        rows: list[set[int]] = [set() for _ in range(self.n)]
        for a, b in zip(i.tolist(), j.tolist(), strict=True):
            rows[a].add(b)
            rows[b].add(a)
        return [sorted(r) for r in rows]

    def colouring(self, device: torch.device | str | None = None) -> list[Tensor]:
        """The checkerboard (site parity) when every side is even, else a greedy colouring."""
        if not all(side % 2 == 0 for side in self.shape):
            return [c.to(device) for c in greedy_colouring(self.adjacency())]
        coords = torch.stack(
            torch.meshgrid(*(torch.arange(s, device=device) for s in self.shape), indexing="ij")
        )
        parity = coords.sum(0).flatten() % 2
        return [(parity == c).nonzero().flatten() for c in (0, 1)]


def greedy_colouring(adjacency: list[list[int]]) -> list[Tensor]:
    """Colour classes (independent sets covering every vertex) by greedy colouring in order of
    decreasing degree."""
    colour: dict[int, int] = {}
    for i in sorted(range(len(adjacency)), key=lambda v: -len(adjacency[v])):
        used = {colour[j] for j in adjacency[i] if j in colour}
        colour[i] = next(c for c in range(len(adjacency) + 1) if c not in used)
    classes = max(colour.values()) + 1
    return [
        torch.tensor(sorted(i for i, c in colour.items() if c == k), dtype=torch.int64)
        for k in range(classes)
    ]
