"""The thermodynamic computer (Whitelam 2025): a Langevin machine of real-valued spins.

Input spins u (clamped to the data) act on the mobile hidden and output spins x through fixed
fields h = u W; the mobile spins follow overdamped Langevin dynamics in

    V(x) = Σ_i (J₂ x_i² + J₄ x_i⁴) + Σ_i (b_i + h_i) x_i + ½ xᵀ J x

from x(0) = 0, and the prediction is read from the output spins at t_f. The dynamics are the
package's one Langevin engine (:mod:`thermonn.dynamics`); only the potential lives here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from thermonn._validation import check_float, check_int
from thermonn.dynamics import AffineForce, simulate_langevin

__all__ = ["BLOCKS", "MachineConfig", "ThermoComputer", "idealised_trajectory"]

BLOCKS = ("in-hidden", "in-out", "hidden-hidden", "hidden-out", "out-out")


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


def _cube(x: Tensor) -> Tensor:
    return x.pow(3)


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
        """−∂V/∂x on the mobile spins: −(b + h) − x (J + 2J₂ I) − 4J₄ x³."""
        return self.force_fn(h)(x)

    def force_fn(self, h: Tensor) -> AffineForce:
        """x ↦ −∂V/∂x for fixed input fields ``h``: x (−J − 2J₂I) − (b + h) − 4J₄ x³, as an
        :class:`~thermonn.dynamics.AffineForce` (the engine folds it into one matmul per step)."""
        c = self.config
        eye = torch.eye(c.n_mobile, dtype=h.dtype, device=h.device)
        return AffineForce(
            matrix=-(self.coupling() + 2 * c.j2 * eye),
            offset=-(self.bias + h),
            local=_cube,
            local_scale=-4 * c.j4,
        )

    def run(
        self,
        u: Tensor,
        *,
        trajectories: int = 1,
        kT: float | None = None,
        t_final: float | None = None,
        record: bool = False,
        generator: torch.Generator | None = None,
        chunk_size: int = 2500,
        initial: Tensor | None = None,
    ) -> Tensor:
        """Mobile spins at ``t_final`` (default the config's), shape ``(trajectories, batch,
        n_mobile)``, or the whole path ``(steps + 1, trajectories, batch, n_mobile)`` with
        ``record``. ``kT`` overrides the config's temperature (inference temperature);
        ``initial`` ``(batch, n_mobile)`` replaces the start x(0) = 0.

        The batch is cut into chunks of ``chunk_size`` inputs that run concurrently on
        ``torch.get_num_threads()`` threads, each with its own generator seeded from
        ``generator``; the result depends on ``generator`` and ``chunk_size``, not on the
        thread count."""
        c = self.config
        check_int("trajectories", trajectories, minimum=1)
        check_int("chunk_size", chunk_size, minimum=1)
        steps = (c if t_final is None else replace(c, t_final=t_final)).steps  # validated there
        temperature = c.kT if kT is None else check_float("kT", kT, at_least=0.0)
        h = self.fields(u)
        if initial is None:
            initial = torch.zeros_like(h)
        elif initial.shape != h.shape or not torch.isfinite(initial).all():
            raise ValueError(
                f"initial: expected finite values of shape {tuple(h.shape)}, got {tuple(initial.shape)}"
            )
        pieces = list(zip(h.split(chunk_size), initial.split(chunk_size), strict=True))
        seed_device = generator.device if generator is not None else torch.device("cpu")
        drawn = torch.randint(2**62, (len(pieces),), generator=generator, device=seed_device)
        seeds = drawn.tolist()

        grad_mode = torch.is_grad_enabled()  # thread-local: carry the caller's mode to the workers

        def one(piece: tuple[Tensor, Tensor], seed: int) -> Tensor:
            with torch.set_grad_enabled(grad_mode):
                return simulate(*piece, seed)

        def one_in_worker(piece: tuple[Tensor, Tensor], seed: int) -> Tensor:
            # each worker thread is one core: no nested intra-op threads (OpenMP's thread
            # count is per thread, so the caller's setting is untouched)
            torch.set_num_threads(1)
            return one(piece, seed)

        def simulate(piece: Tensor, start: Tensor, seed: int) -> Tensor:
            hp = piece.repeat(trajectories, 1)  # (trajectories · chunk, n): one 2-D matmul
            result = simulate_langevin(
                start.repeat(trajectories, 1),
                self.force_fn(hp),
                steps=steps,
                dt=c.dt,
                mobility=c.mobility,
                kT=temperature,
                record=record,
                generator=torch.Generator(device=h.device).manual_seed(seed),
            )
            out = result.path if record and result.path is not None else result.final
            return out.unflatten(-2, (trajectories, len(piece)))

        workers = min(len(pieces), torch.get_num_threads())
        if workers == 1:
            outs = [one(p, s) for p, s in zip(pieces, seeds, strict=True)]
        else:
            with ThreadPoolExecutor(workers) as pool:
                outs = list(pool.map(one_in_worker, pieces, seeds))
        return torch.cat(outs, dim=-2)

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
