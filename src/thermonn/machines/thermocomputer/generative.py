"""Generative thermodynamic computing (Whitelam, arXiv 2506.15121) on the same machine and engine.

Noising: data x(0) relax under the non-interacting potential V₀ = Σ (J₂x² + J₄x⁴) at temperature
kT until they are equilibrium noise at t_f. Training: the machine's potential V_θ = V₀ + Σ b x +
½ xᵀJx is fitted so that its own dynamics make the *time-reversed* noising paths as likely as
possible — maximum likelihood of ω̃ = (x(t_f), …, x(0)) is minimum Onsager–Machlup action, a convex
quadratic in (b, J) solved exactly by :func:`~thermonn.machines.thermocomputer.fit.fit_paths`. Generation: start
from equilibrium noise of V₀ and run the machine for t_f; the heat per sample is
Q = V_θ(x(0)) − V_θ(x(t_f)).

This implementation has visible units only (the paper adds 512 hidden units); the potential is
time-independent, as in the paper. Reversed relaxation is amplification: the fitted drift pushes
noise out along the data's directions, and because b + Jx is nearly odd in x, contrast-inverted
samples (−pattern) come out as well as the patterns themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from thermonn._validation import check_int
from thermonn.dynamics import EulerMaruyama, integrate
from thermonn.machines.thermocomputer.energetics import heat_released
from thermonn.machines.thermocomputer.fit import FitReport, fit_paths
from thermonn.machines.thermocomputer.machine import MachineConfig, QuarticEnergy, ThermoComputer

__all__ = [
    "MAX_VISIBLE",
    "GenerativeSamples",
    "generative_machine",
    "noising_paths",
    "sample",
    "train_generative",
]


MAX_VISIBLE = 128  # the exact fit solves for n(n−1)/2 bonds at once


def generative_machine(
    n_visible: int,
    *,
    j2: float = 10.0,
    j4: float = 10.0,
    kT: float = 1.0,
    dt: float = 1e-3,
    t_final: float = 0.25,
) -> ThermoComputer:
    """A machine of ``n_visible`` mobile units, no clamped inputs, all-to-all symmetric bonds,
    the paper's J₂ = J₄ = 10 kT. t_f defaults to 0.25 (five relaxation times 1/(2μJ₂) of V₀)
    rather than the paper's 2.5: with a time-independent potential, a longer noising path is
    mostly equilibrium noise and the fit learns less (measured in docs/thermocomputer.md)."""
    config = MachineConfig(
        n_in=0,
        n_hidden=0,
        n_out=check_int("n_visible", n_visible, minimum=1),
        j2=j2,
        j4=j4,
        kT=kT,
        dt=dt,
        t_final=t_final,
        blocks=("out-out",),
    )
    return ThermoComputer(config)


def noising_paths(
    machine: ThermoComputer, data: Tensor, *, generator: torch.Generator | None = None
) -> Tensor:
    """Paths ``(steps + 1, n, n_visible)`` of the data relaxing under V₀ (no bias, no bonds)."""
    c = machine.config
    if data.dim() != 2 or data.shape[1] != c.n_mobile:
        raise ValueError(f"data: expected shape (n, {c.n_mobile}), got {tuple(data.shape)}")
    free = QuarticEnergy(c.j2, c.j4, torch.zeros(c.n_mobile, dtype=data.dtype))
    stepper = EulerMaruyama(free, c.langevin())
    return integrate(stepper, data, steps=c.steps, save_every=1, generator=generator).states


def train_generative(machine: ThermoComputer, data: Tensor, *, seed: int = 0) -> FitReport:
    """Exact maximum-likelihood fit of (b, J) to the reversed noising paths of ``data``. Each
    chunk of rows gets noise seeded by (seed, first row, chunk length), so the paths are the same
    whenever the same rows are asked for."""
    n = machine.config.n_mobile
    if n > MAX_VISIBLE:
        raise ValueError(
            f"train_generative: expected at most {MAX_VISIBLE} visible units for the exact fit, got {n} (downsample the images)"
        )
    empty = data.new_zeros(len(data), 0)

    def reversed_paths(rows: Tensor) -> Tensor:
        g = torch.Generator().manual_seed(hash((seed, int(rows[0]), len(rows))) % 2**62)
        return noising_paths(machine, data[rows], generator=g).flip(0)

    return fit_paths(machine, empty, reversed_paths)


@dataclass
class GenerativeSamples:
    """Generated samples ``(n, n_visible)``, their starting noise and the heat per sample (kT)."""

    samples: Tensor
    noise: Tensor
    heat_kT: Tensor


def sample(
    machine: ThermoComputer, n: int, *, generator: torch.Generator | None = None
) -> GenerativeSamples:
    """Draw ``n`` samples: equilibrium noise of V₀ (the end of a noising run from 0), then the
    machine's dynamics for t_f."""
    c = machine.config
    check_int("n", n, minimum=1)
    with torch.no_grad():
        noise = noising_paths(machine, torch.zeros(n, c.n_mobile), generator=generator)[-1]
        empty = noise.new_zeros(n, 0)
        x = machine.run(empty, initial=noise, generator=generator).final[0]
        heat = (heat_released(machine, empty, x) - heat_released(machine, empty, noise)) / c.kT
    return GenerativeSamples(x, noise, heat)
