r"""Fourier heat flow: the heat equation on grids and graphs, as a deterministic stepper.

On a graph with conductances κ_ij (a periodic grid: its nearest-neighbour bonds with κ = 1/h²,
:meth:`thermonn.machines.PeriodicLattice.laplacian`) the heat equation, with heat capacities C_i, is

.. math::  C_i \frac{dT_i}{dt} = -D\,(L\,T)_i, \qquad L = \mathrm{diag}(\textstyle\sum_j \kappa_{ij}) - K,

the graph Laplacian L (positive semi-definite, rows summing to zero, so Σ_i T_i is conserved)
standing for −∇². Fourier's law gives the heat current along each bond,
q_ij = κ_ij (T_i − T_j) (:func:`heat_current`). :class:`HeatFlow` steps it

* ``"exact"``: T ← e^{−AΔt} T, A = D C⁻¹ L (``matrix_exp``; any Δt, exact);
* ``"implicit"``: backward Euler (I + AΔt) T_new = T (unconditionally stable, first order),
  one LU factorisation reused by every step;
* ``"explicit"``: forward Euler T ← T − Δt A T with A kept sparse (O(bonds) per step, the one
  method for grids too large for a dense n × n matrix), stable only for Δt ≤ 2/λ_max(A) —
  a larger Δt is refused with the limit in the message (λ_max exact for n ≤ 4096, else
  Gershgorin's bound 2 max_i D·deg_i / C_i, which is safe).

Reservoirs (nodes held at a fixed temperature, their rows of A zero) make the same stepper a
network of heat baths linked by conductances; thermally coupled units relaxing to a layer
temperature, dT_i/dt = −γ(T_i − T_layer) + Σ_j J_ij (T_j − T_i), are a reservoir node (the
layer) bonded to every unit with conductance γ.

A Fourier mode of eigenvalue λ decays as e^{−Dλt}; on a periodic grid of spacing h the mode
k has λ = (2 − 2 cos kh)/h² → k², the continuum's exp(−Dk²t).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["HeatFlow", "graph_laplacian", "heat_current"]


def graph_laplacian(i: Tensor, j: Tensor, conductance: Tensor | float, n: int) -> Tensor:
    """The Laplacian ``(n, n)`` (sparse COO) of bonds ``(i[e], j[e])`` with conductances κ_e
    (each bond once; κ > 0).

    Raises:
        ValueError: bonds outside 0 … n − 1, a self-bond, or a non-positive conductance.
    """
    kappa = (
        torch.as_tensor(conductance, dtype=torch.get_default_dtype())
        .expand(i.shape)
        .to(torch.float64)
    )
    if i.shape != j.shape or i.dim() != 1:
        raise ValueError(
            f"i, j: expected two 1-D index tensors of one length, got {tuple(i.shape)} and {tuple(j.shape)}"
        )
    if bool(((i < 0) | (i >= n) | (j < 0) | (j >= n)).any()) or bool((i == j).any()):
        raise ValueError(f"i, j: expected bonds between distinct nodes in 0 … {n - 1}")
    if not bool((kappa > 0).all()):
        raise ValueError("conductance: expected positive conductances")
    degree = torch.zeros(n, dtype=torch.float64).index_add_(0, i, kappa).index_add_(0, j, kappa)
    nodes = torch.arange(n)
    rows = torch.cat([i, j, nodes])
    cols = torch.cat([j, i, nodes])
    values = torch.cat([-kappa, -kappa, degree])
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n, n), check_invariants=True
    ).coalesce()


def heat_current(temperature: Tensor, i: Tensor, j: Tensor, conductance: Tensor | float) -> Tensor:
    """Fourier's law on each bond: q_e = κ_e (T_i − T_j), shape ``(..., bonds)`` (positive from
    i to j)."""
    return conductance * (temperature[..., i] - temperature[..., j])


def _coo(laplacian: Tensor) -> Tensor:
    """The Laplacian as a coalesced float64 COO matrix, checked symmetric."""
    lap = (laplacian if laplacian.is_sparse else laplacian.to_sparse()).double().coalesce()
    t = lap.t().coalesce()
    if not (torch.equal(lap.indices(), t.indices()) and torch.allclose(lap.values(), t.values())):
        raise ValueError("laplacian: expected a symmetric matrix")
    return lap


def _sparse_rate(lap: Tensor, d: float, c: Tensor, reservoir: Tensor | None) -> Tensor:
    """A = D C⁻¹ L (``lap`` from :func:`_coo`) as a sparse COO matrix, reservoir rows zero."""
    rows = lap.indices()[0]
    values = d * lap.values() / c[rows]
    if reservoir is not None:
        values = values.masked_fill(reservoir[rows], 0.0)
    return torch.sparse_coo_tensor(
        lap.indices(), values, lap.shape, check_invariants=False, is_coalesced=True
    )


def _largest_rate(lap: Tensor, d: float, c: Tensor, reservoir: Tensor | None) -> float:
    """λ_max of A = D C⁻¹ L with reservoir rows zero — exact (the symmetric similar matrix
    D C^{-1/2} L C^{-1/2} on the free nodes) for n ≤ 4096, else Gershgorin's upper bound
    max_i 2 D L_ii / C_i (safe: never below λ_max)."""
    free = torch.ones(len(c), dtype=torch.bool) if reservoir is None else ~reservoir
    if not bool(free.any()):
        return 1e-300
    if len(c) <= 4096:
        dense = lap.to_dense()[free][:, free]
        s = c[free].rsqrt()
        return max(float(torch.linalg.eigvalsh(d * dense * s[:, None] * s[None, :])[-1]), 1e-300)
    i, j = lap.indices()
    diagonal = torch.zeros(len(c), dtype=torch.float64).index_add_(
        0, i[i == j], lap.values()[i == j]
    )
    return max(float((2 * d * diagonal / c)[free].max()), 1e-300)


@dataclass(frozen=True, eq=False)
class HeatFlow:
    """Heat flow C_i dT_i/dt = −D (L T)_i on a network, stepped by ``dt`` with ``method``
    "exact" (T ← e^{−AΔt} T, A = D C⁻¹ L, by ``matrix_exp``), "implicit" (backward Euler,
    one LU factorisation) or "explicit" (forward Euler on the sparse A, Δt ≤ 2/λ_max). ``capacity`` C (n,) defaults to ones (the plain heat equation);
    nodes where ``reservoir`` is True are heat baths: their temperature never changes, and the
    network relaxes towards them (without reservoirs, towards the capacity-weighted mean,
    Σ C_i T_i being conserved). States are temperatures ``(..., n)``; everything is prepared
    once here in float64.

    Raises:
        ValueError: a Laplacian that is not square or symmetric, non-positive ``dt``, D or
            capacities, a mask of the wrong shape, an unknown method.
    """

    laplacian: Tensor
    diffusivity: float
    dt: float
    method: str = "exact"
    capacity: Tensor | None = None
    reservoir: Tensor | None = None

    def __post_init__(self) -> None:
        if self.laplacian.dim() != 2 or self.laplacian.shape[0] != self.laplacian.shape[1]:
            raise ValueError(
                f"laplacian: expected a square matrix, got {tuple(self.laplacian.shape)}"
            )
        d = check_float("diffusivity", self.diffusivity, above=0.0)
        dt = check_float("dt", self.dt, above=0.0)
        if self.method not in ("exact", "implicit", "explicit"):
            raise ValueError(
                f"method: expected 'exact', 'implicit' or 'explicit', got {self.method!r}"
            )
        n = self.laplacian.shape[0]
        c = torch.ones(n, dtype=torch.float64) if self.capacity is None else self.capacity.double()
        if c.shape != (n,) or not bool((c > 0).all()):
            raise ValueError(f"capacity: expected {n} positive heat capacities")
        if self.reservoir is not None and (
            self.reservoir.shape != (n,) or self.reservoir.dtype != torch.bool
        ):
            raise ValueError(f"reservoir: expected a boolean mask of shape ({n},)")
        if self.method == "explicit":  # stays sparse: O(bonds) memory and work
            lap = _coo(self.laplacian)
            object.__setattr__(self, "_rate", _sparse_rate(lap, d, c, self.reservoir))
            limit = 2.0 / _largest_rate(lap, d, c, self.reservoir)
            if dt > limit * (1 + 1e-9):  # λ_max from eigvalsh carries round-off
                raise ValueError(
                    f"dt: explicit (forward-Euler) steps are stable for dt <= 2/lambda_max = "
                    f"{limit:.6g}, got {dt:g}; take a smaller dt or method='exact'/'implicit'"
                )
            return
        dense = (self.laplacian.to_dense() if self.laplacian.is_sparse else self.laplacian).double()
        if not torch.allclose(dense, dense.T):
            raise ValueError("laplacian: expected a symmetric matrix")
        rate = d * dense / c[:, None]  # A = D C⁻¹ L
        if self.reservoir is not None:
            rate = rate.masked_fill(self.reservoir[:, None], 0.0)  # baths do not change
        if self.method == "exact":
            object.__setattr__(self, "_propagator", torch.linalg.matrix_exp(-dt * rate).T)
        else:
            eye = torch.eye(n, dtype=torch.float64)
            object.__setattr__(self, "_lu", torch.linalg.lu_factor(eye + dt * rate))

    def init(self, x0: Tensor) -> Tensor:
        if x0.shape[-1] != self.laplacian.shape[0] or not x0.is_floating_point():
            raise ValueError(
                f"temperatures: expected a floating tensor of shape (..., {self.laplacian.shape[0]}), "
                f"got {x0.dtype} {tuple(x0.shape)}"
            )
        return x0

    def value(self, state: Tensor) -> Tensor:
        return state

    def step(self, state: Tensor, t: float, generator: torch.Generator | None) -> Tensor:
        flat = state.reshape(-1, state.shape[-1]).double()
        if self.method == "exact":
            new = flat @ self._propagator  # type: ignore[attr-defined]  # rows: (e^{−AΔt} T)ᵀ
        elif self.method == "explicit":
            new = flat - self.dt * (self._rate @ flat.T).T  # type: ignore[attr-defined]
        else:
            lu, pivots = self._lu  # type: ignore[attr-defined]
            new = torch.linalg.lu_solve(lu, pivots, flat.T).T
        return new.to(state.dtype).reshape(state.shape)
