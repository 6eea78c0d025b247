r"""Soft (maximum-entropy) Bellman operators, soft values and the temperature's dual loss.

Maximum-entropy reinforcement learning maximises the return plus the policy's entropy at an
explicit temperature :math:`\alpha` (reward units per nat):

.. math::

    J(\pi) = \mathbb E_\pi\Big[\sum_t \gamma^t \big(r_t + \alpha\,\mathcal H(\pi(\cdot|s_t))\big)\Big].

Its values obey the soft Bellman equations

.. math::

    Q(s, a) = r(s, a) + \gamma\,\mathbb E_{s'}\big[(1 - d)\,V(s')\big], \qquad
    V(s) = \mathbb E_{a\sim\pi}\big[Q(s, a) - \alpha \log \pi(a|s)\big],

and the optimal policy is the Boltzmann distribution of :math:`Q/\alpha`,
:math:`\pi^*(a|s) = \exp\big((Q^*(s, a) - V^*(s))/\alpha\big)` with the free energy
:math:`V^*(s) = \alpha \log \sum_a \exp(Q^*(s, a)/\alpha)` — the temperature of the policy is
the temperature of a Gibbs distribution over actions, :math:`-Q` its energy and :math:`-V^*`
its free energy.

The temperature is tuned to a target entropy :math:`\bar{\mathcal H}` by dual gradient descent
on the constraint :math:`\mathcal H(\pi) \ge \bar{\mathcal H}` (Haarnoja et al., "Soft
Actor-Critic Algorithms and Applications", 2018, eq. 18).

Functions here are the hot loop's: ``alpha`` and ``gamma`` given as Python numbers are checked
(it costs nothing), tensors are not (a check would cost a host sync per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int

__all__ = [
    "SoftValueIteration",
    "categorical_entropy",
    "continuous_soft_target",
    "discrete_soft_target",
    "optimal_soft_value",
    "soft_bellman_target",
    "soft_value",
    "soft_value_iteration",
    "temperature_loss",
]


def _check_alpha(alpha: float | Tensor) -> None:
    if not isinstance(alpha, Tensor):
        check_float("alpha", alpha, above=0.0)


def _check_gamma(gamma: float) -> None:
    check_float("gamma", gamma, at_least=0.0)
    if gamma > 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1], got {gamma}")


def categorical_entropy(log_pi: Tensor) -> Tensor:
    r""":math:`\mathcal H(\pi) = -\sum_a \pi(a)\log\pi(a)` over the last dimension of the
    (finite, normalised) log-probabilities ``log_pi``."""
    return -(log_pi.exp() * log_pi).sum(-1)


def soft_value(q: Tensor, log_pi: Tensor, alpha: float | Tensor) -> Tensor:
    r"""The soft value of a discrete policy,

    .. math::  V(s) = \sum_a \pi(a|s)\,\big(Q(s, a) - \alpha\log\pi(a|s)\big)
               = \mathbb E_\pi[Q] + \alpha\,\mathcal H(\pi).

    Shape: ``q`` and ``log_pi`` ``(..., actions)`` (``log_pi`` finite, e.g. a ``log_softmax``);
    returns ``(...)``. Raises ValueError for a non-positive Python ``alpha``.
    """
    _check_alpha(alpha)
    return (log_pi.exp() * (q - alpha * log_pi)).sum(-1)


def optimal_soft_value(q: Tensor, alpha: float | Tensor) -> Tensor:
    r"""The soft value of the Boltzmann policy :math:`\pi \propto \exp(Q/\alpha)`, a free
    energy: :math:`V^*(s) = \alpha \log\sum_a \exp(Q(s, a)/\alpha)`
    (:func:`soft_value` of that policy; :math:`\max_a Q` as :math:`\alpha \to 0`).

    Shape: ``q`` ``(..., actions)``; returns ``(...)``.
    """
    _check_alpha(alpha)
    return alpha * torch.logsumexp(q / alpha, dim=-1)


def soft_bellman_target(
    reward: Tensor, next_value: Tensor, terminated: Tensor, gamma: float
) -> Tensor:
    r"""The one-step target :math:`y = r + \gamma\,(1 - d)\,V(s')`.

    ``terminated`` (bool or 0/1) marks true terminal states, whose value is 0; a time-limit
    truncation is *not* terminal (its next state is bootstrapped). All shapes ``(batch,)``.
    """
    _check_gamma(gamma)
    return reward + gamma * (~terminated.bool()).to(reward.dtype) * next_value


def discrete_soft_target(
    reward: Tensor,
    next_q: Tensor,
    next_log_pi: Tensor,
    terminated: Tensor,
    *,
    alpha: float | Tensor,
    gamma: float,
) -> Tensor:
    r"""Soft Bellman target of a discrete policy, the expectation over next actions in closed
    form:

    .. math::  y = r + \gamma (1 - d) \sum_{a'} \pi(a'|s')\big(Q(s', a') - \alpha\log\pi(a'|s')\big).

    Shape: ``reward``, ``terminated`` ``(batch,)``; ``next_q``, ``next_log_pi``
    ``(batch, actions)``.
    """
    return soft_bellman_target(reward, soft_value(next_q, next_log_pi, alpha), terminated, gamma)


def continuous_soft_target(
    reward: Tensor,
    next_q: Tensor,
    next_log_prob: Tensor,
    terminated: Tensor,
    *,
    alpha: float | Tensor,
    gamma: float,
) -> Tensor:
    r"""Soft Bellman target of a continuous policy from one next action :math:`a' \sim
    \pi(\cdot|s')`, an unbiased estimate of the expectation:

    .. math::  y = r + \gamma (1 - d)\big(Q(s', a') - \alpha\log\pi(a'|s')\big).

    ``next_q`` is the critic's value of ``a'`` (for twin critics their minimum, the clipped
    double-Q estimate of TD3/SAC). All shapes ``(batch,)``.
    """
    _check_alpha(alpha)
    return soft_bellman_target(reward, next_q - alpha * next_log_prob, terminated, gamma)


def temperature_loss(log_alpha: Tensor, entropy: Tensor, target_entropy: float) -> Tensor:
    r"""The dual loss of the entropy constraint :math:`\mathcal H(\pi) \ge \bar{\mathcal H}`,

    .. math::  L(\log\alpha) = \log\alpha \cdot \big(\overline{\mathcal H} - \bar{\mathcal H}\big),
               \qquad \partial L/\partial\log\alpha = \overline{\mathcal H} - \bar{\mathcal H},

    with :math:`\overline{\mathcal H}` the batch mean of ``entropy`` (no gradient flows into
    it): descending it lowers :math:`\alpha` while the policy is more random than the target
    and raises it while it is less. (Parametrised by :math:`\log\alpha`, as stable-baselines3
    does, the step in :math:`\log\alpha` does not shrink with :math:`\alpha`.) ``entropy`` may
    be exact (discrete) or the one-sample estimate :math:`-\log\pi(a|s)` (continuous).
    """
    check_float("target_entropy", target_entropy)
    return log_alpha * (entropy.detach().mean() - target_entropy)


@dataclass(frozen=True)
class SoftValueIteration:
    """``q`` ``(states, actions)`` and ``value`` ``(states,)``: the soft values at the fixed
    point; ``policy`` ``(states, actions)``: the Boltzmann policy ``softmax(q / alpha)``;
    ``iterations`` taken and the last sup-norm change ``residual``."""

    q: Tensor
    value: Tensor
    policy: Tensor
    iterations: int
    residual: float


def soft_value_iteration(
    reward: Tensor,
    transition: Tensor,
    *,
    alpha: float,
    gamma: float,
    tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> SoftValueIteration:
    r"""Soft Q-iteration of a finite MDP to its fixed point,

    .. math::  Q_{k+1}(s, a) = r(s, a) + \gamma \sum_{s'} P(s'|s, a)\;\alpha\log\sum_{a'}
               \exp\big(Q_k(s', a')/\alpha\big),

    a :math:`\gamma`-contraction in the sup norm, stopped once a step changes :math:`Q` by at
    most ``tol``.

    Args:
        reward: ``(states, actions)``.
        transition: ``(states, actions, states)``, rows summing to 1.
        alpha: the temperature, > 0. gamma: the discount, in [0, 1).

    Raises:
        ValueError: a non-positive ``alpha``, ``gamma`` outside [0, 1), shapes that do not
            match, a transition row that is not a distribution, or no convergence within
            ``max_iterations``.
    """
    check_float("alpha", alpha, above=0.0)
    _check_gamma(gamma)
    if gamma >= 1.0:
        raise ValueError(f"gamma: expected a discount in [0, 1) for convergence, got {gamma}")
    check_float("tol", tol, above=0.0)
    check_int("max_iterations", max_iterations, minimum=1)
    if reward.dim() != 2:
        raise ValueError(f"reward: expected shape (states, actions), got {tuple(reward.shape)}")
    s, a = reward.shape
    if transition.shape != (s, a, s):
        raise ValueError(
            f"transition: expected shape ({s}, {a}, {s}), got {tuple(transition.shape)}"
        )
    sums = transition.sum(-1)
    if bool((transition < 0).any()) or not torch.allclose(sums, torch.ones_like(sums)):
        raise ValueError("transition: expected rows P(.|s, a) that are distributions")
    q = reward.clone()
    for k in range(1, max_iterations + 1):
        new = reward + gamma * transition @ optimal_soft_value(q, alpha)
        residual = float((new - q).abs().max())
        q = new
        if residual <= tol:
            value = optimal_soft_value(q, alpha)
            return SoftValueIteration(q, value, torch.softmax(q / alpha, -1), k, residual)
    raise ValueError(
        f"max_iterations: soft value iteration did not reach tol {tol:g} in {max_iterations} "
        f"iterations (last change {residual:g})"
    )
