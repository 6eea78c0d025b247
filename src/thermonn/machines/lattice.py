"""Periodic d-dimensional lattices: the geometry the lattice spin models share.

Sites are flat, in row-major order of ``shape``; every site has 2d nearest neighbours through
periodic wraps (a side of 2 reaches the same neighbour twice, and counts it twice).

With every side even a lattice also splits into checkerboard **blocks**
(:class:`CheckerboardBlocks`): writing each coordinate x_d = 2a_d + b_d, the 2^d blocks of
fixed parities b are (L/2)^d sub-lattices, the colour of a site is Σ_d b_d mod 2, and the
neighbours of block b along axis d are block b ⊕ e_d at the same a and at a shifted by one —
so a colour's neighbour sums are rolls of whole blocks, with no gathers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_int

__all__ = ["CheckerboardBlocks", "PeriodicLattice", "greedy_colouring"]


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

    def checkerboard_blocks(
        self, device: torch.device | str | None = None
    ) -> CheckerboardBlocks | None:
        """The block decomposition (see the module), or None unless every side is even."""
        if not all(side % 2 == 0 for side in self.shape):
            return None
        d = len(self.shape)
        sides = tuple(side // 2 for side in self.shape)
        index = torch.arange(self.n, device=device).reshape(
            *(v for side in sides for v in (side, 2))
        )  # axes (a_0, b_0, a_1, b_1, …)
        blocks: list[list[tuple[int, ...]]] = [[], []]
        for b in itertools.product((0, 1), repeat=d):
            blocks[sum(b) % 2].append(b)
        order, offsets, bounds, row = [], {}, [], 0
        for colour in (0, 1):
            first = row
            for b in blocks[colour]:
                sites = index[tuple(v for bd in b for v in (slice(None), bd))]
                offsets[b] = row
                order.append(sites.flatten())
                row += sites.numel()
            bounds.append((first, row))
        return CheckerboardBlocks(torch.cat(order), bounds, blocks, offsets, sides)


@dataclass(frozen=True, eq=False)
class CheckerboardBlocks:
    """The block decomposition of an even periodic lattice (see the module): ``order`` lists
    the sites colour by colour, block by block, each block in row-major order of a;
    ``bounds[c]`` is colour c's row range in that order and ``blocks[c]`` its blocks' parities;
    ``offsets[b]`` the first row of block b; ``sides`` the blocks' shape (L/2, …)."""

    order: Tensor
    bounds: list[tuple[int, int]]
    blocks: list[list[tuple[int, ...]]]
    offsets: dict[tuple[int, ...], int]
    sides: tuple[int, ...]

    def neighbour_sum(self, x: Tensor, colour: int) -> Tensor:
        """Σ over the neighbours of colour ``colour``'s sites, from a spin-major state ``x``
        ``(n, chains)`` in :attr:`order`: shape ``(sites of the colour, chains)``."""
        m = math.prod(self.sides)
        start, stop = self.bounds[colour]
        out = x.new_empty((stop - start, x.shape[1]))
        for k, b in enumerate(self.blocks[colour]):
            acc = out[k * m : (k + 1) * m].view(*self.sides, -1)
            for d in range(len(b)):
                other = (*b[:d], 1 - b[d], *b[d + 1 :])  # block b with parity d flipped
                first = self.offsets[other]
                y = x[first : first + m].view(*self.sides, -1)
                shifted = y.roll(1 if b[d] == 0 else -1, d)
                if d == 0:
                    torch.add(y, shifted, out=acc)
                else:
                    acc.add_(y).add_(shifted)
        return out


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
