"""Gymnasium environments, imported lazily (the optional ``[rl]`` extra), and the seeds their
episodes are reset with.

Training episode ``k`` of a run with seed ``s`` is reset with seed ``s + k`` and evaluation
episode ``i`` with ``s + EVAL_SEED_OFFSET + i``, so every episode's initial state is a function
of the seed and its index alone — what lets a run resumed at an episode boundary continue bit
for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["EVAL_SEED_OFFSET", "EnvSpec", "eval_seed", "make_env", "train_seed"]

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episodes are seeded from here on (above any training episode's index)."""


def train_seed(seed: int, episode: int) -> int:
    return seed + episode


def eval_seed(seed: int, index: int) -> int:
    return seed + EVAL_SEED_OFFSET + index


def _gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise ImportError(
            "thermonn.rl needs gymnasium for its environments: pip install 'thermonn[rl]' "
            "(or pip install 'gymnasium>=1.0')"
        ) from None
    return gymnasium


@dataclass(frozen=True)
class EnvSpec:
    """What an agent needs to know of an environment: ``obs_dim``; ``actions`` (the number of
    discrete actions, or ``None`` for a continuous box); ``low``/``high`` of the action box."""

    obs_dim: int
    actions: int | None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @property
    def discrete(self) -> bool:
        return self.actions is not None

    @property
    def act_dim(self) -> int:
        return 1 if self.low is None else len(self.low)

    def to_env(self, action: Tensor) -> Any:
        """An agent's action as the environment takes it: an int, or the point of ``[low,
        high]`` that the tanh action in ``[-1, 1]`` maps to affinely."""
        if self.actions is not None:
            return int(action)
        assert self.low is not None and self.high is not None
        a = action.numpy().astype(self.low.dtype)
        return self.low + (a + 1.0) * 0.5 * (self.high - self.low)


def make_env(env_id: str) -> tuple[Any, EnvSpec]:
    """A new ``gymnasium.make(env_id)`` and its :class:`EnvSpec`.

    Raises:
        ImportError: gymnasium is not installed (the message says how to install it).
        ValueError: ``env_id`` is not registered, or its spaces are not a flat box of
            observations with a discrete or flat-box action space.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id: expected a str, got {type(env_id).__name__}")
    gym = _gymnasium()
    if env_id not in gym.envs.registry:
        raise ValueError(
            f"env_id: expected a registered gymnasium environment such as 'Pendulum-v1' or "
            f"'CartPole-v1', got {env_id!r}"
        )
    env = gym.make(env_id)
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
        env.close()
        raise ValueError(f"env_id: expected flat Box observations, {env_id} has {obs}")
    if isinstance(act, gym.spaces.Discrete):
        return env, EnvSpec(obs.shape[0], int(act.n))
    if (
        isinstance(act, gym.spaces.Box)
        and len(act.shape) == 1
        and np.isfinite(act.low).all()
        and np.isfinite(act.high).all()
    ):
        return env, EnvSpec(obs.shape[0], None, act.low.copy(), act.high.copy())
    env.close()
    raise ValueError(
        f"env_id: expected a Discrete or bounded flat Box action space, {env_id} has {act}"
    )


def as_tensor(obs: Any) -> Tensor:
    """An observation as a float32 tensor."""
    return torch.as_tensor(np.asarray(obs, dtype=np.float32))
