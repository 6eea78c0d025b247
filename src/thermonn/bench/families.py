"""Model families for vector tasks: ``block(d_in → width)`` [× depth] → ``Linear(width → d_out)``.

A family has one width knob (found by :mod:`thermonn.bench.matching` so that parameters and
FLOPs match the reference) and optionally a grid of secondary knobs the matcher also searches
(KAN grid size, Hopfield key dimension, EBM energy rank); ``min_width`` rules out degenerate
widths. TEL variants are families too, and so are the thermodynamic layers
(:class:`thermonn.nn.ThermodynamicLayer`: Linear then nodes with one learnable temperature each;
the ``thermo-coupled`` family also couples those temperatures, relaxed after every optimiser
step by :func:`thermonn.nn.couple_temperatures`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from thermonn.bench import baselines
from thermonn.nn.tel import TEL
from thermonn.nn.thermodynamic import ThermodynamicLayer

__all__ = ["FAMILIES", "REFERENCE", "Family", "get_family"]

REFERENCE = "mlp-gelu"


def _act(act: Callable[[], nn.Module]) -> Callable[..., nn.Module]:
    return lambda d_in, width: nn.Sequential(nn.Linear(d_in, width), act())


def _tel(**options: Any) -> Callable[..., nn.Module]:
    return lambda d_in, width: TEL(d_in, width, diagnostics=False, **options)


def _thermo(activation: str, temperature: float, coupled: bool = False) -> Callable[..., nn.Module]:
    def block(d_in: int, width: int) -> nn.Module:
        coupling = {"coupling": 0.01 / width, "bath_coupling": 0.001} if coupled else {}
        return ThermodynamicLayer.linear(
            d_in, width, activation=activation, temperature=temperature, track_state=False,
            **coupling,
        )  # fmt: skip

    return block


@dataclass(frozen=True)
class Family:
    """``block(d_in, width, **knobs)`` builds one layer; ``knob_grid`` lists secondary knobs;
    ``min_width`` is the narrowest width the matcher may pick; ``readout(width, d_out, **knobs)``
    replaces the default linear readout. ``tel`` and ``thermal`` mark the families under study
    (the others are the baselines they are compared with)."""

    name: str
    description: str
    block: Callable[..., nn.Module]
    knob_grid: tuple[Mapping[str, Any], ...] = field(default=({},))
    tel: bool = False
    thermal: bool = False
    min_width: int = 1
    readout: Callable[..., nn.Module] | None = None

    def build(
        self, d_in: int, d_out: int, width: int, *, depth: int = 1, **knobs: Any
    ) -> nn.Sequential:
        layers = [self.block(d_in, width, **knobs)]
        layers += [self.block(width, width, **knobs) for _ in range(depth - 1)]
        head = (
            nn.Linear(width, d_out) if self.readout is None else self.readout(width, d_out, **knobs)
        )
        return nn.Sequential(*layers, head)


_TEL_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "tel": ("TEL, logcosh entropy, K = 4, adaptive T (the spec's defaults)", {}),
    "tel-spin": ("TEL, spin entropy (dual form), K = 4", {"entropy": "spin"}),
    "tel-gate": ("TEL, learnable gate entropy, K = 4", {"entropy": "gate"}),
    "tel-fixed": ("TEL, logcosh, fixed temperature (w_T = 0 ablation)", {"temperature": "fixed"}),
    "tel-nonexp": ("TEL, nonexpansive=True (1-Lipschitz per layer)", {"nonexpansive": True}),
    **{f"tel-k{k}": (f"TEL, logcosh, K = {k}", {"steps": k}) for k in (1, 2, 3, 5, 8)},
    **{
        f"tel-spin-k{k}": (f"TEL, spin, K = {k}", {"entropy": "spin", "steps": k})
        for k in (1, 2, 3, 5, 8)
    },
}

_THERMO_OPTIONS: dict[str, tuple[str, tuple[str, float, bool]]] = {
    "thermo-fd": ("Linear → Fermi–Dirac nodes (learnable T_i, μ_i; T_0 = 1)", ("fermi-dirac", 1.0, False)),
    "thermo-relu": ("Linear → thermal-ReLU nodes max(z − T_i, 0) (learnable T_i; T_0 = 0.05)", ("thermal-relu", 0.05, False)),
    "thermo-mb": ("Linear → Maxwell–Boltzmann nodes (learnable T_i; T_0 = 1)", ("maxwell-boltzmann", 1.0, False)),
    "thermo-boltzmann": ("Linear → Boltzmann softmax(−z_i/T_i) across nodes (learnable T_i; T_0 = 1)", ("boltzmann", 1.0, False)),
    "thermo-coupled": ("thermo-fd with thermally coupled temperatures (J = 0.01/width, γ = 0.001, relaxed each step)", ("fermi-dirac", 1.0, True)),
}  # fmt: skip

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("linear", "Linear → Linear (same shape, no nonlinearity)", _act(nn.Identity)),
        Family("mlp-relu", "Linear → ReLU → Linear", _act(nn.ReLU)),
        Family(REFERENCE, "Linear → GELU → Linear (the matching reference)", _act(nn.GELU)),
        Family("swiglu", "SiLU(W1 x) * (W2 x) → Linear", baselines.SwiGLU),
        Family("gated-residual", "z + (Vx + c) * tanh(z) → Linear", baselines.GatedResidual),
        Family(
            "kan",
            "two pykan KANLayers [d_in, width, d_out] (cubic B-splines)",
            baselines.KANBlock,
            tuple({"grid": g} for g in (3, 5, 8, 12, 16, 24)),
            min_width=2,
            # a KAN layer followed by a linear map is an additive model; the KAN's own second
            # layer is what captures interactions (friedman1's sin(pi x1 x2), spirals)
            readout=baselines.KANBlock,
        ),
        Family(
            "deq", "torchdeq equilibrium tanh(W y + U x), 8 iterations, IFT", baselines.DEQBlock
        ),
        Family(
            "hopfield",
            "modern Hopfield retrieval over `width` learned patterns → values",
            baselines.HopfieldBlock,
            tuple({"key_dim": k} for k in (8, 16, 32, 64)),
            min_width=8,
        ),
        Family(
            "ebm",
            "energy descent on a learned softplus energy, K = 4",
            baselines.EnergyDescent,
            tuple({"rank": r} for r in (1, 2, 4, 8)),
        ),
        *(
            Family(name, desc, _tel(**opts), tel=True)
            for name, (desc, opts) in _TEL_OPTIONS.items()
        ),
        *(
            Family(name, desc, _thermo(*opts), thermal=True)
            for name, (desc, opts) in _THERMO_OPTIONS.items()
        ),
    ]
}


def get_family(name: str) -> Family:
    """The family called ``name``. Raises ``ValueError`` listing the valid names."""
    if name not in FAMILIES:
        raise ValueError(
            f"unknown model {name!r} for a vector task; valid models: {sorted(FAMILIES)}"
        )
    return FAMILIES[name]
