"""A ring buffer of transitions on torch tensors: SAC's replay buffer and soft PPO's rollout.

Each slot holds ``(obs, action, reward, next_obs, terminated, truncated)``. ``next_obs`` is the
observation the step returned — for a time-limit truncation the last observation of the
episode, which the critics bootstrap from (only ``terminated`` zeroes the next value).
Checkpoints hold the filled part and the write position, so a reloaded buffer samples exactly
as the saved one would have.
"""

from __future__ import annotations

import torch
from torch import Tensor

from thermonn._validation import check_int

__all__ = ["TransitionBuffer"]

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class TransitionBuffer:
    """``capacity`` transitions of ``obs_shape`` observations and ``action_shape`` actions of
    ``action_dtype``; once full, the oldest is overwritten."""

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        *,
        action_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.capacity = check_int("capacity", capacity, minimum=1)
        self.obs = torch.empty(capacity, *obs_shape)
        self.next_obs = torch.empty(capacity, *obs_shape)
        self.action = torch.empty(capacity, *action_shape, dtype=action_dtype)
        self.reward = torch.empty(capacity)
        self.terminated = torch.empty(capacity, dtype=torch.bool)
        self.truncated = torch.empty(capacity, dtype=torch.bool)
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: Tensor,
        action: Tensor,
        reward: float,
        next_obs: Tensor,
        terminated: bool,
        truncated: bool,
    ) -> None:
        i = self.position
        self.obs[i] = obs
        self.action[i] = action
        self.reward[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = terminated
        self.truncated[i] = truncated
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def clear(self) -> None:
        self.position = self.size = 0

    def field(self, name: str) -> Tensor:
        """The filled rows of field ``name`` (a view), oldest first while not yet full."""
        data: Tensor = getattr(self, name)
        return data[: self.size]

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> list[Tensor]:
        """``batch_size`` transitions drawn uniformly with replacement, as one tensor per
        field in ``FIELDS`` order."""
        rows = torch.randint(self.size, (batch_size,), generator=generator)
        return [getattr(self, name)[rows] for name in FIELDS]

    def state_tensors(self, prefix: str) -> dict[str, Tensor]:
        out = {f"{prefix}{name}": self.field(name) for name in FIELDS}
        out[f"{prefix}counters"] = torch.tensor([self.position, self.size])
        return out

    def load_state_tensors(self, tensors: dict[str, Tensor], prefix: str, *, source: str) -> None:
        """Inverse of :meth:`state_tensors`. Raises ValueError (naming ``source``) for a
        buffer of another size or shape."""
        position, size = (int(v) for v in tensors[f"{prefix}counters"])
        for name in FIELDS:
            data, saved = getattr(self, name), tensors[f"{prefix}{name}"]
            if size > self.capacity or saved.shape != (size, *data.shape[1:]):
                raise ValueError(
                    f"{source}: {prefix}{name} has shape {tuple(saved.shape)}, expected "
                    f"({size}, {', '.join(map(str, data.shape[1:]))}) within capacity {self.capacity}"
                )
            data[:size] = saved.to(data.dtype)
        self.position, self.size = position, size
