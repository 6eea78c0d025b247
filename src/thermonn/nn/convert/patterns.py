"""Where :func:`~thermonn.convert` finds sites: rules, ``nn.Sequential`` and attribute patterns.

Everything here is duck typing on attribute names and module types, so recognising a timm or
HuggingFace block imports neither library: HuggingFace's ``Conv1D`` is matched by its class when
``transformers`` is already imported, and otherwise by its shape (see :func:`projection_kind`).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import parametrize

from thermonn.nn.convert.report import Skipped

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RULES",
    "PATTERNS",
    "STRUCTURAL",
    "Pattern",
    "Site",
    "conv1d_base",
    "features",
    "find_sites",
    "projection_kind",
    "resolve_patterns",
    "stored",
]

ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU,
    nn.SELU, nn.CELU, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
)  # fmt: skip
"""Activation modules recognised after a Linear inside ``nn.Sequential``."""

_PASS_THROUGH: tuple[type[nn.Module], ...] = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
)  # fmt: skip
"""Modules allowed between a site's Linear and its activation, or its activation and the next
Linear."""

DEFAULT_RULES: dict[type[nn.Module], tuple[str, str]] = {
    nn.TransformerEncoderLayer: ("linear1", "activation"),
    nn.TransformerDecoderLayer: ("linear1", "activation"),
}

STRUCTURAL = ("transformer", "sequential")
"""Recognisers that are not attribute patterns: :data:`DEFAULT_RULES` and the Sequential walk."""


@dataclass(frozen=True)
class Pattern:
    """A block recognised by its attribute names: ``output(activation(linear(x)))``.

    Gated blocks name ``up`` too: ``output(activation(linear(x)) * up(x))``; the TEL takes over
    ``linear`` and ``activation`` (the gate path) and ``up`` stays.  ``output=None`` says the
    activation feeds a Linear outside the block (HuggingFace's ``*Intermediate`` → ``*Output``).

    A block matches when ``linear`` (and ``up``, ``output``) are an ``nn.Linear`` or a
    ``Conv1D``, the sizes chain (``output`` takes what ``linear`` gives, ``up`` has ``linear``'s
    shape), the activation is callable and not ``Identity``, and nothing but dropout or identity
    is registered between ``linear`` and ``activation``.
    """

    linear: str
    activation: str
    output: str | None
    up: str | None = None
    examples: str = ""

    @property
    def name(self) -> str:
        return "/".join(a for a in (self.linear, self.up, self.activation, self.output) if a)


PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern("fc1", "act", "fc2", examples="timm Mlp (ViT, MLP-Mixer, ConvNeXt), GatedMlp"),
        Pattern("fc1", "activation_fn", "fc2", examples="HF CLIP/SigLIP MLP, BART, OPT, Whisper"),
        Pattern("dense", "intermediate_act_fn", None, examples="HF BERT/RoBERTa/ViT Intermediate"),
        Pattern("c_fc", "act", "c_proj", examples="HF GPT-2 (Conv1D), GPT-Neo"),
        Pattern("fc_in", "act", "fc_out", examples="HF GPT-J, CodeGen"),
        Pattern("dense_h_to_4h", "act", "dense_4h_to_h", examples="HF GPT-NeoX"),
        Pattern("wi", "act", "wo", examples="HF T5 (DenseActDense)"),
        Pattern("gate_proj", "act_fn", "down_proj", up="up_proj", examples="HF Llama/Mistral/Qwen"),
        Pattern("fc1_g", "act", "fc2", up="fc1_x", examples="timm SwiGLU"),
        Pattern("wi_0", "act", "wo", up="wi_1", examples="HF T5 v1.1 (DenseGatedActDense)"),
    )
}
"""The built-in attribute patterns, by name; checked in this order, one site per block."""


@dataclass(frozen=True)
class Site:
    """A found site: ``block.linear`` (and ``block.activation``) are what a TEL takes over."""

    block_path: str
    block: nn.Module
    linear: str
    activation: str
    pattern: str

    @property
    def path(self) -> str:
        return f"{self.block_path}.{self.linear}" if self.block_path else self.linear

    @property
    def activation_path(self) -> str:
        return f"{self.block_path}.{self.activation}" if self.block_path else self.activation


def stored(module: nn.Module, name: str) -> torch.Tensor | None:
    """The tensor ``module`` stores for ``name`` — a parametrisation's original, so that reading
    it never runs the parametrisation (spectral_norm would take a power step)."""
    if parametrize.is_parametrized(module, name):
        chain = cast(parametrize.ParametrizationList, getattr(module.parametrizations, name))
        return cast(torch.Tensor, chain.original)
    return module._parameters.get(name)


def hf_conv1d_class() -> type[nn.Module] | None:
    """``transformers.pytorch_utils.Conv1D`` if transformers is already imported (never
    imports it)."""
    found = getattr(sys.modules.get("transformers.pytorch_utils"), "Conv1D", None)
    return found if isinstance(found, type) else None


def conv1d_base(module: object) -> type | None:
    """The ``Conv1D`` class ``module`` is an instance of — HuggingFace's, when transformers is
    imported, or any class named ``Conv1D`` — or ``None``."""
    hf = hf_conv1d_class()
    return next((c for c in type(module).__mro__ if c is hf or c.__name__ == "Conv1D"), None)


def projection_kind(module: object) -> str | None:
    """``"Linear"`` for an ``nn.Linear`` (subclasses included: they are refused later, by name),
    ``"Conv1D"`` for HuggingFace's transposed linear — an instance of its class, or of any class
    named ``Conv1D``, with int ``nf``, ``nx`` and a weight of shape ``(nx, nf)`` — else ``None``."""
    if isinstance(module, nn.Linear):
        return "Linear"
    if not isinstance(module, nn.Module) or conv1d_base(module) is None:
        return None
    nf, nx, weight = (
        getattr(module, "nf", None),
        getattr(module, "nx", None),
        stored(module, "weight"),
    )
    if isinstance(nf, int) and isinstance(nx, int) and weight is not None:
        return "Conv1D" if tuple(weight.shape) == (nx, nf) else None
    return None


def features(module: nn.Module) -> tuple[int, int] | None:
    """``(in_features, out_features)`` of a projection; ``None`` while a LazyLinear is unsized."""
    if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
        return None
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return int(getattr(module, "nx")), int(getattr(module, "nf"))  # noqa: B009


def _describe(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _match(pattern: Pattern, block: nn.Module) -> tuple[bool, str | None]:
    """(matched, why not): ``(False, None)`` when the block lacks the pattern's names."""
    linear = getattr(block, pattern.linear, None)
    act = getattr(block, pattern.activation, None)
    if linear is None or not hasattr(block, pattern.activation):
        return False, None
    if projection_kind(linear) is None:
        return False, f"{pattern.linear} is a {_describe(linear)}, not an nn.Linear or a Conv1D"
    if not callable(act) or isinstance(act, nn.Identity):
        return False, f"{pattern.activation} is {_describe(act)}, not an activation"
    size = features(linear)
    for role in (pattern.up, pattern.output):
        if role is None:
            continue
        other = getattr(block, role, None)
        if projection_kind(other) is None:
            return False, f"{role} is a {_describe(other)}, not an nn.Linear or a Conv1D"
        theirs = features(cast(nn.Module, other))
        if size is None or theirs is None:
            continue  # an unsized LazyLinear: refused by name later
        if role == pattern.up and theirs != size:
            return (
                False,
                f"{role} is {theirs[0]} → {theirs[1]}, {pattern.linear} {size[0]} → {size[1]}",
            )
        if role == pattern.output and theirs[0] != size[1]:
            return False, (
                f"{role} takes {theirs[0]} features but {pattern.linear} gives {size[1]} (a split "
                f"of {pattern.linear}'s output, such as timm's GluMlp, which a TEL cannot take over)"
            )
    names = [n for n, _ in block.named_children()]
    if pattern.linear in names and pattern.activation in names:
        i, j = names.index(pattern.linear), names.index(pattern.activation)
        for name in names[i + 1 : j]:
            child = getattr(block, name)
            if name not in (pattern.up, pattern.output) and not isinstance(child, _PASS_THROUGH):
                return False, (
                    f"a {type(child).__name__} ({name}) is registered between {pattern.linear} and "
                    f"{pattern.activation}: a TEL cannot take over a Linear and an activation "
                    "that something else sits between"
                )
    return True, None


def _feeds_a_linear(children: list[nn.Module], after: int) -> bool:
    """Whether the first module after index ``after`` that is not a dropout is a Linear."""
    for module in children[after + 1 :]:
        if not isinstance(module, _PASS_THROUGH):
            return isinstance(module, nn.Linear)
    return False


def resolve_patterns(patterns: Iterable[str | Pattern] | None) -> tuple[set[str], list[Pattern]]:
    """``(structural recognisers, attribute patterns)`` from names or :class:`Pattern` objects;
    ``None`` selects every built-in one."""
    if patterns is None:
        return set(STRUCTURAL), list(PATTERNS.values())
    if isinstance(patterns, str | Pattern):
        raise TypeError(
            f"patterns: expected a list of names or Pattern objects, got {type(patterns).__name__}"
        )
    structural: set[str] = set()
    chosen: list[Pattern] = []
    for p in patterns:
        if isinstance(p, Pattern):
            chosen.append(p)
        elif isinstance(p, str) and p in STRUCTURAL:
            structural.add(p)
        elif isinstance(p, str) and p in PATTERNS:
            chosen.append(PATTERNS[p])
        elif isinstance(p, str):
            raise ValueError(
                f"patterns: expected names from {[*STRUCTURAL, *PATTERNS]} or Pattern objects, "
                f"got {p!r}"
            )
        else:
            raise TypeError(f"patterns: expected a name or a Pattern, got {type(p).__name__}")
    return structural, chosen


def _rule_site(path: str, module: nn.Module, rule: tuple[str, str], pattern: str) -> Site:
    lin, act = rule
    if projection_kind(getattr(module, lin, None)) is None:
        raise ValueError(
            f"convert: rule for {type(module).__name__} expected attribute {lin!r} to be "
            f"an nn.Linear or a Conv1D, got {type(getattr(module, lin, None)).__name__}"
        )
    if not hasattr(module, act):
        raise ValueError(
            f"convert: rule for {type(module).__name__} names activation attribute "
            f"{act!r}, which {path or 'the model'} does not have"
        )
    return Site(path, module, lin, act, pattern)


def find_sites(
    model: nn.Module,
    rules: dict[type[nn.Module], tuple[str, str]],
    structural: set[str],
    patterns: list[Pattern],
) -> tuple[list[Site], list[Skipped]]:
    """Every site in module order, and the near misses: blocks with a pattern's names that fail
    one of its conditions (each with the reason).  User rules come first, then
    :data:`DEFAULT_RULES`, the attribute patterns and the Sequential walk."""
    defaults = DEFAULT_RULES if "transformer" in structural else {}
    sites: list[Site] = []
    skipped: list[Skipped] = []
    seen: set[tuple[int, str]] = set()

    def add(site: Site) -> None:
        if (id(site.block), site.linear) not in seen:
            seen.add((id(site.block), site.linear))
            sites.append(site)

    for path, module in model.named_modules():
        user = next((r for t, r in rules.items() if isinstance(module, t)), None)
        default = next((r for t, r in defaults.items() if isinstance(module, t)), None)
        if user is not None or default is not None:
            rule, found_by = (user, "rule") if user is not None else (default, "transformer")
            add(_rule_site(path, module, cast(tuple[str, str], rule), found_by))
            continue
        misses: list[Skipped] = []
        for pattern in patterns:
            matched, why = _match(pattern, module)
            if matched:
                add(Site(path, module, pattern.linear, pattern.activation, pattern.name))
                misses = []
                break
            if why is not None:
                misses.append(Skipped(path=path, pattern=pattern.name, reason=why))
        skipped += misses
        if isinstance(module, nn.Sequential) and "sequential" in structural:
            named = list(module.named_children())
            children = [m for _, m in named]
            for i, ((lin, first), (act, second)) in enumerate(itertools.pairwise(named)):
                if (
                    isinstance(first, nn.Linear)
                    and isinstance(second, ACTIVATIONS)
                    and _feeds_a_linear(children, i + 1)
                ):
                    add(Site(path, module, lin, act, "sequential"))
    return sites, skipped
