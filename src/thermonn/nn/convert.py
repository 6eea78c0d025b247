"""Swap the hidden feed-forward nonlinearities of existing models for TEL.

A *site* is a hidden feed-forward: a ``Linear`` followed by an activation whose output feeds
another ``Linear``.  ``convert`` replaces the first Linear by a :class:`~thermonn.TEL` that starts
from the same weights and the activation by ``Identity``, so the TEL's descent becomes the
nonlinearity.  Sites are found

* in blocks named by a rule ``{BlockType: (linear_attribute, activation_attribute)}`` — by default
  :class:`torch.nn.TransformerEncoderLayer` and :class:`torch.nn.TransformerDecoderLayer`
  (``linear1``/``activation``, always followed by ``linear2``); user rules extend or override
  these and name hidden feed-forwards by definition;
* in every :class:`torch.nn.Sequential`, as ``Linear → activation`` followed (after any dropout)
  by another ``Linear``.  An output head such as ``Linear → Sigmoid`` at the end is never a site.

What carries over from the replaced Linear: its weights (and their parametrisations, such as
``torch.nn.utils.parametrizations.spectral_norm``, with their state), dtype, device, the training
flag of its block, and ``requires_grad`` (a frozen Linear gives a frozen TEL, its step sizes and
temperature parameters included).  A Linear that cannot be converted faithfully — an
uninitialised ``LazyLinear``, one with forward hooks (hook-based ``torch.nn.utils.spectral_norm``
or ``weight_norm``), a subclass with its own ``forward`` — is refused by name before anything
changes.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import parametrize

from thermonn.functional.entropy import Entropy
from thermonn.nn.tel import TEL

__all__ = ["ACTIVATIONS", "DEFAULT_RULES", "ConversionReport", "Replacement", "convert"]

ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU,
    nn.SELU, nn.CELU, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
)  # fmt: skip
"""Activation modules recognised after a Linear inside ``nn.Sequential``."""

_PASS_THROUGH: tuple[type[nn.Module], ...] = (
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
)  # fmt: skip
"""Modules allowed between the activation and the next Linear of a Sequential site."""

DEFAULT_RULES: dict[type[nn.Module], tuple[str, str]] = {
    nn.TransformerEncoderLayer: ("linear1", "activation"),
    nn.TransformerDecoderLayer: ("linear1", "activation"),
}

# Arguments of TEL that convert sets from the replaced Linear.
_FROM_LINEAR = ("in_features", "out_features", "bias", "device", "dtype")
TEL_OPTIONS = tuple(p for p in inspect.signature(TEL).parameters if p not in _FROM_LINEAR)
"""Keyword arguments of :func:`convert` passed on to every :class:`~thermonn.TEL`."""


@dataclass(frozen=True)
class Replacement:
    """One converted site: ``path`` is the qualified name of the Linear now holding a TEL."""

    path: str
    block: str
    in_features: int
    out_features: int
    activation: str


@dataclass
class ConversionReport:
    """What :func:`convert` replaced, in model order."""

    replacements: list[Replacement] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.replacements)

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.replacements]

    def __str__(self) -> str:
        if not self.replacements:
            return "convert: no feed-forward site found"
        lines = ["| path | block | in → out | activation removed |", "|---|---|---|---|"]
        lines += [
            f"| {r.path} | {r.block} | {r.in_features} → {r.out_features} | {r.activation} |"
            for r in self.replacements
        ]
        return "\n".join(lines)


def _activation_name(act: object) -> str:
    return getattr(act, "__name__", type(act).__name__)


def _feeds_a_linear(children: list[nn.Module], after: int) -> bool:
    """Whether the first module after index ``after`` that is not a dropout is a Linear."""
    for module in children[after + 1 :]:
        if not isinstance(module, _PASS_THROUGH):
            return isinstance(module, nn.Linear)
    return False


def _sites(
    model: nn.Module, rules: dict[type[nn.Module], tuple[str, str]]
) -> list[tuple[str, nn.Module, str, str]]:
    """(block path, block, linear attribute, activation attribute) for every site, in order."""
    sites = []
    for path, module in model.named_modules():
        rule = next((r for t, r in rules.items() if isinstance(module, t)), None)
        if rule is not None:
            lin, act = rule
            if not isinstance(getattr(module, lin, None), nn.Linear):
                raise ValueError(
                    f"convert: rule for {type(module).__name__} expected attribute {lin!r} to be "
                    f"an nn.Linear, got {type(getattr(module, lin, None)).__name__}"
                )
            if not hasattr(module, act):
                raise ValueError(
                    f"convert: rule for {type(module).__name__} names activation attribute "
                    f"{act!r}, which {path or 'the model'} does not have"
                )
            sites.append((path, module, lin, act))
        elif isinstance(module, nn.Sequential):
            named = list(module.named_children())
            children = [m for _, m in named]
            for i, ((lin, first), (act, second)) in enumerate(itertools.pairwise(named)):
                if (
                    isinstance(first, nn.Linear)
                    and isinstance(second, ACTIVATIONS)
                    and _feeds_a_linear(children, i + 1)
                ):
                    sites.append((path, module, lin, act))
    return sites


def _check_options(options: dict[str, Any]) -> None:
    """Unknown or invalid TEL options fail before the walk, whether or not a site exists."""
    unknown = sorted(set(options) - set(TEL_OPTIONS))
    if unknown:
        taken = sorted(set(unknown) & set(_FROM_LINEAR))
        raise TypeError(
            f"convert: {', '.join(map(repr, taken))} come from the replaced Linear"
            if taken
            else f"convert: unknown TEL option(s) {unknown}; expected keywords from "
            f"{list(TEL_OPTIONS)}"
        )
    probe = dict(options)
    if isinstance(probe.get("entropy"), Entropy):  # its size is checked per site
        probe["entropy"] = "logcosh"
    TEL(1, 1, device="meta", **probe)


def _refusal(linear: nn.Linear) -> str | None:
    """Why ``linear`` cannot be converted faithfully (``None`` if it can)."""
    if isinstance(linear, LazyModuleMixin) and linear.has_uninitialized_params():
        return "an uninitialised nn.LazyLinear; run one forward pass first so its size is known"
    if linear._forward_hooks or linear._forward_pre_hooks:
        return (
            "a Linear with forward hooks (e.g. hook-based torch.nn.utils.spectral_norm or "
            "weight_norm), which a TEL would not run; use torch.nn.utils.parametrizations.* "
            "or remove the hooks"
        )
    if type(linear).forward is not nn.Linear.forward:
        return f"a {type(linear).__name__}, whose own forward a TEL would not reproduce"
    return None


def _chain(module: nn.Module, name: str) -> parametrize.ParametrizationList:
    return cast(parametrize.ParametrizationList, getattr(module.parametrizations, name))


def _stored(linear: nn.Linear, name: str) -> torch.Tensor | None:
    """The tensor ``linear`` stores for ``weight``/``bias`` — a parametrisation's original, so
    that reading it never runs the parametrisation (spectral_norm would take a power step)."""
    if parametrize.is_parametrized(linear, name):
        return cast(torch.Tensor, _chain(linear, name).original)
    return linear._parameters.get(name)


def _build(linear: nn.Linear, options: dict[str, Any]) -> TEL:
    """A TEL holding ``linear``'s weights (parametrised or not), dtype, device and flags."""
    chains = {
        name: (_chain(linear, name), copy.deepcopy(_chain(linear, name).state_dict()))
        for name in ("weight", "bias")
        if parametrize.is_parametrized(linear, name)
    }
    weight = _stored(linear, "weight")
    assert weight is not None  # an nn.Linear always has a weight
    tel = TEL(
        linear.in_features,
        linear.out_features,
        bias=_stored(linear, "bias") is not None,
        device=weight.device,
        dtype=weight.dtype,
        **options,
    )
    # the TEL's own parameters (steps, temperature, entropy) follow the Linear: frozen if it is
    trainable = any(p.requires_grad for p in linear.parameters())
    for p in tel.parameters():
        p.requires_grad_(trainable)
    for name in ("weight", "bias"):
        old = _stored(linear, name)
        if old is None:
            continue
        if name in chains:
            chain, state = chains[name]
            for module in chain:
                parametrize.register_parametrization(tel, name, module)
            _chain(tel, name).load_state_dict(state)  # originals and buffers, exactly
            news: list[torch.Tensor] = list(_chain(tel, name).parameters())
            olds: list[torch.Tensor] = list(chain.parameters())
        else:
            with torch.no_grad():
                getattr(tel, name).copy_(old)
            news, olds = [getattr(tel, name)], [old]
        for new, before in zip(news, olds, strict=True):
            new.requires_grad_(before.requires_grad)
    return tel.train(linear.training)


def convert(
    model: nn.Module,
    *,
    first_only: bool = False,
    rules: dict[type[nn.Module], tuple[str, str]] | None = None,
    inplace: bool = False,
    strict: bool = False,
    **tel_options: Any,
) -> tuple[nn.Module, ConversionReport]:
    """Replace the hidden feed-forward ``Linear → activation → Linear`` sites of ``model`` by TEL.

    Args:
        model: any module.
        first_only: convert only the first site in module order (the TEL paper found replacing
            only the first MLP best).
        rules: extra ``{BlockType: (linear_attr, activation_attr)}`` entries, checked before the
            defaults (:data:`DEFAULT_RULES`).
        inplace: modify ``model`` itself instead of a deep copy.  Either way nothing changes
            unless every site can be converted.
        strict: raise if no site is found (otherwise that is a ``UserWarning``).
        **tel_options: keyword arguments of :class:`~thermonn.TEL` (``steps``, ``entropy``, ...),
            validated before the walk.  An :class:`~thermonn.Entropy` object is copied per site.

    Returns:
        ``(converted_model, report)``; the report lists every replaced Linear.

    Raises:
        TypeError: ``model`` is not a module, a rule is malformed, or an option is unknown.
        ValueError: a rule's attributes do not exist or are not a Linear, an option's value is
            invalid, a site's Linear cannot be converted faithfully (named), or ``strict`` and
            no site exists.

    Example:
        >>> layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=256, batch_first=True)
        >>> layer, report = convert(layer, steps=4)
        >>> report.paths
        ['linear1']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    merged = dict(rules or {})
    for block_type, rule in merged.items():
        if not (isinstance(block_type, type) and issubclass(block_type, nn.Module)):
            raise TypeError(f"rules: expected nn.Module subclasses as keys, got {block_type!r}")
        if not (
            isinstance(rule, tuple) and len(rule) == 2 and all(isinstance(a, str) for a in rule)
        ):
            raise TypeError(
                f"rules[{block_type.__name__}]: expected (linear_attr, activation_attr), got {rule!r}"
            )
    merged.update({k: v for k, v in DEFAULT_RULES.items() if k not in merged})
    _check_options(tel_options)
    sites = _sites(model, merged)[: 1 if first_only else None]
    for path, block, lin_attr, _ in sites:
        why = _refusal(getattr(block, lin_attr))
        if why is not None:
            name = f"{path}.{lin_attr}" if path else lin_attr
            raise ValueError(f"convert: cannot convert site {name!r}: it is {why}")
    if not sites:
        message = (
            f"convert: no hidden feed-forward site (Linear → activation → Linear) found in "
            f"{type(model).__name__}; nothing was replaced"
        )
        if strict:
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    if not inplace:
        model = copy.deepcopy(model)
        sites = _sites(model, merged)[: len(sites)]
    report = ConversionReport()
    built = []
    for _, block, lin_attr, _ in sites:
        options = dict(tel_options)
        if isinstance(options.get("entropy"), Entropy):
            options["entropy"] = copy.deepcopy(options["entropy"])
        built.append(_build(getattr(block, lin_attr), options))
    for (path, block, lin_attr, act_attr), tel in zip(sites, built, strict=True):
        linear = getattr(block, lin_attr)
        activation = getattr(block, act_attr)
        setattr(block, lin_attr, tel)
        setattr(block, act_attr, nn.Identity())
        if hasattr(block, "activation_relu_or_gelu"):
            # The fused TransformerEncoderLayer fast path would bypass the TEL; disable it.
            setattr(block, "activation_relu_or_gelu", 0)  # noqa: B010
        report.replacements.append(
            Replacement(
                path=f"{path}.{lin_attr}" if path else lin_attr,
                block=type(block).__name__,
                in_features=linear.in_features,
                out_features=linear.out_features,
                activation=_activation_name(activation),
            )
        )
    return model, report
