r"""Success probability and time-to-solution of repeated stochastic searches (annealing reads).

If one read reaches the target with probability p, R reads all miss it with probability
(1 − p)^R; the reads needed for confidence c are :math:`R_c = \lceil \ln(1 - c) / \ln(1 - p) \rceil`
and the **time-to-solution** is :math:`\mathrm{TTS}_c = t_{\rm read} \ln(1 - c) / \ln(1 - p)`
(continuous in p, the convention of the annealing literature), equal to t_read once p ≥ c and
infinite when no read succeeded.
"""

from __future__ import annotations

import math

from torch import Tensor

from thermonn._validation import check_float

__all__ = ["success_probability", "time_to_solution"]


def success_probability(energies: Tensor, target: float, *, tolerance: float = 1e-6) -> float:
    """The fraction of ``energies`` within ``tolerance`` (relative to max(1, |target|)) of, or
    below, ``target``."""
    check_float("target", target)
    check_float("tolerance", tolerance, at_least=0.0)
    slack = tolerance * max(1.0, abs(target))
    return float((energies.double() <= target + slack).double().mean())


def time_to_solution(p: float, seconds_per_read: float, *, confidence: float = 0.99) -> float:
    """TTS at ``confidence`` for success probability ``p`` per read of ``seconds_per_read``.

    Raises:
        ValueError: ``p`` outside [0, 1], a negative time, or ``confidence`` outside (0, 1).
    """
    check_float("p", p, at_least=0.0)
    if p > 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], got {p}")
    check_float("seconds_per_read", seconds_per_read, at_least=0.0)
    check_float("confidence", confidence, above=0.0)
    if confidence >= 1.0:
        raise ValueError(f"confidence: expected a value in (0, 1), got {confidence}")
    if p == 0.0:
        return math.inf
    if p >= confidence:
        return seconds_per_read
    return seconds_per_read * math.log(1.0 - confidence) / math.log(1.0 - p)
