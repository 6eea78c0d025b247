"""The thermodynamic computer (Whitelam 2025): a Langevin machine of real-valued spins.

Input spins u (clamped to the data) act on the mobile hidden and output spins x through fixed
fields h = u W; the mobile spins follow overdamped Langevin dynamics in

    V(x) = Σ_i (J₂ x_i² + J₄ x_i⁴) + Σ_i (b_i + h_i) x_i + ½ xᵀ J x

from x(0) = 0, and the prediction is read from the output spins at t_f. :class:`QuarticEnergy`
is this potential on the engine's energy protocol (the one place its formulas live); the
dynamics are the engine's (:mod:`thermonn.dynamics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.dynamics import (
    AffineSplit,
    Energy,
    EulerMaruyama,
    Langevin,
    Trajectory,
    integrate,
    run_chunked,
)

__all__ = [
    "BLOCKS",
    "MachineConfig",
    "QuarticEnergy",
    "ThermoComputer",
    "idealised_trajectory",
    "onsite_gradient",
]

BLOCKS = ("in-hidden", "in-out", "hidden-hidden", "hidden-out", "out-out")


def _cube(x: Tensor) -> Tensor:
    return x.pow(3)


def onsite_gradient(x: Tensor, j2: float, j4: float) -> Tensor:
    """∂/∂x of the on-site terms J₂x² + J₄x⁴: 2J₂x + 4J₄x³."""
    return 2 * j2 * x + 4 * j4 * x.pow(3)


@dataclass(frozen=True, eq=False)
class QuarticEnergy(Energy):
    """V(x) = Σ_i (J₂ x_i² + J₄ x_i⁴) + Σ_i b_i x_i + ½ xᵀ J x with fields ``field`` b
    (broadcastable to x) and a symmetric, zero-diagonal ``coupling`` J (``None``: no bonds), so
    ½ xᵀJx = Σ_(i<j) J_ij x_i x_j counts each bond once. V is linear in (b, J), which makes the
    Onsager–Machlup training objective a convex quadratic.

    The force −∇V = −(2J₂x + 4J₄x³ + b + Jx) has the affine split x(−J − 2J₂I) − b − 4J₄x³,
    formed once at construction (the energy is a snapshot of ``field`` and ``coupling``); a
    machine without bonds offers none (its force is element-wise, cheaper than a matmul).
    """

    j2: float
    j4: float
    field: Tensor
    coupling: Tensor | None = None

    def __post_init__(self) -> None:
        split = None
        if self.coupling is not None:
            c = self.coupling
            eye = torch.eye(c.shape[-1], dtype=c.dtype, device=c.device)
            split = AffineSplit(-(c + 2 * self.j2 * eye), -self.field, _cube, -4 * self.j4)
        object.__setattr__(self, "_split", split)

    def energy(self, x: Tensor) -> Tensor:
        onsite = (self.j2 * x.square() + self.j4 * x.square().square()).sum(-1)
        v = onsite + (x * self.field).sum(-1)
        return v if self.coupling is None else v + 0.5 * (x * (x @ self.coupling)).sum(-1)

    def force(self, x: Tensor) -> Tensor:
        split: AffineSplit | None = self._split  # type: ignore[attr-defined]
        if split is not None:
            return split(x)
        return (-self.field) - 2 * self.j2 * x - 4 * self.j4 * x.pow(3)

    def affine(self) -> AffineSplit | None:
        return self._split  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MachineConfig:
    """Sizes, physics and clock of the machine; the defaults are the paper's MNIST preset
    (784 inputs, 64 hidden, 10 outputs, J₂ = J₄ = kT = μ = 1, Δt = 1e-3, t_f = 0.2).
    ``n_in = 0`` is a machine without clamped inputs (the generative mode)."""

    n_in: int = 784
    n_hidden: int = 64
    n_out: int = 10
    j2: float = 1.0
    j4: float = 1.0
    kT: float = 1.0
    mobility: float = 1.0
    dt: float = 1e-3
    t_final: float = 0.2
    blocks: tuple[str, ...] = field(default=BLOCKS)

    def __post_init__(self) -> None:
        for name in ("n_in", "n_hidden", "n_out"):
            check_int(name, getattr(self, name), minimum=1 if name == "n_out" else 0)
        check_float("j2", self.j2, at_least=0.0)
        check_float("j4", self.j4, above=0.0)
        check_float("kT", self.kT, above=0.0)
        check_float("mobility", self.mobility, above=0.0)
        check_float("dt", self.dt, above=0.0)
        check_float("t_final", self.t_final, above=0.0)
        unknown = set(self.blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"blocks: expected names from {list(BLOCKS)}, got {sorted(unknown)}")

    @property
    def n_mobile(self) -> int:
        return self.n_hidden + self.n_out

    @property
    def steps(self) -> int:
        """Integration steps to the readout time, round(t_f / Δt)."""
        return max(1, round(self.t_final / self.dt))

    def langevin(self, kT: float | None = None) -> Langevin:
        """The machine's bath and clock, at its own temperature or at ``kT``."""
        return Langevin(self.dt, self.mobility, self.kT if kT is None else kT)


class ThermoComputer(nn.Module):
    """Parameters: input fields ``weight`` (n_in × n_mobile), ``bias`` (n_mobile) and the
    symmetric mobile–mobile couplings, stored once per bond (strict upper triangle). Blocks not
    in ``config.blocks`` are held at zero by fixed masks. :meth:`reset_parameters` sets every
    parameter to zero, as in the paper (θ₀ = 0).

    Example::

        machine = ThermoComputer(MachineConfig(n_in=64))
        scores = machine(u, trajectories=10, generator=torch.Generator().manual_seed(0))
    """

    in_mask: Tensor
    bond_mask: Tensor

    def __init__(
        self,
        config: MachineConfig | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.config = c = config or MachineConfig()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(c.n_in, c.n_mobile, **factory))
        self.bias = nn.Parameter(torch.empty(c.n_mobile, **factory))
        self.bonds = nn.Parameter(torch.empty(c.n_mobile, c.n_mobile, **factory))
        hidden = torch.arange(c.n_mobile) < c.n_hidden
        in_mask = torch.zeros(c.n_in, c.n_mobile, **factory)
        in_mask[:, hidden] = float("in-hidden" in c.blocks)
        in_mask[:, ~hidden] = float("in-out" in c.blocks)
        kind = {(True, True): "hidden-hidden", (True, False): "hidden-out",
                (False, True): "hidden-out", (False, False): "out-out"}  # fmt: skip
        bond_mask = torch.tensor(
            [[float(kind[(bool(a), bool(b))] in c.blocks) for b in hidden] for a in hidden],
            **factory,
        ).triu(1)
        self.register_buffer("in_mask", in_mask)
        self.register_buffer("bond_mask", bond_mask)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter to zero (the paper's θ₀ = 0)."""
        with torch.no_grad():
            for p in (self.weight, self.bias, self.bonds):
                p.zero_()

    @property
    def device(self) -> torch.device:
        return self.bias.device

    @property
    def dtype(self) -> torch.dtype:
        return self.bias.dtype

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"n_in={c.n_in}, n_hidden={c.n_hidden}, n_out={c.n_out}, j2={c.j2}, j4={c.j4}, "
            f"kT={c.kT}, dt={c.dt}, t_final={c.t_final}, blocks={list(c.blocks)}"
        )

    def coupling(self) -> Tensor:
        """The symmetric, zero-diagonal mobile–mobile coupling matrix J."""
        upper = (self.bonds * self.bond_mask).triu(1)
        return upper + upper.T

    def fields(self, u: Tensor) -> Tensor:
        """Input fields h = u W on the mobile spins (the clamped inputs' only effect)."""
        c = self.config
        if u.dim() != 2 or u.shape[1] != c.n_in:
            raise ValueError(f"inputs: expected shape (batch, {c.n_in}), got {tuple(u.shape)}")
        return u @ (self.weight * self.in_mask)

    def energy(self, h: Tensor) -> QuarticEnergy:
        """The potential of the mobile spins under input fields ``h`` (:meth:`fields`)."""
        c = self.config
        return QuarticEnergy(c.j2, c.j4, self.bias + h, self.coupling())

    def run(
        self,
        u: Tensor,
        *,
        trajectories: int = 1,
        kT: float | None = None,
        t_final: float | None = None,
        save_every: int | None = None,
        generator: torch.Generator | None = None,
        chunk_size: int = 2500,
        initial: Tensor | None = None,
    ) -> Trajectory:
        """Run the machine on inputs ``u`` ``(batch, n_in)``; states of shape ``(n_saved,
        trajectories, batch, n_mobile)``, recorded every ``save_every`` steps (``None``: the
        start and t_f only). ``kT`` overrides the config's temperature (inference temperature);
        ``initial`` ``(batch, n_mobile)`` replaces the start x(0) = 0; ``t_final`` the readout
        time. Chunks of ``chunk_size`` inputs run concurrently
        (:func:`~thermonn.dynamics.run_chunked`): the result depends on ``generator`` and
        ``chunk_size``, not on the thread count.

        Raises:
            ValueError: wrong shapes, non-finite inputs, or bad settings.
        """
        if not torch.isfinite(u).all():
            raise ValueError("inputs: expected finite values, got NaN or inf")
        c = self.config
        check_int("trajectories", trajectories, minimum=1)
        steps = (c if t_final is None else replace(c, t_final=t_final)).steps  # validated there
        langevin = c.langevin(kT)
        h = self.fields(u)
        if initial is None:
            initial = torch.zeros_like(h)
        elif initial.shape != h.shape or not torch.isfinite(initial).all():
            raise ValueError(
                f"initial: expected finite values of shape {tuple(h.shape)}, got {tuple(initial.shape)}"
            )

        def simulate(piece: Sequence[Tensor], generator: torch.Generator) -> Trajectory:
            fields, start = piece
            n = len(fields)
            stepper = EulerMaruyama(self.energy(fields.repeat(trajectories, 1)), langevin)
            # (trajectories · chunk, n): one 2-D matmul per step
            out = integrate(
                stepper, start.repeat(trajectories, 1), steps=steps, save_every=save_every,
                generator=generator,
            )  # fmt: skip
            return Trajectory(out.times, out.states.unflatten(-2, (trajectories, n)))

        return run_chunked(simulate, (h, initial), chunk_size=chunk_size, generator=generator)

    def forward(
        self, u: Tensor, *, trajectories: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """Output spins at t_f averaged over ``trajectories`` runs, shape ``(batch, n_out)``:
        the class scores (prediction = argmax)."""
        x = self.run(u, trajectories=trajectories, generator=generator).final
        return x[..., self.config.n_hidden :].mean(0)


def idealised_trajectory(
    targets: Tensor, config: MachineConfig, *, kappa: float | None = 100.0
) -> Tensor:
    """The teacher's idealised path: the non-interacting, zero-temperature machine from 0 with
    guide biases b⁰ = −κ s (so the force is κ s − 2J₂x − 4J₄x³ and x(t_f) is a monotone function
    of the target s), or with ``kappa=None`` the "exact" guide b⁰ = −(2J₂ s + 4J₄ s³) whose
    fixed point is s itself. ``targets``: (batch, n_mobile) — tanh activations for hidden units,
    2p − 1 for outputs. Returns the path ``(steps + 1, batch, n_mobile)``."""
    if targets.dim() != 2 or targets.shape[1] != config.n_mobile:
        raise ValueError(
            f"targets: expected shape (batch, {config.n_mobile}), got {tuple(targets.shape)}"
        )
    if kappa is None:
        guide = onsite_gradient(targets, config.j2, config.j4)
    else:
        guide = check_float("kappa", kappa, above=0.0) * targets
    stepper = EulerMaruyama(QuarticEnergy(config.j2, config.j4, -guide), config.langevin(0.0))
    return integrate(stepper, torch.zeros_like(targets), steps=config.steps, save_every=1).states
