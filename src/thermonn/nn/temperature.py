r"""TEL's temperature rule: entropy-driven adaptive temperature, or a learnable constant.

Adaptive (two time scales):

.. math::

    T_0 = \tau(\hat S(y_0)), \qquad T_{k+1} = (1-\beta)\,T_k + \beta\,\tau(\hat S(y_{k+1})),

with the target map :math:`\tau` of :func:`~thermonn.functional.target_temperature` (learnable slope
:math:`w_T` and offset :math:`s_0`) and an entropy estimator :math:`\hat S`: ``"gaussian"``
(:func:`~thermonn.functional.gaussian_entropy`) or ``"mlp"``, a tiny MLP on the per-sample moments
``(mean, var, mean |y|)``.  Every :math:`T_k` lies in :math:`[T_{\min}, T_{\max}]` by construction.

``running=True`` makes the rule input-independent within a forward pass, like BatchNorm in eval:
:math:`\hat S_k` is replaced by a running average over training batches (updated after use, without
gradient).  TEL uses this in non-expansive mode, where an input-dependent temperature would add
:math:`\eta\sup\lVert\varphi\rVert\operatorname{Lip}(\tau\circ\hat S)` to the Lipschitz bound.
The buffer holds K + 1 entries; the last one only feeds the diagnostic :math:`T_K` and so only
moves on forwards that record diagnostics.  An empty batch leaves the buffer unchanged, and only
finite estimates enter it: a NaN sample cannot poison later batches.

Fixed: :math:`T = T_{\min} + (T_{\max}-T_{\min})\,\sigma(\theta)`, one learnable scalar.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import Tensor, nn

from thermonn.functional.temperature import (
    ema,
    gaussian_entropy,
    moment_features,
    target_temperature,
)

__all__ = ["ESTIMATORS", "TEMPERATURE_MODES", "TemperatureRule"]

TEMPERATURE_MODES = ("adaptive", "fixed")
ESTIMATORS = ("gaussian", "mlp")
# Entropy of a unit-variance Gaussian: the initial offset s_0 and running estimate.
_UNIT_GAUSSIAN_ENTROPY = 0.5 * math.log(2.0 * math.pi * math.e)


class TemperatureRule(nn.Module):
    """Temperature rule of one TEL layer (see the module docstring for the equations).

    Args:
        t_min, t_max: the hard box; ``0 < t_min <= t_max``.
        beta: EMA rate in ``(0, 1]``.
        mode: ``"adaptive"`` or ``"fixed"``.
        estimator: ``"gaussian"`` or ``"mlp"`` (the MLP only with the adaptive, non-running rule,
            the one place it receives gradients).
        steps: number of descent steps K (sizes the running buffers).
        running: use running entropy statistics instead of the live iterate (see above).
        momentum: update rate of the running statistics.
        eps: variance floor of the Gaussian estimate.
    """

    running_entropy: Tensor

    def __init__(
        self,
        *,
        t_min: float,
        t_max: float,
        beta: float,
        mode: str = "adaptive",
        estimator: str = "gaussian",
        steps: int,
        running: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if mode not in TEMPERATURE_MODES:
            raise ValueError(f"temperature: expected one of {TEMPERATURE_MODES}, got {mode!r}")
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
        if estimator == "mlp" and (mode == "fixed" or running):
            # The MLP would only ever run without gradient (diagnostics, running statistics):
            # its parameters could never be trained.
            raise ValueError(
                "estimator: expected 'gaussian' with "
                + (
                    "temperature='fixed'"
                    if mode == "fixed"
                    else "running statistics (nonexpansive=True)"
                )
                + ", where the MLP estimator would receive no gradient, got 'mlp'"
            )
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in (0, 1], got {momentum!r}")
        self.t_min, self.t_max, self.beta = float(t_min), float(t_max), float(beta)
        self.mode, self.estimator_name = mode, estimator
        self.running, self.momentum, self.eps = bool(running), float(momentum), float(eps)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        if mode == "fixed":
            self.theta = nn.Parameter(torch.empty((), **factory))
        else:
            self.slope = nn.Parameter(torch.empty((), **factory))
            self.offset = nn.Parameter(torch.empty((), **factory))
            if running:
                self.register_buffer(
                    "running_entropy", torch.empty(steps + 1, device=device, dtype=torch.float32)
                )
        self.estimator: nn.Sequential | None = (
            nn.Sequential(nn.Linear(3, 8, **factory), nn.Tanh(), nn.Linear(8, 1, **factory))
            if estimator == "mlp"
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.mode == "fixed":
            nn.init.zeros_(self.theta)
            return
        nn.init.ones_(self.slope)
        nn.init.constant_(self.offset, _UNIT_GAUSSIAN_ENTROPY)
        if self.running:
            self.running_entropy.fill_(_UNIT_GAUSSIAN_ENTROPY)
        if self.estimator is not None:
            for m in self.estimator:
                if isinstance(m, nn.Linear):
                    m.reset_parameters()
            # Start the MLP at the Gaussian estimate's scale: output ~ unit-Gaussian entropy.
            nn.init.constant_(cast(nn.Linear, self.estimator[2]).bias, _UNIT_GAUSSIAN_ENTROPY)

    def estimate(self, y: Tensor) -> Tensor:
        r"""Entropy estimate :math:`\hat S(y)` per sample: ``(..., d) -> (..., 1)``, float32 or wider."""
        if self.estimator is None:
            return gaussian_entropy(y, self.eps)
        return self.estimator(moment_features(y, dtype=self.offset.dtype))

    def _target(self, s_hat: Tensor) -> Tensor:
        return target_temperature(s_hat, self.slope, self.offset, self.t_min, self.t_max)

    def _running_target(self, y: Tensor, k: int) -> tuple[Tensor, Tensor | None]:
        target = self._target(self.running_entropy[k])
        s_hat = None
        if self.training and y.numel() > 0:  # like BatchNorm, an empty batch teaches nothing
            with torch.no_grad():
                s_hat = self.estimate(y)
                self._update_running(k, s_hat)
        return target, s_hat

    def _update_running(self, k: int, s_hat: Tensor) -> None:
        """Move ``running_entropy[k]`` towards the mean of the batch's *finite* estimates; a
        batch with none leaves it unchanged (no host sync: works under ``torch.compile``)."""
        finite = torch.isfinite(s_hat)
        count = finite.sum()
        mean = (torch.where(finite, s_hat, 0.0).sum() / count.clamp(min=1)).float()
        old = self.running_entropy[k]
        self.running_entropy[k] = torch.where(count > 0, old.lerp(mean, self.momentum), old)

    def fixed_value(self) -> Tensor:
        """The learnable constant temperature (``mode="fixed"``), a 0-d tensor in the box."""
        return self.t_min + (self.t_max - self.t_min) * torch.sigmoid(self.theta)

    def initial(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """:math:`T_0` and :math:`\\hat S_0` (``None`` when not computed) for the first iterate."""
        if self.mode == "fixed":
            return self.fixed_value(), None
        if self.running:
            return self._running_target(y, 0)
        s_hat = self.estimate(y)
        return self._target(s_hat), s_hat

    def next(self, t: Tensor, y: Tensor, k: int) -> tuple[Tensor, Tensor | None]:
        """:math:`T_k` from :math:`T_{k-1}` and the iterate :math:`y_k`."""
        if self.mode == "fixed":
            return t, None
        if self.running:
            target, s_hat = self._running_target(y, k)
            return ema(t, target, self.beta), s_hat
        s_hat = self.estimate(y)
        return ema(t, self._target(s_hat), self.beta), s_hat

    def extra_repr(self) -> str:
        return (
            f"mode={self.mode!r}, estimator={self.estimator_name!r}, t_min={self.t_min}, "
            f"t_max={self.t_max}, beta={self.beta}, running={self.running}"
        )
