r"""The Ising model on periodic lattices and on arbitrary graphs, on the spin-energy protocol.

.. math::  E(s) = -\sum_{\langle ij \rangle} J_{ij} s_i s_j - \sum_i h_i s_i

:meth:`IsingModel.lattice` is the nearest-neighbour model with one coupling J on a periodic
d-dimensional lattice (its coupling field is a sum of rolls, no matrix); :meth:`IsingModel.graph`
takes any symmetric, zero-diagonal coupling matrix (dense or ``torch.sparse``). Small models
enumerate their states (:meth:`~IsingModel.states`, at most :data:`MAX_ENUMERATED` spins), so
:func:`~thermonn.dynamics.boltzmann` gives their exact law. The 2-D lattice's exact answers
(Onsager's energy, Yang's magnetisation, T_c = 2J / ln(1 + √2)) are in :func:`onsager`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.spins import SpinEnergy, SweepPlan
from thermonn.machines.lattice import PeriodicLattice, greedy_colouring

__all__ = ["MAX_ENUMERATED", "IsingModel", "OnsagerSolution", "onsager"]

MAX_ENUMERATED = 24  # 2^24 states of 24 spins: 16.8 million rows


@dataclass(frozen=True, eq=False)
class IsingModel(SpinEnergy):
    """Build with :meth:`lattice` or :meth:`graph`. ``field`` h has shape ``(n,)``."""

    n: int
    field: Tensor
    geometry: PeriodicLattice | None = None  # a lattice model's geometry
    coupling: float = 1.0  # the lattice's J
    couplings: Tensor | None = None  # a graph's J, (n, n)

    @classmethod
    def lattice(
        cls,
        shape: tuple[int, ...],
        *,
        coupling: float = 1.0,
        field: float | Tensor = 0.0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> IsingModel:
        """Nearest-neighbour coupling ``coupling`` on a periodic lattice of sides ``shape``
        (sides ≥ 2; a side of 2 couples each pair twice, through the wrap). Spins are flat,
        in row-major order of ``shape``."""
        geometry = PeriodicLattice(shape)
        h = torch.as_tensor(field, dtype=dtype, device=device).expand(geometry.n).clone()
        return cls(geometry.n, h, geometry=geometry, coupling=check_float("coupling", coupling))

    @classmethod
    def graph(cls, couplings: Tensor, *, field: float | Tensor = 0.0) -> IsingModel:
        """Couplings J ``(n, n)``: symmetric, zero on the diagonal, finite; dense or sparse.

        Raises:
            ValueError: naming what is wrong with ``couplings`` or ``field``.
        """
        if couplings.dim() != 2 or couplings.shape[0] != couplings.shape[1]:
            raise ValueError(f"couplings: expected a square matrix, got {tuple(couplings.shape)}")
        dense = couplings.to_dense() if couplings.is_sparse else couplings
        if not bool(torch.isfinite(dense).all()):
            raise ValueError("couplings: expected finite values, got NaN or inf")
        if not torch.equal(dense, dense.T):
            raise ValueError("couplings: expected a symmetric matrix (J_ij = J_ji)")
        if bool((dense.diagonal() != 0).any()):
            raise ValueError("couplings: expected a zero diagonal (no self-coupling)")
        n = couplings.shape[0]
        h = torch.as_tensor(field, dtype=dense.dtype, device=dense.device)
        if h.dim() > 1 or (h.dim() == 1 and len(h) != n):
            raise ValueError(f"field: expected a number or shape ({n},), got {tuple(h.shape)}")
        return cls(n, h.expand(n).clone(), couplings=couplings)

    def __post_init__(self) -> None:
        if not bool(torch.isfinite(self.field).all()):
            raise ValueError("field: expected finite values, got NaN or inf")

    def coupling_field(self, s: Tensor) -> Tensor:
        if self.geometry is not None:
            return self.coupling * self.geometry.neighbour_sum(s)
        assert self.couplings is not None  # one of the two constructors set it
        flat = s.reshape(-1, self.n)
        j = self.couplings
        out = (j @ flat.T).T if j.is_sparse else flat @ j
        return out.reshape(s.shape)

    def colouring(self) -> list[Tensor]:
        if self.geometry is not None:
            return self.geometry.colouring(self.field.device)
        return [c.to(self.field.device) for c in greedy_colouring(self.adjacency())]

    def sparse_couplings(self) -> Tensor:
        """J as a sparse ``(n, n)`` matrix (a lattice's bonds, each direction; a graph's own J,
        sparse or made sparse)."""
        if self.geometry is not None:
            i, j, value = self.edges()
            idx = torch.stack([torch.cat([i, j]), torch.cat([j, i])])
            shape = (self.n, self.n)
            return torch.sparse_coo_tensor(
                idx, torch.cat([value, value]), shape, check_invariants=True
            ).coalesce()
        assert self.couplings is not None
        return self.couplings.coalesce() if self.couplings.is_sparse else self.couplings

    def sweep_plan(self) -> SweepPlan:
        """The spins sorted by colour, each colour with its own rows of J (sparse rows in CSR,
        dense rows as they are): a sweep is one pass over the couplings, a colour's update an
        in-place slice. Lattices and sparse graphs alike (measured faster than rolls)."""
        colours = self.colouring()
        order = torch.cat(colours)
        j = self.sparse_couplings().index_select(0, order).index_select(1, order)
        h = self.field[order]
        bounds, fields, start = [], [], 0
        for c in colours:
            stop = start + len(c)
            rows = j.index_select(0, torch.arange(start, stop, device=order.device))
            if rows.is_sparse:
                with warnings.catch_warnings():  # CSR support is "beta"; the product is exact
                    warnings.simplefilter("ignore", UserWarning)
                    rows = rows.to_sparse_csr()
            else:
                rows = rows.contiguous()
            bounds.append((start, stop))
            fields.append(partial(_row_field, rows, h[start:stop, None].contiguous()))
            start = stop
        return SweepPlan(order, bounds, fields)

    def edges(self) -> tuple[Tensor, Tensor, Tensor]:
        if self.geometry is not None:
            i, j = self.geometry.edges(self.field.device)
            return i, j, torch.full(i.shape, self.coupling, dtype=self.field.dtype, device=i.device)
        assert self.couplings is not None
        if self.couplings.is_sparse:
            c = self.couplings.coalesce()
            (i, j), value = c.indices(), c.values()
            upper = (i < j) & (value != 0)
            return i[upper], j[upper], value[upper]
        i, j = torch.triu(self.couplings, 1).nonzero(as_tuple=True)
        return i, j, self.couplings[i, j]

    def adjacency(self) -> list[list[int]]:
        """The neighbours of every spin."""
        if self.geometry is not None:
            return self.geometry.adjacency()
        i, j, _ = self.edges()
        rows: list[set[int]] = [set() for _ in range(self.n)]
        for a, b in zip(i.tolist(), j.tolist(), strict=True):
            rows[a].add(b)
            rows[b].add(a)
        return [sorted(r) for r in rows]

    def states(self) -> Tensor:
        """All 2ⁿ configurations ``(2ⁿ, n)`` of ±1.

        Raises:
            ValueError: for more than :data:`MAX_ENUMERATED` spins.
        """
        if self.n > MAX_ENUMERATED:
            raise ValueError(
                f"states: expected at most {MAX_ENUMERATED} spins to enumerate, got {self.n}"
            )
        codes = torch.arange(2**self.n, device=self.field.device)
        bits = (codes[:, None] >> torch.arange(self.n, device=self.field.device)) & 1
        return (2 * bits - 1).to(self.field.dtype)


def _row_field(rows: Tensor, field: Tensor, x: Tensor) -> Tensor:
    """(J x + h) on a colour's rows, the state spin-major ``(n, chains)``."""
    return torch.addmm(field, rows, x) if rows.layout == torch.strided else rows @ x + field


@dataclass(frozen=True)
class OnsagerSolution:
    """The infinite 2-D square-lattice Ising model at zero field: energy per site, spontaneous
    magnetisation per site (0 above T_c), and T_c."""

    energy: float
    magnetisation: float
    critical_temperature: float


def onsager(kT: float, coupling: float = 1.0) -> OnsagerSolution:
    r"""Onsager's energy per site

    .. math:: u = -J \coth(2\beta J)\Big[1 + \tfrac{2}{\pi}\,(2\tanh^2(2\beta J) - 1)\,K(k)\Big],
              \quad k = \frac{2 \sinh(2\beta J)}{\cosh^2(2\beta J)},

    (K the complete elliptic integral of the first kind) and Yang's magnetisation
    :math:`(1 - \sinh^{-4}(2\beta J))^{1/8}` below :math:`T_c = 2J/\ln(1+\sqrt2)`."""
    from scipy.special import ellipk

    kT = check_float("kT", kT, above=0.0)
    j = check_float("coupling", coupling, above=0.0)
    b = 2.0 * j / kT
    k = 2.0 * math.sinh(b) / math.cosh(b) ** 2
    u = -j / math.tanh(b) * (1.0 + 2.0 / math.pi * (2.0 * math.tanh(b) ** 2 - 1.0) * ellipk(k * k))
    tc = 2.0 * j / math.log(1.0 + math.sqrt(2.0))
    m = (1.0 - math.sinh(b) ** -4) ** 0.125 if kT < tc else 0.0
    return OnsagerSolution(float(u), m, tc)
