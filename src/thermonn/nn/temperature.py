r"""TEL's temperature rules: entropy-driven adaptive temperature, or a learnable constant.

:class:`AdaptiveTemperature` (two time scales):

.. math::

    T_0 = \tau(\hat S(y_0)), \qquad T_{k+1} = (1-\beta)\,T_k + \beta\,\tau(\hat S(y_{k+1})),

with the target map :math:`\tau` of :func:`~thermonn.functional.target_temperature` (learnable slope
:math:`w_T` and offset :math:`s_0`) and an entropy estimator :math:`\hat S`: ``"gaussian"``
(:func:`~thermonn.functional.gaussian_entropy`) or ``"mlp"``, a tiny MLP on the per-sample moments
``(mean, var, mean |y|)``.  Every :math:`T_k` lies in :math:`[T_{\min}, T_{\max}]` by construction.

``running=True`` makes the rule input-independent within a forward pass, like BatchNorm in eval:
:math:`\hat S_k` is replaced by a running average over training batches (updated after use, without
gradient: a forward reads the copy :meth:`~AdaptiveTemperature.memo` took before its updates, and
:meth:`~AdaptiveTemperature.observe` moves the buffer).  TEL uses this in non-expansive mode, where an input-dependent temperature would add
:math:`\eta\sup\lVert\varphi\rVert\operatorname{Lip}(\tau\circ\hat S)` to the Lipschitz bound.
The buffer holds K + 1 entries; the last one only feeds the diagnostic :math:`T_K` and so only
moves on forwards that record diagnostics.  An empty batch leaves the buffer unchanged, and only
finite estimates enter it: a NaN sample cannot poison later batches.

:class:`FixedTemperature`: :math:`T = T_{\min} + (T_{\max}-T_{\min})\,\sigma(\theta)`, one learnable
scalar.

Both implement :class:`~thermonn.functional.TemperatureUpdate`, the interface of the descent core;
TEL turns its ``temperature=`` name (:data:`TEMPERATURE_MODES`) into one of them, once, at construction.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from thermonn._validation import check_float
from thermonn.functional.temperature import (
    check_rate,
    check_temperature_range,
    ema,
    gaussian_entropy,
    moment_features,
    target_temperature,
)

__all__ = [
    "ESTIMATORS",
    "TEMPERATURE_MODES",
    "AdaptiveTemperature",
    "FixedTemperature",
    "TemperatureRule",
    "check_estimator",
]

TEMPERATURE_MODES = ("adaptive", "fixed")
ESTIMATORS = ("gaussian", "mlp")
# Entropy of a unit-variance Gaussian: the initial offset s_0 and running estimate.
_UNIT_GAUSSIAN_ENTROPY = 0.5 * math.log(2.0 * math.pi * math.e)


def check_estimator(estimator: str, *, untrainable: str | None) -> None:
    """``estimator`` must be a known name, and ``"gaussian"`` where the MLP could not be trained
    (``untrainable`` names that setting)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "mlp" and untrainable is not None:
        # The MLP would only ever run without gradient (diagnostics, running statistics): its
        # parameters could never be trained.
        raise ValueError(
            f"estimator: expected 'gaussian' with {untrainable}, where the MLP estimator would "
            f"receive no gradient, got 'mlp'"
        )


class TemperatureRule(nn.Module, abc.ABC):
    r"""Base of TEL's temperature rules: the box :math:`[T_{\min}, T_{\max}]` and the entropy
    estimate :math:`\hat S` reported by the diagnostics (Gaussian unless a subclass learns one).

    Subclasses give :meth:`initial` (:math:`T_0`) and :meth:`next` (:math:`T_k` from
    :math:`T_{k-1}`); see the module docstring for the equations.

    Args:
        t_min, t_max: the hard box; ``0 < t_min <= t_max``.
        eps: variance floor of the Gaussian estimate.
    """

    mode: ClassVar[str]
    """The ``temperature=`` name of the rule."""

    samples_independent: ClassVar[bool] = False
    """True when each sample's temperatures depend on that sample alone (both built-in rules):
    then TEL's step-wise backward may replay the samples in chunks.  Read off the class itself,
    not inherited: a subclass declares it again if it keeps samples independent."""

    def __init__(self, *, t_min: float, t_max: float, eps: float = 1e-5) -> None:
        super().__init__()
        self.t_min, self.t_max = check_temperature_range(t_min, t_max)
        self.eps = check_float("eps", eps, above=0.0)

    @abc.abstractmethod
    def reset_parameters(self) -> None: ...

    def estimate(self, y: Tensor) -> Tensor:
        r"""Entropy estimate :math:`\hat S(y)` per sample: ``(..., d) -> (..., 1)``, float32 or wider."""
        return gaussian_entropy(y, self.eps)

    def memo(self) -> Tensor | None:
        """What the rule reads besides the iterates and its parameters, captured once per forward
        (``None`` here; the running statistics of :class:`AdaptiveTemperature`)."""
        return None

    @abc.abstractmethod
    def initial(self, y: Tensor, memo: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """:math:`T_0` and :math:`\\hat S_0` (``None`` when not computed) for the first iterate;
        a pure function of ``y``, ``memo`` and the parameters."""

    @abc.abstractmethod
    def next(
        self, t: Tensor, y: Tensor, k: int, memo: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        """:math:`T_k` from :math:`T_{k-1}` and the iterate :math:`y_k`, and :math:`\\hat S_k`;
        a pure function of its arguments and the parameters."""

    def observe(self, y: Tensor, k: int, s_hat: Tensor | None) -> None:
        """Side effects of seeing iterate :math:`y_k` in a forward pass (none here)."""

    def fused_form(self, memo: Tensor | None) -> tuple[str, list[Tensor]] | None:
        """The closed form the fused TEL kernels know this rule by, ``(name, tensors)``:
        ``("fixed", [T])``, ``("gaussian", [w_T, s_0])`` or ``("running", [tau(memo)])``; or
        ``None`` (the step-wise adjoint then runs instead)."""
        return None


class FixedTemperature(TemperatureRule):
    r"""A learnable constant temperature :math:`T = T_{\min} + (T_{\max}-T_{\min})\,\sigma(\theta)`.

    Args:
        t_min, t_max: the hard box; ``0 < t_min <= t_max``.
        eps: variance floor of the Gaussian estimate reported by the diagnostics.
    """

    mode: ClassVar[str] = "fixed"
    samples_independent: ClassVar[bool] = True

    def __init__(
        self,
        *,
        t_min: float,
        t_max: float,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(t_min=t_min, t_max=t_max, eps=eps)
        self.theta = nn.Parameter(torch.empty((), device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.theta)

    def value(self) -> Tensor:
        """The temperature, a 0-d tensor in the box."""
        return self.t_min + (self.t_max - self.t_min) * torch.sigmoid(self.theta)

    def initial(self, y: Tensor, memo: Tensor | None) -> tuple[Tensor, Tensor | None]:
        return self.value(), None

    def next(
        self, t: Tensor, y: Tensor, k: int, memo: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        return t, None

    def fused_form(self, memo: Tensor | None) -> tuple[str, list[Tensor]] | None:
        return ("fixed", [self.value()]) if type(self) is FixedTemperature else None

    def extra_repr(self) -> str:
        return f"t_min={self.t_min}, t_max={self.t_max}"


class AdaptiveTemperature(TemperatureRule):
    """The entropy-driven temperature of TEL (see the module docstring for the equations).

    Args:
        t_min, t_max: the hard box; ``0 < t_min <= t_max``.
        beta: EMA rate in ``(0, 1]``.
        estimator: ``"gaussian"`` or ``"mlp"`` (the MLP only without running statistics, the one
            setting where it receives gradients).
        steps: number of descent steps K (sizes the running buffers).
        running: use running entropy statistics instead of the live iterate (see above).
        momentum: update rate of the running statistics.
        eps: variance floor of the Gaussian estimate.
    """

    mode: ClassVar[str] = "adaptive"
    samples_independent: ClassVar[bool] = True
    running_entropy: Tensor

    def __init__(
        self,
        *,
        t_min: float,
        t_max: float,
        beta: float,
        estimator: str = "gaussian",
        steps: int,
        running: bool = False,
        momentum: float = 0.1,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(t_min=t_min, t_max=t_max, eps=eps)
        check_estimator(
            estimator, untrainable="running statistics (nonexpansive=True)" if running else None
        )
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum: expected a value in (0, 1], got {momentum!r}")
        self.beta, self.estimator_name = check_rate("beta", beta), estimator
        self.running, self.momentum = bool(running), float(momentum)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
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
            return super().estimate(y)
        return self.estimator(moment_features(y, dtype=self.offset.dtype))

    def fused_form(self, memo: Tensor | None) -> tuple[str, list[Tensor]] | None:
        if type(self) is not AdaptiveTemperature or self.estimator is not None:
            return None
        if memo is not None:
            return "running", [self._target(memo.to(self.offset.dtype))]
        return "gaussian", [self.slope, self.offset]

    def _target(self, s_hat: Tensor) -> Tensor:
        return target_temperature(s_hat, self.slope, self.offset, self.t_min, self.t_max)

    def memo(self) -> Tensor | None:
        """A copy of the running entropy estimates (``None`` without running statistics): the
        temperatures of a forward read the values from before its own updates."""
        return self.running_entropy.clone() if self.running else None

    def observe(self, y: Tensor, k: int, s_hat: Tensor | None) -> None:
        """With running statistics in training, move ``running_entropy[k]`` towards the batch's
        estimate of :math:`y_k` (without gradient; an empty batch teaches nothing)."""
        if not (self.running and self.training and y.numel() > 0):
            return
        with torch.no_grad():
            self._update_running(k, self.estimate(y) if s_hat is None else s_hat)

    def _update_running(self, k: int, s_hat: Tensor) -> None:
        """Move ``running_entropy[k]`` towards the mean of the batch's *finite* estimates; a
        batch with none leaves it unchanged (no host sync: works under ``torch.compile``)."""
        finite = torch.isfinite(s_hat)
        count = finite.sum()
        mean = (torch.where(finite, s_hat, 0.0).sum() / count.clamp(min=1)).float()
        old = self.running_entropy[k]
        self.running_entropy[k] = torch.where(count > 0, old.lerp(mean, self.momentum), old)

    def initial(self, y: Tensor, memo: Tensor | None) -> tuple[Tensor, Tensor | None]:
        if memo is not None:
            return self._target(memo[0]), None
        s_hat = self.estimate(y)
        return self._target(s_hat), s_hat

    def next(
        self, t: Tensor, y: Tensor, k: int, memo: Tensor | None
    ) -> tuple[Tensor, Tensor | None]:
        if memo is not None:
            return ema(t, self._target(memo[k]), self.beta), None
        s_hat = self.estimate(y)
        return ema(t, self._target(s_hat), self.beta), s_hat

    def extra_repr(self) -> str:
        return (
            f"estimator={self.estimator_name!r}, t_min={self.t_min}, t_max={self.t_max}, "
            f"beta={self.beta}, running={self.running}"
        )
