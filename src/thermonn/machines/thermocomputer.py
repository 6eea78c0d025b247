"""The thermodynamic computer (Whitelam 2025): a Langevin machine of real-valued spins.

Input spins u (clamped to the data) act on the mobile hidden and output spins x through fixed
fields h = u W; the mobile spins follow overdamped Langevin dynamics in

    V(x) = Σ_i (J₂ x_i² + J₄ x_i⁴) + Σ_i (b_i + h_i) x_i + ½ xᵀ J x

from x(0) = 0, and the prediction is read from the output spins at t_f. The dynamics are the
package's one Langevin engine (:mod:`thermonn.dynamics`); only the potential lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.dynamics import simulate_langevin

__all__ = ["BLOCKS", "MachineConfig", "ThermoComputer", "idealised_trajectory"]

BLOCKS = ("in-hidden", "in-out", "hidden-hidden", "hidden-out", "out-out")


@dataclass(frozen=True)
class MachineConfig:
    """Sizes, physics and clock of the machine; the defaults are the paper's MNIST preset
    (784 inputs, 64 hidden, 10 outputs, J₂ = J₄ = kT = μ = 1, Δt = 1e-3, t_f = 0.2)."""

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
            check_int(name, getattr(self, name), minimum=1 if name != "n_hidden" else 0)
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


class ThermoComputer(nn.Module):
    """Parameters: input fields ``weight`` (n_in × n_mobile), ``bias`` (n_mobile) and the
    symmetric mobile–mobile couplings, stored once per bond (strict upper triangle). Blocks not
    in ``config.blocks`` are held at zero by fixed masks. All parameters start at zero, as in
    the paper (θ₀ = 0)."""

    in_mask: Tensor
    bond_mask: Tensor

    def __init__(self, config: MachineConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MachineConfig()
        self.weight = nn.Parameter(torch.zeros(c.n_in, c.n_mobile))
        self.bias = nn.Parameter(torch.zeros(c.n_mobile))
        self.bonds = nn.Parameter(torch.zeros(c.n_mobile, c.n_mobile))
        hidden = torch.arange(c.n_mobile) < c.n_hidden
        in_mask = torch.zeros(c.n_in, c.n_mobile)
        in_mask[:, hidden] = float("in-hidden" in c.blocks)
        in_mask[:, ~hidden] = float("in-out" in c.blocks)
        kind = {(True, True): "hidden-hidden", (True, False): "hidden-out",
                (False, True): "hidden-out", (False, False): "out-out"}  # fmt: skip
        bond_mask = torch.tensor(
            [[float(kind[(bool(a), bool(b))] in c.blocks) for b in hidden] for a in hidden]
        ).triu(1)
        self.register_buffer("in_mask", in_mask)
        self.register_buffer("bond_mask", bond_mask)

    def coupling(self) -> Tensor:
        """The symmetric, zero-diagonal mobile–mobile coupling matrix J."""
        upper = (self.bonds * self.bond_mask).triu(1)
        return upper + upper.T

    def fields(self, u: Tensor) -> Tensor:
        """Input fields h = u W on the mobile spins (the clamped inputs' only effect)."""
        c = self.config
        if u.dim() != 2 or u.shape[1] != c.n_in:
            raise ValueError(f"inputs: expected shape (batch, {c.n_in}), got {tuple(u.shape)}")
        if not torch.isfinite(u).all():
            raise ValueError("inputs: expected finite values, got NaN or inf")
        return u @ (self.weight * self.in_mask)

    def force(self, x: Tensor, h: Tensor) -> Tensor:
        """−∂V/∂x on the mobile spins."""
        c = self.config
        return -(2 * c.j2 * x + 4 * c.j4 * x.pow(3) + self.bias + h + x @ self.coupling())

    def run(
        self,
        u: Tensor,
        *,
        trajectories: int = 1,
        kT: float | None = None,
        t_final: float | None = None,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Mobile spins at ``t_final`` (default the config's), shape ``(trajectories, batch,
        n_mobile)``, or the whole path ``(steps + 1, trajectories, batch, n_mobile)`` with
        ``record``. ``kT`` overrides the config's temperature (inference temperature)."""
        c = self.config
        check_int("trajectories", trajectories, minimum=1)
        steps = (c if t_final is None else replace(c, t_final=t_final)).steps  # validated there
        h = self.fields(u).expand(trajectories, -1, -1)
        x0 = torch.zeros_like(h)
        result = simulate_langevin(
            x0,
            lambda x: self.force(x, h),
            steps=steps,
            dt=c.dt,
            mobility=c.mobility,
            kT=c.kT if kT is None else kT,
            record=record,
            generator=generator,
        )
        return result.path if record and result.path is not None else result.final

    def forward(
        self, u: Tensor, *, trajectories: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        """Output spins at t_f averaged over ``trajectories`` runs, shape ``(batch, n_out)``:
        the class scores (prediction = argmax)."""
        x = self.run(u, trajectories=trajectories, generator=generator)
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
        guide = 2 * config.j2 * targets + 4 * config.j4 * targets.pow(3)
    else:
        guide = check_float("kappa", kappa, above=0.0) * targets
    path = simulate_langevin(
        torch.zeros_like(targets),
        lambda x: guide - 2 * config.j2 * x - 4 * config.j4 * x.pow(3),
        steps=config.steps,
        dt=config.dt,
        mobility=config.mobility,
        kT=0.0,
        record=True,
    ).path
    assert path is not None
    return path
