r"""Ornstein–Uhlenbeck processes, exactly: transitions, stationary law, sampling, likelihood.

.. math::  dx = -A (x - b)\,dt + \mathcal N(0, D\,dt)

for any stable drift A (every eigenvalue with a positive real part; normal or not) and any
positive-semidefinite diffusion D. Over a time h the process moves exactly as

.. math::  x(t + h) = b + e^{-Ah}(x(t) - b) + \xi, \qquad
           \xi \sim \mathcal N\bigl(0, Q(h)\bigr), \quad
           Q(h) = \int_0^h e^{-As} D\, e^{-A^\top s}\, ds,

and its stationary law is N(b, Σ) with A Σ + Σ Aᵀ = D (the Lyapunov equation).

Q comes from Van Loan's block exponential (Van Loan 1978): with
:math:`M = \begin{pmatrix} -A & D \\ 0 & A^\top \end{pmatrix}`, the top row of e^{Mh} is
(e^{−Ah}, G) and Q(h) = G e^{−Aᵀh}. The exponential is taken at h/2ᵏ with ‖A‖h/2ᵏ ≤ 1 (where
its blocks are O(1) and accurate) and brought back to h by k doublings
Q(2s) = Q(s) + e^{−As} Q(s) e^{−Aᵀs}, which is exact and never forms the growing e^{Aᵀh}.
Doubling until e^{−As} vanishes gives Σ (Smith's method) for any stable A — the exact answer
where a diagonalisation of the symmetric part (thermox) is exact only for normal drifts.

Everything is batched over leading dimensions of A, b and D, differentiable (maximum-likelihood
fits use :func:`ou_log_prob`), float32/float64 and on any device. Rows are states: ``x`` has
shape ``(..., d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from thermonn._validation import check_int
from thermonn.dynamics.integrate import Trajectory, check_grid, integrate

__all__ = [
    "ExactOU",
    "Gaussian",
    "OUProcess",
    "OUState",
    "Transition",
    "ou_log_prob",
    "ou_transition",
    "psd_sqrt",
]

_DOUBLINGS = 128  # Σ: e^{−A s} with s = 2^128 / ‖A‖ has vanished for any A torch can store


class Gaussian(NamedTuple):
    """A normal law N(``mean``, ``covariance``): mean ``(..., d)``, covariance ``(..., d, d)``."""

    mean: Tensor
    covariance: Tensor

    def log_prob(self, x: Tensor) -> Tensor:
        """ln N(x; mean, covariance), shape ``x.shape[:-1]`` (broadcast with the batch).

        Raises:
            ValueError: a covariance that is not positive definite.
        """
        return _gaussian_log_prob(x - self.mean, _cholesky("covariance", self.covariance))


class Transition(NamedTuple):
    """The exact transition over a time h: x(t + h) = b + ``propagator`` (x(t) − b) + ξ with
    ξ ~ N(0, ``covariance``); propagator e^{−Ah} and covariance Q(h), each ``(..., d, d)``."""

    propagator: Tensor
    covariance: Tensor


def _apply(matrix: Tensor, x: Tensor) -> Tensor:
    """M x for row states x ``(..., d)`` and M ``(..., d, d)``, batch dimensions broadcast."""
    if matrix.dim() == 2:
        return x @ matrix.mT
    return (matrix @ x.unsqueeze(-1)).squeeze(-1)


def _leading(m: Tensor, x: Tensor, process_batch: int) -> Tensor:
    """``m`` ``(n, *B, d, d)`` (one matrix per leading index) viewed so it broadcasts against
    ``x`` ``(n, *E, d)``: singleton dimensions between n and the process batch B."""
    pad = max(0, x.dim() - 2 - process_batch)
    return m.reshape(m.shape[0], *([1] * pad), *m.shape[1:])


def _symmetric(m: Tensor) -> Tensor:
    return 0.5 * (m + m.mT)


def _cholesky(name: str, covariance: Tensor) -> Tensor:
    factor, info = torch.linalg.cholesky_ex(covariance)
    if bool((info != 0).any()):
        raise ValueError(
            f"{name}: expected a positive-definite covariance for a density, got a singular one "
            f"(a diffusion with a null direction gives a degenerate law)"
        )
    return factor


def _gaussian_log_prob(residual: Tensor, factor: Tensor) -> Tensor:
    """ln N(r; 0, L Lᵀ) for residuals ``(..., d)`` and a Cholesky factor ``(..., d, d)``."""
    d = residual.shape[-1]
    if factor.dim() == 2:  # one factor: all residuals as the columns of one solve
        rows = residual.reshape(-1, d).mT
        white = torch.linalg.solve_triangular(factor, rows, upper=False).mT.reshape(residual.shape)
    else:
        white = torch.linalg.solve_triangular(factor, residual.unsqueeze(-1), upper=False)
        white = white.squeeze(-1)
    half_log_det = torch.diagonal(factor, dim1=-2, dim2=-1).log().sum(-1)
    return -0.5 * white.square().sum(-1) - half_log_det - 0.5 * d * math.log(2.0 * math.pi)


def psd_sqrt(covariance: Tensor) -> Tensor:
    """A factor L with L Lᵀ = ``covariance`` for a positive-semidefinite matrix: Cholesky when it
    is definite, the symmetric square root (negative rounding-level eigenvalues set to 0)
    when it is singular."""
    factor, info = torch.linalg.cholesky_ex(covariance)
    if not bool((info != 0).any()):
        return factor
    values, vectors = torch.linalg.eigh(_symmetric(covariance))
    return vectors * values.clamp_min(0.0).sqrt().unsqueeze(-2)


def _one_norm(m: Tensor) -> float:
    return float(m.detach().abs().sum(-2).amax()) if m.numel() else 0.0


def ou_transition(drift: Tensor, diffusion: Tensor, dt: float | Tensor) -> Transition:
    """The exact transition of dx = −A(x − b)dt + N(0, D dt) over ``dt`` (module docstring).

    No stability or sign checks: this is the kernel :class:`OUProcess` validates for and
    maximum-likelihood fits differentiate through (any A, finite h ≥ 0).

    Args:
        drift: A ``(..., d, d)``.
        diffusion: D ``(..., d, d)``.
        dt: a time, or times ``(n,)`` — then the result has a leading dimension n.
    """
    h = torch.as_tensor(dt, dtype=drift.dtype, device=drift.device)
    scalar = h.dim() == 0
    h = h.reshape(-1, *([1] * drift.dim()))  # (n, 1, …, 1): broadcasts over A's batch and d×d
    longest = float(h.max()) if h.numel() else 0.0
    doublings = max(0, math.ceil(math.log2(longest * _one_norm(drift)))) if longest > 0 else 0
    doublings = min(doublings, _DOUBLINGS)
    h = h / 2.0**doublings
    d = drift.shape[-1]
    batch = torch.broadcast_shapes(drift.shape[:-2], diffusion.shape[:-2])
    top = torch.cat([-drift.expand(*batch, d, d), diffusion.expand(*batch, d, d)], -1)
    bottom = torch.cat([torch.zeros_like(top[..., :d]), drift.mT.expand(*batch, d, d)], -1)
    block = torch.linalg.matrix_exp(torch.cat([top, bottom], -2) * h)
    propagator, integral = block[..., :d, :d], block[..., :d, d:]
    covariance = integral @ propagator.mT
    for _ in range(doublings):
        covariance = covariance + propagator @ covariance @ propagator.mT
        propagator = propagator @ propagator
    covariance = _symmetric(covariance)
    if scalar:
        return Transition(propagator[0], covariance[0])
    return Transition(propagator, covariance)


def _stationary_covariance(drift: Tensor, diffusion: Tensor) -> Tensor:
    """Σ with A Σ + Σ Aᵀ = D by doubling Q(s) until e^{−As} has vanished (Smith's method)."""
    norm = _one_norm(drift)
    propagator, covariance = ou_transition(drift, diffusion, 1.0 / norm if norm > 0 else 1.0)
    eps = torch.finfo(drift.dtype).eps
    for _ in range(_DOUBLINGS):
        increment = propagator @ covariance @ propagator.mT
        covariance = covariance + increment
        if float(increment.abs().amax()) <= eps * float(covariance.abs().amax()):
            return _symmetric(covariance)
        propagator = propagator @ propagator
    raise ValueError("drift: the stationary covariance did not converge; is the drift stable?")


def _check_matrix(name: str, m: object) -> Tensor:
    if not isinstance(m, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(m).__name__}")
    if not m.is_floating_point() or m.is_complex():
        raise TypeError(f"{name}: expected a real floating-point tensor, got {m.dtype}")
    if m.dim() < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"{name}: expected square matrices (..., d, d), got {tuple(m.shape)}")
    if not bool(torch.isfinite(m).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return m


def check_stable(name: str, drift: Tensor) -> Tensor:
    """Refuse a drift with an eigenvalue of non-positive real part (the process would not
    relax); returns the smallest real part per batch entry."""
    rates = torch.linalg.eigvals(drift).real.amin(-1)
    if bool((rates <= 0).any()):
        raise ValueError(
            f"{name}: expected a stable drift (every eigenvalue with a positive real part), got "
            f"one with real part {float(rates.min()):.3g}"
        )
    return rates


def check_psd(name: str, m: Tensor) -> None:
    """Refuse a matrix that is not symmetric positive semidefinite (to rounding)."""
    scale = float(m.abs().amax()) if m.numel() else 0.0
    tol = 100.0 * m.shape[-1] * torch.finfo(m.dtype).eps * max(scale, 1e-30)
    if float((m - m.mT).abs().amax()) > tol:
        raise ValueError(f"{name}: expected a symmetric matrix, got an asymmetric one")
    low = float(torch.linalg.eigvalsh(m).amin())
    if low < -tol:
        raise ValueError(
            f"{name}: expected a positive-semidefinite matrix, got an eigenvalue {low:.3g}"
        )


@dataclass(frozen=True, eq=False)
class OUProcess:
    """dx = −A(x − b)dt + N(0, D dt): ``drift`` A ``(..., d, d)`` (stable, any normality),
    ``mean`` b ``(..., d)`` and ``diffusion`` D ``(..., d, d)`` (symmetric PSD), validated once.

    Example::

        process = OUProcess(drift=A, mean=b, diffusion=2 * torch.eye(d))
        path = process.sample(torch.linspace(0, 10, 1001), x0, generator=g)   # Trajectory
        process.log_prob(path.times, path.states)                              # exact

    Raises:
        TypeError: non-tensors or non-floating tensors.
        ValueError: non-square or mismatched shapes, non-finite values, an unstable drift
            (an eigenvalue with non-positive real part), a diffusion that is not symmetric
            PSD, mixed dtypes or devices.
    """

    drift: Tensor
    mean: Tensor
    diffusion: Tensor

    def __post_init__(self) -> None:
        drift = _check_matrix("drift", self.drift)
        diffusion = _check_matrix("diffusion", self.diffusion)
        if not isinstance(self.mean, Tensor):
            raise TypeError(f"mean: expected a torch.Tensor, got {type(self.mean).__name__}")
        d = drift.shape[-1]
        if self.mean.dim() < 1 or self.mean.shape[-1] != d:
            raise ValueError(f"mean: expected shape (..., {d}), got {tuple(self.mean.shape)}")
        if diffusion.shape[-1] != d:
            raise ValueError(f"diffusion: expected (..., {d}, {d}), got {tuple(diffusion.shape)}")
        if not bool(torch.isfinite(self.mean).all()):
            raise ValueError("mean: expected finite values, got NaN or inf")
        for name, t in (("mean", self.mean), ("diffusion", diffusion)):
            if t.dtype != drift.dtype or t.device != drift.device:
                raise ValueError(
                    f"{name}: expected {drift.dtype} on {drift.device} (the drift's), got "
                    f"{t.dtype} on {t.device}"
                )
        try:
            torch.broadcast_shapes(drift.shape[:-2], self.mean.shape[:-1], diffusion.shape[:-2])
        except RuntimeError:
            raise ValueError(
                f"drift, mean, diffusion: expected broadcastable batch shapes, got "
                f"{tuple(drift.shape)}, {tuple(self.mean.shape)}, {tuple(diffusion.shape)}"
            ) from None
        check_psd("diffusion", diffusion)
        with torch.no_grad():
            rates = check_stable("drift", drift.detach())
        object.__setattr__(self, "_rate", float(rates.min()))

    @property
    def dim(self) -> int:
        """d, the number of coordinates."""
        return self.drift.shape[-1]

    @property
    def relaxation_time(self) -> float:
        """τ = 1 / min Re λ(A): the slowest mode's decay time (over the batch)."""
        return 1.0 / self._rate  # type: ignore[attr-defined]

    def transition(self, dt: float | Tensor) -> Transition:
        """The exact transition over ``dt`` (a time ≥ 0, or times ``(n,)``).

        Raises:
            ValueError: a negative or non-finite time.
        """
        return ou_transition(self.drift, self.diffusion, _check_times("dt", dt))

    def stationary(self) -> Gaussian:
        """The stationary law N(b, Σ), A Σ + Σ Aᵀ = D, exact for any stable drift."""
        return Gaussian(self.mean, _stationary_covariance(self.drift, self.diffusion))

    def conditional(self, x0: Tensor, t: float | Tensor) -> Gaussian:
        """The law of x(t) given x(0) = ``x0`` ``(..., d)``: N(b + e^{−At}(x0 − b), Q(t)); for
        times ``(n,)`` the mean has a leading n."""
        x0 = _check_state("x0", x0, self)
        propagator, covariance = self.transition(t)
        if torch.as_tensor(t).dim() == 1:  # a mean per time and start: (n, *x0 batch, d)
            batch = self.drift.dim() - 2
            start = (x0 - self.mean).unsqueeze(0)
            propagator = _leading(
                propagator, start.expand(len(propagator), *start.shape[1:]), batch
            )
            return Gaussian(self.mean + _apply(propagator, start), covariance)
        return Gaussian(self.mean + _apply(propagator, x0 - self.mean), covariance)

    def sample(
        self, times: Tensor, x0: Tensor, *, generator: torch.Generator | None = None
    ) -> Trajectory:
        """An exact path at ``times`` (strictly increasing ``(n,)``) from x(times[0]) = ``x0``
        ``(..., d)``: states ``(n, ..., d)``, on the :func:`~thermonn.dynamics.integrate`
        driver with the :class:`ExactOU` stepper (one transition for a uniform grid)."""
        grid = check_grid("times", times)
        x0 = _check_state("x0", x0, self)
        steps = len(grid) - 1
        if steps == 0:
            return Trajectory(grid, x0.unsqueeze(0))
        spacing = _uniform_spacing(grid)
        if spacing is not None:
            path = integrate(
                ExactOU(self, spacing), x0, steps=steps, save_every=1, t0=float(grid[0]),
                generator=generator,
            )  # fmt: skip
            return Trajectory(grid, path.states)
        return integrate(ExactOU(self, None), x0, times=grid, generator=generator)

    def log_prob(self, times: Tensor, path: Tensor) -> Tensor:
        """ln p(x_1, …, x_n | x_0) of a ``path`` ``(n + 1, ..., d)`` observed at ``times``
        ``(n + 1,)``: the sum of exact transition log-densities (x_0 is given, as in thermox's
        ``log_prob``; add ``stationary().log_prob(path[0])`` for a path started in
        equilibrium). Differentiable in A, b and D.

        Raises:
            ValueError: a non-increasing grid, a path of the wrong shape, a singular transition
                covariance (a degenerate diffusion has no density).
        """
        grid = check_grid("times", times)
        if not isinstance(path, Tensor) or path.dim() < 2 or len(path) != len(grid):
            raise ValueError(
                f"path: expected a tensor (len(times) = {len(grid)}, ..., {self.dim}), got "
                f"{tuple(path.shape) if isinstance(path, Tensor) else type(path).__name__}"
            )
        _check_state("path", path, self)
        return ou_log_prob(self.drift, self.mean, self.diffusion, grid, path)


def ou_log_prob(
    drift: Tensor, mean: Tensor, diffusion: Tensor, times: Tensor, path: Tensor
) -> Tensor:
    """Σ_k ln N(x_{k+1}; b + e^{−AΔt_k}(x_k − b), Q(Δt_k)) for a path ``(n + 1, ..., d)`` at
    ``times`` ``(n + 1,)`` — unvalidated (the kernel maximum-likelihood fits differentiate);
    one transition for a uniform grid, else one per distinct step, in chunks."""
    residual_from = path[:-1] - mean
    spacing = _uniform_spacing(times)
    if spacing is not None:
        propagator, covariance = ou_transition(drift, diffusion, spacing)
        residual = path[1:] - mean - _apply(propagator, residual_from)
        factor = _cholesky("diffusion", covariance)
        return _gaussian_log_prob(residual, factor).sum(0)
    steps = (times[1:] - times[:-1]).to(drift.dtype)
    distinct, index = torch.unique(steps, return_inverse=True)
    total = torch.zeros(path.shape[1:-1], dtype=path.dtype, device=path.device)
    for start in range(0, len(distinct), 64):  # 64 (2d)² exponentials at a time
        chunk = distinct[start : start + 64]
        propagators, covariances = ou_transition(drift, diffusion, chunk)
        factors = _cholesky("diffusion", covariances)
        rows = ((index >= start) & (index < start + len(chunk))).nonzero().squeeze(-1)
        local = index[rows] - start
        batch = drift.dim() - 2
        moved = residual_from[rows]
        residual = path[rows + 1] - mean - _apply(_leading(propagators[local], moved, batch), moved)
        factor = _leading(factors[local], moved, batch)
        total = total + _gaussian_log_prob(residual, factor).sum(0)
    return total


class OUState(NamedTuple):
    """:class:`ExactOU` state: the configuration, a block of pre-drawn transition noise (mean
    shift included) and the position of the next unused row in it."""

    x: Tensor
    noise: Tensor | None
    position: int


class ExactOU:
    """The exact transition of an :class:`OUProcess` as a stepper of
    :func:`~thermonn.dynamics.integrate`: x ← (b − e^{−AΔt} b) + e^{−AΔt} x + L ξ with
    L Lᵀ = Q(Δt), exact for any Δt (no discretisation error, no stability limit).

    ``dt`` fixes the step of :meth:`step`; ``dt=None`` makes a grid stepper whose
    :meth:`step_to` moves between any two times (``integrate(..., times=grid)``). Noise is
    drawn ``block`` steps at a time and transformed by one matmul (the per-step work is one
    matmul); the transition is formed once, here.
    """

    def __init__(self, process: OUProcess, dt: float | None, *, block: int = 256) -> None:
        if not isinstance(process, OUProcess):
            raise TypeError(f"process: expected an OUProcess, got {type(process).__name__}")
        self.process = process
        self._block = check_int("block", block, minimum=1)
        self._dt = None if dt is None else float(_check_times("dt", dt))
        self._cached: tuple[float, Transition, Tensor, Tensor] | None = None
        if self._dt is not None:
            self._cached = self._prepare(self._dt)

    def _prepare(self, h: float) -> tuple[float, Transition, Tensor, Tensor]:
        transition = self.process.transition(h)
        factor = psd_sqrt(transition.covariance)
        b = self.process.mean
        shift = b - _apply(transition.propagator, b)
        return h, transition, factor, shift

    @property
    def dt(self) -> float:
        if self._dt is None:
            raise ValueError("dt: this ExactOU is a grid stepper (dt=None); use step_to")
        return self._dt

    def init(self, x0: Tensor) -> OUState:
        return OUState(_check_state("x0", x0, self.process), None, 0)

    def value(self, state: OUState) -> Tensor:
        return state.x

    def _advance(
        self,
        state: OUState,
        prepared: tuple[float, Transition, Tensor, Tensor],
        generator: torch.Generator | None,
        rows: int,
    ) -> OUState:
        _, (propagator, _), factor, shift = prepared
        x, noise, position = state
        if noise is None or position >= len(noise):
            white = torch.randn(
                (rows, *x.shape), dtype=x.dtype, device=x.device, generator=generator
            )
            noise = _apply(factor, white).add_(shift)
            position = 0
        if propagator.dim() == 2 and x.dim() == 2:
            new = torch.addmm(noise[position], x, propagator.mT)
        elif propagator.dim() == 2 and x.dim() == 1:
            new = torch.addmv(noise[position], propagator, x)
        else:
            new = noise[position] + _apply(propagator, x)
        return OUState(new, noise, position + 1)

    def step(self, state: OUState, t: float, generator: torch.Generator | None) -> OUState:
        prepared = self._cached
        if self._dt is None or prepared is None:
            raise ValueError("dt: this ExactOU is a grid stepper (dt=None); use step_to")
        rows = max(1, min(self._block, (1 << 22) // max(1, state.x.numel())))
        return self._advance(state, prepared, generator, rows)

    def step_to(
        self, state: OUState, t: float, t_next: float, generator: torch.Generator | None
    ) -> OUState:
        """One exact move from ``t`` to ``t_next`` (a grid step; the last interval's
        transition is kept, so a run of equal steps forms it once)."""
        h = t_next - t
        prepared = self._cached  # read once: another thread may replace it meanwhile
        if prepared is None or prepared[0] != h:
            prepared = self._prepare(h)
            self._cached = prepared
        return self._advance(OUState(state.x, None, 0), prepared, generator, 1)


def _check_times(name: str, dt: float | Tensor) -> float | Tensor:
    value = torch.as_tensor(dt)
    if value.dim() > 1 or not bool(torch.isfinite(value).all()) or bool((value < 0).any()):
        raise ValueError(f"{name}: expected a finite time >= 0 (or times (n,)), got {dt!r}")
    return dt


def _check_state(name: str, x: object, process: OUProcess) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != process.dim:
        raise ValueError(f"{name}: expected shape (..., {process.dim}), got {tuple(x.shape)}")
    if x.dtype != process.drift.dtype or x.device != process.drift.device:
        raise ValueError(
            f"{name}: expected {process.drift.dtype} on {process.drift.device} (the process's), "
            f"got {x.dtype} on {x.device}"
        )
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return x


def _uniform_spacing(grid: Tensor) -> float | None:
    """The common step of a uniform grid (equal to 1e-12 of the step, so ``linspace`` grids
    whose steps differ in their last bits count as uniform), else None."""
    steps = grid[1:] - grid[:-1]
    mean = float(steps.mean())
    rounding = 8.0 * torch.finfo(torch.float64).eps * float(grid.abs().max())
    if float((steps - mean).abs().max()) <= 1e-12 * mean + rounding:
        return mean
    return None
