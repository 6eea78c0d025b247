"""The one driver of every dynamics: a stateless stepper, a clock, strided recording.

A stepper is any object with

* ``dt`` — the time one step advances (1 for a Monte-Carlo sweep),
* ``init(x0) -> state`` — the stepper's state at the start (the configuration plus whatever
  workspace the update needs),
* ``step(state, t, generator) -> state`` — one update from time ``t`` to ``t + dt``, drawing
  every random number from ``generator``; it returns a new configuration tensor (the driver
  records by reference, so a stepper must not overwrite a configuration it returned before),
* ``value(state) -> Tensor`` — the configuration to record,

and, for steppers that move between arbitrary times (the exact Ornstein–Uhlenbeck transition),
``step_to(state, t, t_next, generator) -> state``, which ``integrate(..., times=grid)`` calls.

Nothing about a trajectory is stored on the stepper (diffrax / thrml style), so one stepper runs
any number of trajectories, in any thread. :func:`integrate` owns the loop; Euler–Maruyama
(:class:`~thermonn.dynamics.EulerMaruyama`) is one stepper, the exact Ornstein–Uhlenbeck
transition and Gibbs / Metropolis sweeps on discrete states are others.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from thermonn._validation import check_float, check_int

__all__ = ["Stepper", "Trajectory", "check_grid", "integrate"]


class Stepper(Protocol):
    """What :func:`integrate` drives (see the module docstring)."""

    @property
    def dt(self) -> float: ...

    def init(self, x0: Tensor) -> Any: ...

    def step(self, state: Any, t: float, generator: torch.Generator | None) -> Any: ...

    def value(self, state: Any) -> Tensor: ...


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded configurations: ``states`` ``(n_saved, *x0.shape)`` at ``times`` ``(n_saved,)``
    (float64). The first entry is x(t₀) and the last is always the final state."""

    times: Tensor
    states: Tensor

    @property
    def final(self) -> Tensor:
        """The configuration at the last time."""
        return self.states[-1]


def integrate(
    stepper: Stepper,
    x0: Tensor,
    *,
    steps: int | None = None,
    save_every: int | None = None,
    t0: float = 0.0,
    times: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Trajectory:
    """Run ``steps`` updates of ``stepper`` from ``x0`` at time ``t0``, or move it along a
    time grid.

    Args:
        times: instead of ``steps``/``t0``/``save_every``, a strictly increasing grid
            ``(n,)``: the stepper's ``step_to`` carries x(times[k]) to x(times[k + 1]) and
            every grid point is recorded.
        save_every: record every that many steps (1 keeps the whole path, memory
            ``steps × x0.numel()``); ``None`` records only x(t₀) and the final state. The
            final state is recorded whether or not ``steps`` is a multiple of the stride.
        generator: the source of every random number. ``None`` draws from torch's default
            generator, exactly as ``torch.randn`` does (seed it with ``torch.manual_seed`` to
            reproduce a run); the library never seeds or resets that generator itself.

    Raises:
        ValueError: negative ``steps``, ``save_every`` < 1, or non-finite ``x0``.
    """
    if x0.is_floating_point() and not torch.isfinite(x0).all():
        raise ValueError("x0: expected finite values, got NaN or inf")
    if times is not None:
        if t0 != 0.0:
            raise ValueError(
                "t0: expected the default with a times grid (the grid starts the clock)"
            )
        return _along(stepper, x0, times, steps, save_every, generator)
    if steps is None:
        raise TypeError("integrate: expected steps= (or a times= grid), got neither")
    check_int("steps", steps, minimum=0)
    stride = steps if save_every is None else check_int("save_every", save_every, minimum=1)
    check_float("t0", t0)
    dt = stepper.dt
    state = stepper.init(x0)
    saved, clock = [stepper.value(state)], [t0]
    for k in range(steps):
        state = stepper.step(state, t0 + k * dt, generator)
        if (k + 1) % stride == 0 or k + 1 == steps:
            saved.append(stepper.value(state))
            clock.append(t0 + (k + 1) * dt)
    return Trajectory(torch.tensor(clock, dtype=torch.float64), torch.stack(saved))


def check_grid(name: str, times: object) -> Tensor:
    """A time grid: a finite, strictly increasing 1-D tensor, returned as float64 on the CPU.

    Raises:
        TypeError: not a tensor.
        ValueError: not 1-D, empty, non-finite or not strictly increasing, naming ``name``.
    """
    if not isinstance(times, Tensor):
        raise TypeError(f"{name}: expected a 1-D torch.Tensor of times, got {type(times).__name__}")
    if times.dim() != 1 or len(times) == 0 or not bool(torch.isfinite(times).all()):
        raise ValueError(f"{name}: expected finite times of shape (n,), got {tuple(times.shape)}")
    grid = times.detach().double().cpu()
    if len(grid) > 1 and not bool((grid[1:] > grid[:-1]).all()):
        raise ValueError(f"{name}: expected strictly increasing times, got a non-increasing grid")
    return grid


def _along(
    stepper: Stepper,
    x0: Tensor,
    times: Tensor,
    steps: int | None,
    save_every: int | None,
    generator: torch.Generator | None,
) -> Trajectory:
    """integrate(times=grid): one ``step_to`` per grid interval, every point recorded."""
    if steps is not None or save_every is not None:
        raise ValueError("times: expected steps and save_every unset with a time grid")
    step_to = getattr(stepper, "step_to", None)
    if step_to is None:
        raise TypeError(
            f"stepper: expected a stepper with step_to(state, t, t_next, generator) for a time "
            f"grid, got {type(stepper).__name__}"
        )
    grid = check_grid("times", times)
    points = grid.tolist()
    state = stepper.init(x0)
    saved = [stepper.value(state)]
    for t, t_next in itertools.pairwise(points):
        state = step_to(state, t, t_next, generator)
        saved.append(stepper.value(state))
    return Trajectory(grid, torch.stack(saved))
