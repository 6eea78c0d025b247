r"""Integrated autocorrelation time and effective sample size of Markov-chain samples.

For a stationary series with normalised autocorrelation :math:`\rho(t)`,

.. math::  \tau_{int} = 1 + 2 \sum_{t \ge 1} \rho(t), \qquad \mathrm{ESS} = N / \tau_{int},

so the variance of a mean over N correlated samples is :math:`\tau_{int}\,\sigma^2 / N`. ρ is
estimated by FFT per chain and averaged over chains; the sum is cut at Sokal's automatic window,
the smallest W with :math:`W \ge c\,\tau_{int}(W)` (c = 5), which keeps the noise of the tail out
(Sokal 1997; the same estimator as emcee's ``integrated_time``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["Autocorrelation", "integrated_autocorrelation"]


@dataclass(frozen=True)
class Autocorrelation:
    """``tau``: integrated autocorrelation time in samples; ``ess``: effective samples over all
    chains; ``window``: the summation window W; ``reliable``: the series is longer than 50 τ
    (shorter ones underestimate τ)."""

    tau: float
    ess: float
    window: int
    reliable: bool


def integrated_autocorrelation(x: Tensor, *, c: float = 5.0) -> Autocorrelation:
    """τ_int of samples ``x`` ``(samples, chains)`` (a 1-D tensor is one chain).

    Raises:
        ValueError: for fewer than 2 samples, a constant series, or non-finite values.
    """
    check_float("c", c, above=0.0)
    x = x.double().reshape(len(x), -1)
    n, chains = x.shape
    if n < 2 or not bool(torch.isfinite(x).all()):
        raise ValueError(f"x: expected finite samples (samples >= 2, chains), got {tuple(x.shape)}")
    centred = x - x.mean(0)
    if float(centred.square().sum()) == 0.0:
        raise ValueError("x: expected a non-constant series, got a constant one")
    spectrum = torch.fft.rfft(centred, n=2 * n, dim=0)
    acov = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n, dim=0)[:n].mean(1)
    rho = acov / acov[0]
    taus = 2.0 * torch.cumsum(rho, 0) - 1.0  # τ(W) = 1 + 2 Σ_{t=1}^{W} ρ(t)
    windows = torch.arange(n, dtype=torch.float64)
    ok = (windows >= c * taus).nonzero()
    window = int(ok[0]) if len(ok) else n - 1
    tau = float(taus[window])
    return Autocorrelation(tau, n * chains / tau, window, n > 50 * tau)
