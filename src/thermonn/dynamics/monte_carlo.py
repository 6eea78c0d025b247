"""The base of every Monte-Carlo stepper on discrete states: energy, temperature, clock.

One step is one sweep (dt = 1, so schedules count sweeps); ``kT`` is a positive number or a
schedule t ↦ kT, validated here once (a schedule where it is evaluated); the recorded value is
the configuration itself. Subclasses name the energy type they move, prepare what they need
from it once (a colouring, the bonds) and check a starting configuration.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import torch
from torch import Tensor

from thermonn._validation import check_float
from thermonn.dynamics.energy import Energy
from thermonn.dynamics.langevin import temperature_at

__all__ = ["MonteCarloStepper", "check_beta"]

E = TypeVar("E", bound=Energy)
Schedule = Callable[[float], float]


def check_beta(beta: float | Tensor, chains: int) -> None:
    """An inverse temperature for ``advance``: a number, or one per chain ``(chains, 1)``.

    Raises:
        ValueError: a tensor of another shape.
    """
    if isinstance(beta, Tensor) and tuple(beta.shape) != (chains, 1):
        raise ValueError(
            f"beta: expected a number or a tensor of shape ({chains}, 1), got {tuple(beta.shape)}"
        )


@dataclass(frozen=True, eq=False)
class MonteCarloStepper(abc.ABC, Generic[E]):
    """``energy`` (an instance of the subclass's ``energy_type``) at ``kT``."""

    energy: E
    kT: float | Schedule
    energy_type: ClassVar[type] = Energy

    def __post_init__(self) -> None:
        if not isinstance(self.energy, self.energy_type):
            raise TypeError(
                f"energy: expected a {self.energy_type.__name__}, got {type(self.energy).__name__}"
            )
        if not callable(self.kT):
            check_float("kT", self.kT, above=0.0)
        self._prepare()

    def _prepare(self) -> None:
        """Derive what every step needs from the energy, once (a snapshot of it)."""

    def _remember(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    @property
    def dt(self) -> float:
        return 1.0

    def beta(self, t: float) -> float:
        """1 / kT at sweep ``t``."""
        return 1.0 / temperature_at(self.kT, t, positive=True)

    @abc.abstractmethod
    def check_state(self, x0: Tensor) -> None:
        """Raise ``ValueError`` for a configuration the stepper cannot move."""

    def init(self, x0: Tensor) -> Tensor:
        self.check_state(x0)
        return x0

    def value(self, state: Tensor) -> Tensor:
        return state

    def step(self, state: Tensor, t: float, generator: torch.Generator | None) -> Tensor:
        """One sweep from sweep ``t`` at the schedule's β(t), every random number from
        ``generator``."""
        return self.advance(state, self.beta(t), generator)

    @abc.abstractmethod
    def advance(
        self, state: Tensor, beta: float | Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """One sweep at inverse temperature ``beta``: a number, or one per chain ``(chains, 1)``
        (checked with :func:`check_beta`), returning a new state."""
