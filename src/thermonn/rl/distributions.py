r"""The tanh-squashed Gaussian policy of SAC and the categorical policy's draws.

A bounded action :math:`a = \tanh(u)`, :math:`u \sim \mathcal N(\mu, \operatorname{diag}\sigma^2)`,
has by the change of variables the density

.. math::

    \log\pi(a) = \sum_i \Big[\log\mathcal N(u_i; \mu_i, \sigma_i^2) - \log\big(1 - \tanh^2 u_i\big)\Big],
    \qquad \log(1 - \tanh^2 u) = 2\big(\log 2 - u - \operatorname{softplus}(-2u)\big),

the right-hand form exact and finite where :math:`1 - \tanh^2 u` rounds to 0 (Haarnoja et al.
2018, appendix C).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOG_STD_MAX",
    "LOG_STD_MIN",
    "sample_categorical",
    "sample_tanh_gaussian",
    "tanh_gaussian_log_prob",
]

LOG_STD_MIN = -20.0
"""Lower clamp of the Gaussian's log standard deviation (stable-baselines3's)."""
LOG_STD_MAX = 2.0
"""Upper clamp of the Gaussian's log standard deviation."""

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def tanh_gaussian_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    r""":math:`\log\pi(\tanh u)` of the squashed Gaussian at the pre-squash point ``u``
    (module docstring). Shape: all ``(..., dim)``; returns ``(...)``."""
    z = (u - mean) * torch.exp(-log_std)
    gaussian = -0.5 * z.square() - log_std - _HALF_LOG_2PI
    log_jacobian = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return (gaussian - log_jacobian).sum(-1)


def sample_tanh_gaussian(
    mean: Tensor, log_std: Tensor, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    r"""A reparametrised draw :math:`a = \tanh(\mu + \sigma\varepsilon)`,
    :math:`\varepsilon \sim \mathcal N(0, I)` from ``generator``, and its log-density; gradients
    flow to ``mean`` and ``log_std``. Shape: ``(..., dim)`` in, ``(..., dim)`` and ``(...)`` out."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    u = mean + log_std.exp() * eps
    return torch.tanh(u), tanh_gaussian_log_prob(u, mean, log_std)


def sample_categorical(logits: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """One action index per row of ``logits`` ``(..., actions)`` from ``generator``."""
    probs = torch.softmax(logits, -1).reshape(-1, logits.shape[-1])
    return torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:-1])
