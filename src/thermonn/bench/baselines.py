"""Baseline blocks ``d_in → width`` for the TEL benchmark (each followed by a linear readout).

Every block here is a plain ``nn.Module`` with the same contract as :class:`~thermonn.nn.TEL`:
``(…, in_features) → (…, width)``. KAN and DEQ wrap the field's reference libraries (pykan,
torchdeq) rather than re-implementing them.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "DEQBlock",
    "EnergyDescent",
    "GatedResidual",
    "HopfieldBlock",
    "KANBlock",
    "SwiGLU",
    "build_mlp",
]


def _require(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"this baseline needs the `{package}` package: pip install 'thermonn[bench]' ({err})"
        ) from err


def build_mlp(d_in: int, width: int, classes: int) -> nn.Sequential:
    """The two-hidden-layer GELU MLP ``Linear → GELU → Linear → GELU → Linear`` (the demo's
    reference and the drop-in backbones' feed-forward head)."""
    return nn.Sequential(
        nn.Linear(d_in, width),
        nn.GELU(),
        nn.Linear(width, width),
        nn.GELU(),
        nn.Linear(width, classes),
    )


class SwiGLU(nn.Module):
    r"""Shazeer's gated unit: :math:`y = \mathrm{SiLU}(W_1 x) \odot (W_2 x)`."""

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.gate = nn.Linear(in_features, width)
        self.value = nn.Linear(in_features, width)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.silu(self.gate(x)) * self.value(x)


class GatedResidual(nn.Module):
    r"""The reviewers' reading of TEL: a residual activation with an input-dependent gain,
    :math:`y = z + g(x) \odot \tanh(z)`, :math:`z = W x + b`, :math:`g(x) = V x + c`
    (TEL with K = 1 is :math:`z + T\,\phi(z)` with a scalar, statistics-driven T)."""

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, width)
        self.gain = nn.Linear(in_features, width)

    def forward(self, x: Tensor) -> Tensor:
        z = self.proj(x)
        return z + self.gain(x) * torch.tanh(z)


class KANBlock(nn.Module):
    """pykan's ``KANLayer`` (B-splines of order 3 on ``grid`` intervals over [-2, 2] plus a SiLU
    base), returning only the layer output. The grid is fixed (no ``update_grid``)."""

    def __init__(self, in_features: int, width: int, grid: int = 5) -> None:
        super().__init__()
        KANLayer = _require("kan.KANLayer", "pykan").KANLayer

        self.layer = KANLayer(in_dim=in_features, out_dim=width, num=grid, k=3, grid_range=[-2, 2])

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape[:-1]
        return self.layer(x.reshape(-1, x.shape[-1]))[0].reshape(*shape, -1)


class DEQBlock(nn.Module):
    r"""Deep equilibrium layer :math:`y^* = \tanh(W y^* + U x + b)` solved by torchdeq
    (fixed-point iteration, ``iters`` forward steps, implicit-function-theorem backward).

    ``W`` starts with spectral norm ≈ 0.5 so the map is a contraction at initialisation."""

    def __init__(self, in_features: int, width: int, iters: int = 8) -> None:
        super().__init__()
        get_deq = _require("torchdeq", "torchdeq").get_deq

        self.inject = nn.Linear(in_features, width)
        self.recur = nn.Linear(width, width, bias=False)
        nn.init.orthogonal_(self.recur.weight, gain=0.5)
        self.deq = get_deq(
            core="sliced", f_solver="fixed_point_iter", f_max_iter=iters, b_max_iter=iters, ift=True
        )

    def forward(self, x: Tensor) -> Tensor:
        u = self.inject(x)
        y, _ = self.deq(lambda y: torch.tanh(self.recur(y) + u), torch.zeros_like(u))
        return y[-1]


class HopfieldBlock(nn.Module):
    r"""Modern Hopfield retrieval (Ramsauer et al., 2021) with ``width`` learned stored patterns
    :math:`K \in \mathbb{R}^{N \times d_k}`: the block returns the association
    :math:`p = \mathrm{softmax}(\beta\, K W_q x)` over the N = ``width`` patterns, and the
    readout that follows holds the patterns' values, so the network computes the one-step
    Hopfield update :math:`V^\top \mathrm{softmax}(\beta K q)`. β is learnable (initial 1/√d_k)."""

    def __init__(self, in_features: int, width: int, key_dim: int = 16) -> None:
        super().__init__()
        self.query = nn.Linear(in_features, key_dim)
        self.patterns = nn.Parameter(torch.randn(width, key_dim))
        self.log_beta = nn.Parameter(torch.tensor(-0.5 * math.log(key_dim)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.softmax(self.log_beta.exp() * self.query(x) @ self.patterns.T, dim=-1)


class EnergyDescent(nn.Module):
    r"""Energy-descent (EBM) layer: K gradient steps on a *learned* energy,
    :math:`E(y) = \tfrac12\|y - z\|^2 + \sum_j v_j\,\mathrm{softplus}(a_j^\top y + c_j)`,
    :math:`z = W x + b`, :math:`y_{k+1} = y_k - \eta\,\nabla E(y_k)`, :math:`y_0 = z`,
    η = σ(ρ) learnable. Unlike TEL, the nonlinearity couples features through ``rank`` learned
    energy directions, and there is no temperature."""

    def __init__(self, in_features: int, width: int, rank: int, steps: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, width)
        self.directions = nn.Linear(width, rank)
        self.weights = nn.Parameter(torch.full((rank,), 1.0))
        self.step_logit = nn.Parameter(torch.zeros(()))
        self.steps = steps

    def forward(self, x: Tensor) -> Tensor:
        z = self.proj(x)
        y, eta = z, torch.sigmoid(self.step_logit)
        for _ in range(self.steps):
            s = torch.sigmoid(self.directions(y)) * self.weights
            grad = (y - z) + s @ self.directions.weight
            y = y - eta * grad
        return y
