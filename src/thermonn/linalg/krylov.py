r"""Matrix-free functions of a symmetric operator: f(A) v by the Lanczos method.

With the Lanczos basis Q_m of the Krylov space span{v, Av, …, A^{m−1}v} and the tridiagonal
T_m = Q_mᵀ A Q_m,

.. math::  f(A)\,v \approx \lVert v \rVert\, Q_m\, f(T_m)\, e_1,

exact once the space is invariant and, for f analytic on the spectrum, converging
geometrically in m (Saad 1992; Higham, "Functions of Matrices", §13.2). Only products with A
are needed — the thermodynamic natural-gradient optimiser applies e^{−Ft}, (1 − e^{−Ft})/F and
√(κ(1 − e^{−2Ft})/F) to vectors through GGN-vector products this way, which is the exact
Ornstein–Uhlenbeck transition of its device without forming F.

The basis is fully re-orthogonalised (two Gram–Schmidt passes) and kept in float64, so the
iteration stays accurate for the few dozen steps it takes; it stops when two successive
estimates agree to ``tol`` (relative) or the space becomes invariant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int

__all__ = ["KrylovResult", "lanczos_function"]


@dataclass(frozen=True)
class KrylovResult:
    """``value`` ≈ f(A)v (v's dtype), ``iterations`` (products with A), ``converged`` (the
    tolerance was met or the Krylov space became invariant) and ``change`` (the last change
    between successive estimates relative to the estimate)."""

    value: Tensor
    iterations: int
    converged: bool
    change: float


def lanczos_function(
    matvec: Callable[[Tensor], Tensor],
    v: Tensor,
    f: Callable[[Tensor], Tensor],
    *,
    tol: float = 1e-8,
    atol: float = 0.0,
    max_iter: int = 100,
    min_iter: int = 2,
) -> KrylovResult:
    """f(A) v for a symmetric operator ``matvec`` (v ↦ Av on 1-D tensors of v's dtype) and a
    scalar function ``f`` applied to the eigenvalues of T_m (a float64 tensor ↦ tensor).

    Stops when successive estimates differ by at most max(``tol``·‖estimate‖, ``atol``) — an
    ``atol`` lets a caller ask for accuracy relative to a larger vector the result is added to.

    Raises:
        ValueError: a non-vector or non-finite ``v``, a non-positive ``tol``, ``max_iter`` < 1.
    """
    if v.dim() != 1 or not bool(torch.isfinite(v).all()):
        raise ValueError(f"v: expected a finite vector, got shape {tuple(v.shape)}")
    check_float("tol", tol, above=0.0)
    check_float("atol", atol, at_least=0.0)
    check_int("max_iter", max_iter, minimum=1)
    check_int("min_iter", min_iter, minimum=1)
    norm = float(v.double().norm())
    if norm == 0.0:
        return KrylovResult(torch.zeros_like(v), 0, True, 0.0)
    basis = [v.double() / norm]
    alphas: list[float] = []
    betas: list[float] = []
    previous: Tensor | None = None
    change = float("inf")
    for j in range(max_iter):
        w = matvec(basis[j].to(v.dtype)).double()
        alpha = float(w @ basis[j])
        alphas.append(alpha)
        q = torch.stack(basis)
        for _ in range(2):  # full re-orthogonalisation, twice is enough (Kahan–Parlett)
            w = w - q.mT @ (q @ w)
        beta = float(w.norm())
        estimate = _estimate(q, alphas, betas, f, norm)
        size = float(estimate.norm())
        if previous is not None:
            change = float((estimate - previous).norm()) / max(size, 1e-300)
        invariant = beta <= 1e-12 * max(abs(a) for a in alphas)
        if invariant or (j + 1 >= min_iter and change * size <= max(tol * size, atol)):
            return KrylovResult(estimate.to(v.dtype), j + 1, True, 0.0 if invariant else change)
        previous = estimate
        betas.append(beta)
        basis.append(w / beta)
    return KrylovResult(previous.to(v.dtype), max_iter, False, change)  # type: ignore[union-attr]


def _estimate(
    q: Tensor, alphas: list[float], betas: list[float], f: Callable[[Tensor], Tensor], norm: float
) -> Tensor:
    """‖v‖ Q f(T) e₁ for the current tridiagonal T."""
    m = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(betas[: m - 1], dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    values, vectors = torch.linalg.eigh(t)
    coefficients = vectors @ (f(values) * vectors[0])
    return norm * (q.mT @ coefficients.to(q.device))
