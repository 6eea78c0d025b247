"""Statistics of the benchmark report: mean ± std over seeds and two-sample comparisons.

A comparison of model ``a`` with model ``b`` on one task is the difference of their mean test
metrics with a 95% percentile-bootstrap CI (``scipy.stats.bootstrap``, 10,000 resamples, fixed
generator) and Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``). It counts as a win or
a loss only when the bootstrap CI excludes 0 and Welch's p < 0.05; otherwise a tie.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["Comparison", "compare", "mean_std"]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``n − 1``; 0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


class Comparison:
    r"""Model ``a`` against model ``b`` on one task.

    Attributes:
        delta: :math:`\Delta = \bar a - \bar b` in metric units.
        better: :math:`\Delta` signed so that > 0 means ``a`` is better (flipped for
            lower-is-better metrics).
        p_value: Welch's two-sided p (NaN when either sample has one value or both are
            constant).
        ci: 95% percentile-bootstrap interval of :math:`\Delta` (each sample resampled on its
            own, 10,000 times, ``numpy.random.default_rng(0)``); ``(Δ, Δ)`` when ``p_value`` is
            NaN.
    """

    def __init__(self, a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> None:
        from scipy import stats

        self.a, self.b = np.asarray(a, float), np.asarray(b, float)
        self.delta = float(self.a.mean() - self.b.mean())
        sign = 1.0 if higher_is_better else -1.0
        self.better = sign * self.delta
        if len(self.a) > 1 and len(self.b) > 1 and (self.a.std() > 0 or self.b.std() > 0):
            with warnings.catch_warnings():  # nearly identical samples: p is then ~1 anyway
                warnings.simplefilter("ignore", RuntimeWarning)
                self.p_value = float(stats.ttest_ind(self.a, self.b, equal_var=False).pvalue)
            ci = stats.bootstrap(
                (self.a, self.b),
                lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                n_resamples=10_000,
                method="percentile",
                rng=np.random.default_rng(0),
                vectorized=True,
            ).confidence_interval
            self.ci = (float(ci.low), float(ci.high))
        else:
            self.p_value, self.ci = float("nan"), (self.delta, self.delta)

    @property
    def verdict(self) -> str:
        """``win``/``loss`` only when the bootstrap CI excludes 0 *and* Welch's p < 0.05 (with
        five seeds the percentile bootstrap alone is anti-conservative); else ``tie``."""
        low, high = self.ci
        if low <= 0 <= high or not np.isfinite(low) or not self.p_value < 0.05:
            return "tie"
        return "win" if self.better > 0 else "loss"


def compare(a: Sequence[float], b: Sequence[float], *, higher_is_better: bool) -> Comparison:
    """:class:`Comparison` of the samples ``a`` and ``b`` (one value per seed)."""
    return Comparison(a, b, higher_is_better)
