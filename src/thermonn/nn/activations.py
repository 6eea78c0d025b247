"""Thermal activation modules: a temperature that is fixed, learnable, or driven by a schedule.

Every module holds its temperature through :class:`ThermalActivation`: ``learnable=False`` keeps
kT in a buffer (set it with :meth:`~ThermalActivation.set_temperature`, or let a
:class:`thermonn.schedules.TemperatureScheduler` drive it, like ``torch.optim.lr_scheduler``
drives a learning rate); ``learnable=True`` learns log kT. Either way the temperature used is
clamped to ``[min_temperature, max_temperature]``; ``shape`` gives one temperature per channel
(e.g. ``(heads, 1, 1)``, broadcast against the input). :func:`temperature_penalty` is the
regulariser λ Σ_i |kT_i − kT_target| over every temperature of a model's thermal modules.
"""

from __future__ import annotations

import math
from typing import TypedDict

import torch
from torch import Tensor, nn
from typing_extensions import Unpack

from thermonn._validation import check_bool, check_float
from thermonn.functional import activations as A

__all__ = [
    "Boltzmann",
    "FermiDirac",
    "MaxwellBoltzmann",
    "TemperatureOptions",
    "ThermalActivation",
    "ThermalReLU",
    "temperature_penalty",
]


class ThermalActivation(nn.Module):
    """Base of the thermal activations: the temperature and its clamp."""

    def __init__(
        self,
        temperature: float = 1.0,
        *,
        learnable: bool = False,
        min_temperature: float = 1e-3,
        max_temperature: float = 1e3,
        shape: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        if not isinstance(shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape
        ):
            raise ValueError(f"shape: expected a tuple of positive ints, got {shape!r}")
        check_float("min_temperature", min_temperature, above=0.0)
        check_float("max_temperature", max_temperature, above=min_temperature)
        t = check_float("temperature", temperature, above=0.0)
        if not min_temperature <= t <= max_temperature:
            raise ValueError(
                f"temperature: expected a value in [{min_temperature}, {max_temperature}], got {t}"
            )
        self.min_temperature, self.max_temperature = min_temperature, max_temperature
        self.learnable = check_bool("learnable", learnable)
        log_t = torch.full(shape, math.log(t))
        if self.learnable:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    @property
    def temperature(self) -> Tensor:
        """kT in use: exp(log kT), clamped."""
        return self.log_temperature.exp().clamp(self.min_temperature, self.max_temperature)

    @torch.no_grad()
    def set_temperature(self, value: float) -> None:
        """Set kT (a schedule's step); refused outside the clamp."""
        v = check_float("temperature", value, above=0.0)
        if not self.min_temperature <= v <= self.max_temperature:
            raise ValueError(
                f"temperature: expected a value in [{self.min_temperature}, {self.max_temperature}], got {v}"
            )
        self.log_temperature.fill_(math.log(v))

    def extra_repr(self) -> str:
        t = self.temperature.detach()
        value = (
            f"{float(t):.4g}"
            if t.dim() == 0
            else f"shape {tuple(t.shape)}, mean {float(t.mean()):.4g}"
        )
        return f"temperature={value}, learnable={self.learnable}"


class TemperatureOptions(TypedDict, total=False):
    """The keyword arguments of :class:`ThermalActivation` that every subclass passes on."""

    temperature: float
    learnable: bool
    min_temperature: float
    max_temperature: float
    shape: tuple[int, ...]


class Boltzmann(ThermalActivation):
    """softmax(−x / kT) over ``dim``."""

    def __init__(self, dim: int = -1, **options: Unpack[TemperatureOptions]) -> None:
        super().__init__(**options)
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return A.boltzmann(x, self.temperature, self.dim)


class FermiDirac(ThermalActivation):
    """1 / (1 + e^{(x − μ)/kT}) with chemical potential μ (learnable with ``learnable_mu``)."""

    def __init__(
        self, mu: float = 0.0, *, learnable_mu: bool = True, **options: Unpack[TemperatureOptions]
    ) -> None:
        super().__init__(**options)
        m = torch.tensor(check_float("mu", mu))
        if check_bool("learnable_mu", learnable_mu):
            self.mu = nn.Parameter(m)
        else:
            self.register_buffer("mu", m)

    def forward(self, x: Tensor) -> Tensor:
        return A.fermi_dirac(x, self.mu, self.temperature)


class ThermalReLU(ThermalActivation):
    """max(x − kT, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.thermal_relu(x, self.temperature)


class MaxwellBoltzmann(ThermalActivation):
    """√(2/(π kT³)) x² e^{−x²/(2 kT)}."""

    def forward(self, x: Tensor) -> Tensor:
        return A.maxwell_boltzmann(x, self.temperature)


def temperature_penalty(model: nn.Module, target: float, weight: float = 1.0) -> Tensor:
    """λ Σ_i |kT_i − kT_target| over the :class:`ThermalActivation` modules of ``model``
    (differentiable in learnable temperatures)."""
    check_float("target", target, above=0.0)
    check_float("weight", weight, at_least=0.0)
    terms = [
        (m.temperature - target).abs().sum()
        for m in model.modules()
        if isinstance(m, ThermalActivation)
    ]
    if not terms:
        raise ValueError(
            f"model: expected at least one ThermalActivation, found none in {type(model).__name__}"
        )
    return weight * torch.stack(terms).sum()
