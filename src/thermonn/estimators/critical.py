r"""Critical temperatures from finite systems: Binder-cumulant crossings and finite-size scaling.

Near a continuous transition the Binder cumulant :math:`U_4` is a function of
:math:`(T - T_c) L^{1/\nu}` alone (up to corrections), so the curves :math:`U_4(T)` of two sizes
cross near :math:`T_c`. A size-dependent estimate (a crossing, a heat-capacity peak) drifts as

.. math::  T_c(L) = T_c(\infty) + a\,L^{-1/\nu},

which :func:`finite_size_fit` fits by nonlinear least squares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FiniteSizeFit", "binder_crossing", "finite_size_fit"]


def _as_curve(name: str, values: Sequence[float], n: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,) or not np.isfinite(array).all():
        raise ValueError(f"{name}: expected {n} finite values, got shape {array.shape}")
    return array


def binder_crossing(
    temperatures: Sequence[float], binder_small: Sequence[float], binder_large: Sequence[float]
) -> float:
    """The temperature where two sizes' Binder curves, sampled on the increasing grid
    ``temperatures``, cross: the root of their difference, linearly interpolated between the
    grid points where it changes sign (the one with the smallest |difference| if several).

    Raises:
        ValueError: for a grid that is not increasing, curves of another length, or curves that
            do not cross on the grid.
    """
    t = np.asarray(temperatures, dtype=np.float64)
    if t.ndim != 1 or len(t) < 2 or not (np.diff(t) > 0).all():
        raise ValueError(f"temperatures: expected >= 2 increasing values, got {t.tolist()}")
    d = _as_curve("binder_large", binder_large, len(t)) - _as_curve(
        "binder_small", binder_small, len(t)
    )
    changes = np.nonzero(np.sign(d[:-1]) != np.sign(d[1:]))[0]
    if len(changes) == 0:
        raise ValueError(
            "binder curves: expected them to cross on the temperature grid, they do not"
        )
    k = min(changes, key=lambda i: min(abs(d[i]), abs(d[i + 1])))
    return float(t[k] - d[k] * (t[k + 1] - t[k]) / (d[k + 1] - d[k]))


@dataclass(frozen=True)
class FiniteSizeFit:
    """T_c(∞), the amplitude a and the exponent ν of T_c(L) = T_c(∞) + a L^(−1/ν), with the
    standard error of T_c(∞) from the fit (``nan`` when the data determine the fit exactly)."""

    critical_temperature: float
    amplitude: float
    nu: float
    critical_temperature_error: float


def finite_size_fit(
    sizes: Sequence[float], estimates: Sequence[float], *, nu: float | None = None
) -> FiniteSizeFit:
    """Fit T_c(L) = T_c(∞) + a L^(−1/ν) to size-dependent estimates; with ``nu`` given, ν is
    held fixed (then two sizes suffice, else at least three).

    Raises:
        ValueError: for too few sizes, non-positive sizes or non-finite estimates.
    """
    from scipy.optimize import curve_fit

    size = np.asarray(sizes, dtype=np.float64)
    est = _as_curve("estimates", estimates, len(size))
    need = 2 if nu is not None else 3
    if size.ndim != 1 or len(size) < need or not (size > 0).all():
        raise ValueError(f"sizes: expected >= {need} positive sizes, got {size.tolist()}")
    if nu is not None:  # linear least squares in (T_c, a)
        fixed = float(nu)
        design = np.stack([np.ones_like(size), size ** (-1.0 / fixed)], 1)
        params, *_ = np.linalg.lstsq(design, est, rcond=None)
        dof = len(size) - 2
        error = np.nan
        if dof > 0:
            sigma2 = float(((design @ params - est) ** 2).sum()) / dof
            error = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[0, 0]))
        return FiniteSizeFit(float(params[0]), float(params[1]), fixed, error)
    params, cov = curve_fit(
        lambda s, tc, a, v: tc + a * s ** (-1.0 / v), size, est, p0=(est[-1], 0.0, 1.0)
    )
    error = float(np.sqrt(cov[0, 0])) if np.isfinite(cov[0, 0]) else np.nan
    return FiniteSizeFit(float(params[0]), float(params[1]), float(params[2]), error)
