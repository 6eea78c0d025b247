"""The agents' networks: plain MLPs, the squashed-Gaussian actor, and twin critics evaluated as
one batched ensemble (both critics' layers in one ``baddbmm``).

Every weight is drawn in ``reset_parameters`` from torch's default generator; the agents build
their networks inside :func:`thermonn._random.seeded_default_generator`, so a seed fixes them
without touching the caller's generator state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from thermonn.rl.distributions import LOG_STD_MAX, LOG_STD_MIN

__all__ = ["EnsembleLinear", "GaussianActor", "TwinQ", "mlp"]


def mlp(
    sizes: Sequence[int],
    activation: type[nn.Module] = nn.ReLU,
    *,
    orthogonal_gains: Sequence[float] | None = None,
) -> nn.Sequential:
    """Linear layers ``sizes[0] → … → sizes[-1]`` with ``activation`` between them (none after
    the last). ``orthogonal_gains`` (one per layer): orthogonal weights of those gains and zero
    biases (the PPO initialisation), else PyTorch's default."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(n_in, n_out)
        if orthogonal_gains is not None:
            nn.init.orthogonal_(linear.weight, gain=orthogonal_gains[i])
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """``members`` independent linear maps applied at once: input ``(members, batch, in)``,
    output ``(members, batch, out)``, member ``m`` computing ``x[m] @ weight[m] + bias[m]``.
    Initialised as ``nn.Linear`` is, uniform in ``±1/sqrt(in)``."""

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return f"members={self.members}, in_features={self.in_features}, out_features={self.out_features}"

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class TwinQ(nn.Module):
    """``members`` (2: clipped double Q) critics ``Q_m(s, a)``, ReLU MLPs with ``hidden``
    layers. ``forward(obs (batch, obs_dim), action (batch, act_dim)) → (members, batch)``."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256), members: int = 2
    ) -> None:
        super().__init__()
        sizes = [obs_dim + act_dim, *hidden, 1]
        self.members = members
        self.layers: list[EnsembleLinear] = nn.ModuleList(  # type: ignore[assignment]
            EnsembleLinear(members, n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)
        )

    def _run(self, obs: Tensor, action: Tensor, detach: bool) -> Tensor:
        x = torch.cat([obs, action], -1).expand(self.members, -1, -1)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            w, b = (
                (layer.weight.detach(), layer.bias.detach())
                if detach
                else (layer.weight, layer.bias)
            )
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu(x)
        return x.squeeze(-1)

    def forward(self, obs: Tensor, action: Tensor) -> Tensor:
        return self._run(obs, action, detach=False)

    def frozen(self, obs: Tensor, action: Tensor) -> Tensor:
        """The same values as ``forward``, differentiable in ``obs`` and ``action`` only (the
        actor's loss must not train the critics)."""
        return self._run(obs, action, detach=True)


class GaussianActor(nn.Module):
    """A ReLU MLP ``obs → hidden`` with two linear heads: the mean and the log standard
    deviation (clamped to ``[LOG_STD_MIN, LOG_STD_MAX]``) of the pre-squash Gaussian."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.latent = nn.Sequential(mlp([obs_dim, *hidden]), nn.ReLU())
        self.mean = nn.Linear(hidden[-1], act_dim)
        self.log_std = nn.Linear(hidden[-1], act_dim)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.latent(obs)
        return self.mean(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)
