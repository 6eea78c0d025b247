r"""Soft Actor-Critic for continuous actions, with the temperature tuned to a target entropy.

Haarnoja et al., "Soft Actor-Critic Algorithms and Applications" (2018). Per environment step
(after ``learning_starts`` uniformly random ones) one gradient step on a minibatch
:math:`\mathcal B` drawn from the replay buffer:

.. math::

    y &= r + \gamma (1 - d)\big(\min_{m=1,2} \bar Q_m(s', a') - \alpha\log\pi(a'|s')\big),
        \qquad a' \sim \pi(\cdot|s'), \\
    L_Q &= \tfrac12 \sum_m \mathbb E_{\mathcal B}\big[(Q_m(s, a) - y)^2\big], \\
    L_\pi &= \mathbb E_{\mathcal B}\big[\alpha\log\pi(\tilde a|s) - \min_m Q_m(s, \tilde a)\big],
        \qquad \tilde a = \tanh(\mu(s) + \sigma(s)\,\varepsilon), \\
    L_\alpha &= \log\alpha\,\big(\mathbb E_{\mathcal B}[-\log\pi(\tilde a|s)] - \bar{\mathcal H}\big),
        \qquad \bar{\mathcal H} = -\dim\mathcal A,

then Polyak averaging :math:`\bar\theta \leftarrow (1 - \tau)\bar\theta + \tau\theta` of the
target critics. The policy is the tanh-squashed Gaussian
(:mod:`thermonn.rl.distributions`) on :math:`[-1, 1]^{\dim\mathcal A}`; the training loop maps
it affinely onto the environment's action box. :math:`\alpha` in :math:`L_Q, L_\pi` and the
critic in :math:`L_\pi` are this step's values before its update (the three losses share one
backward pass; the actor's loss reaches the critics' weights through no gradient). Defaults
are stable-baselines3's (SAC: Adam 3e-4, 256×256 ReLU networks, batch 256, τ = 0.005, γ = 0.99,
α₀ = 1, 100 random steps).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from thermonn._validation import check_bool, check_float, check_int
from thermonn.rl._checks import check_discount, check_hidden
from thermonn.rl.buffer import TransitionBuffer
from thermonn.rl.distributions import sample_tanh_gaussian
from thermonn.rl.networks import GaussianActor, TwinQ
from thermonn.rl.soft import continuous_soft_target, temperature_loss
from thermonn.train.checkpoint import load_module, optimizer_from_tensors, optimizer_tensors

__all__ = ["SAC", "SACConfig"]


@dataclass(frozen=True)
class SACConfig:
    """SAC's hyper-parameters: ``hidden`` widths of actor and critics, Adam ``lr`` (all
    networks and log α), replay ``buffer_size``, ``learning_starts`` random steps,
    ``batch_size``, Polyak ``tau``, discount ``gamma``, the temperature ``alpha`` (initial
    value; fixed when ``auto_alpha`` is False), ``target_entropy`` (None: −dim A) and
    ``gradient_steps`` per environment step."""

    hidden: tuple[int, ...] = (256, 256)
    lr: float = 3e-4
    buffer_size: int = 1_000_000
    learning_starts: int = 100
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    alpha: float = 1.0
    auto_alpha: bool = True
    target_entropy: float | None = None
    gradient_steps: int = 1

    def __post_init__(self) -> None:
        check_hidden(self.hidden)
        check_float("lr", self.lr, above=0.0)
        check_int("buffer_size", self.buffer_size, minimum=1)
        check_int("learning_starts", self.learning_starts, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("tau", self.tau, above=0.0)
        if self.tau > 1.0:
            raise ValueError(f"tau: expected a Polyak rate in (0, 1], got {self.tau}")
        check_discount("gamma", self.gamma)
        check_float("alpha", self.alpha, above=0.0)
        check_bool("auto_alpha", self.auto_alpha)
        if self.target_entropy is not None:
            check_float("target_entropy", self.target_entropy)
        check_int("gradient_steps", self.gradient_steps, minimum=1)


class SAC:
    """A SAC agent for observations of ``obs_dim`` and actions in :math:`[-1, 1]^{act\\_dim}`.

    Owns the networks, their Adam optimiser, log α and the replay buffer; every random number
    comes from the ``generator`` passed to :meth:`act` and :meth:`observe`. Build it inside
    :func:`thermonn._random.seeded_default_generator` to fix the initial weights.
    """

    def __init__(self, config: SACConfig, obs_dim: int, act_dim: int) -> None:
        self.config = config
        self.act_dim = act_dim
        self.target_entropy = (
            -float(act_dim) if config.target_entropy is None else config.target_entropy
        )
        self.actor = GaussianActor(obs_dim, act_dim, config.hidden)
        self.critic = TwinQ(obs_dim, act_dim, config.hidden)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(config.alpha).log())
        groups: list[dict[str, Any]] = [
            {"params": list(self.actor.parameters())},
            {"params": list(self.critic.parameters())},
        ]
        if config.auto_alpha:
            groups.append({"params": [self.log_alpha]})
        self.optimizer = torch.optim.Adam(groups, lr=config.lr, fused=True)
        self.buffer = TransitionBuffer(config.buffer_size, (obs_dim,), (act_dim,))
        self.steps = 0  # transitions observed
        self.updates = 0
        self._entropy = torch.tensor(float("nan"))

    @property
    def entropy(self) -> float:
        """The policy's entropy estimate :math:`-\\log\\pi(\\tilde a|s)` on the last update's
        batch (NaN before the first update)."""
        return float(self._entropy)

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    @torch.no_grad()
    def act(
        self, obs: Tensor, *, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """An action in :math:`[-1, 1]^{act\\_dim}` for one observation: uniform during the
        first ``learning_starts`` steps, then a draw from the policy (``deterministic``:
        :math:`\\tanh\\mu(s)`)."""
        if not deterministic and self.steps < self.config.learning_starts:
            return torch.rand(self.act_dim, generator=generator) * 2.0 - 1.0
        mean, log_std = self.actor(obs)
        if deterministic:
            return torch.tanh(mean)
        return sample_tanh_gaussian(mean, log_std, generator=generator)[0]

    def observe(
        self,
        obs: Tensor,
        action: Tensor,
        reward: float,
        next_obs: Tensor,
        terminated: bool,
        truncated: bool,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        """Store one transition and, past ``learning_starts``, take ``gradient_steps`` updates."""
        self.buffer.add(obs, action, reward, next_obs, terminated, truncated)
        self.steps += 1
        if self.steps > self.config.learning_starts:
            for _ in range(self.config.gradient_steps):
                self.update(generator=generator)

    def update(self, *, generator: torch.Generator | None = None) -> Tensor:
        """One gradient step of :math:`L_Q + L_\\pi + L_\\alpha` and the Polyak average;
        returns the (detached) summed loss without a host sync."""
        c = self.config
        obs, action, reward, next_obs, terminated, _ = self.buffer.sample(
            c.batch_size, generator=generator
        )
        alpha = self.log_alpha.detach().exp()
        a_pi, log_pi = sample_tanh_gaussian(*self.actor(obs), generator=generator)
        with torch.no_grad():
            a_next, log_next = sample_tanh_gaussian(*self.actor(next_obs), generator=generator)
            next_q = self.critic_target(next_obs, a_next).min(0).values
            target = continuous_soft_target(
                reward, next_q, log_next, terminated, alpha=alpha, gamma=c.gamma
            )
        critic_loss = 0.5 * (self.critic(obs, action) - target).square().mean(-1).sum()
        actor_loss = (alpha * log_pi - self.critic.frozen(obs, a_pi).min(0).values).mean()
        loss = critic_loss + actor_loss
        if c.auto_alpha:
            loss = loss + temperature_loss(self.log_alpha, -log_pi, self.target_entropy)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            for target_p, p in zip(
                self.critic_target.parameters(), self.critic.parameters(), strict=True
            ):
                target_p.lerp_(p, c.tau)
        self.updates += 1
        self._entropy = -log_pi.detach().mean()
        return loss.detach()

    def network_tensors(self) -> dict[str, Tensor]:
        """The networks' weights and log α (what a trained policy needs)."""
        return {
            **{f"actor.{k}": v for k, v in self.actor.state_dict().items()},
            **{f"critic.{k}": v for k, v in self.critic.state_dict().items()},
            **{f"critic_target.{k}": v for k, v in self.critic_target.state_dict().items()},
            "log_alpha": self.log_alpha.detach(),
        }

    def state_tensors(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything a resumed run needs: networks, optimiser, log α, buffer, counters."""
        opt, groups = optimizer_tensors(self.optimizer)
        tensors = {
            **self.network_tensors(),
            **opt,
            **self.buffer.state_tensors("buffer."),
            "agent_counters": torch.tensor([self.steps, self.updates]),
        }
        return tensors, {"groups": groups}

    def load_state_tensors(
        self, tensors: dict[str, Tensor], meta: dict[str, Any], *, source: str
    ) -> None:
        for name in ("actor", "critic", "critic_target"):
            load_module(getattr(self, name), tensors, source=source, prefix=f"{name}.")
        with torch.no_grad():
            self.log_alpha.copy_(tensors["log_alpha"])
        optimizer_from_tensors(self.optimizer, tensors, meta["groups"])
        self.buffer.load_state_tensors(tensors, "buffer.", source=source)
        self.steps, self.updates = (int(v) for v in tensors["agent_counters"])
