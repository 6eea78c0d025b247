"""Swap the feed-forward nonlinearity of existing models for TEL.

A *feed-forward site* is a ``Linear`` followed by an activation.  ``convert`` replaces the Linear by
a :class:`~thermonn.TEL` that starts from the same weights and the activation by ``Identity``, so the
TEL's descent becomes the nonlinearity.  Sites are found

* in blocks named by a rule ``{BlockType: (linear_attribute, activation_attribute)}`` — by default
  :class:`torch.nn.TransformerEncoderLayer` and :class:`torch.nn.TransformerDecoderLayer`
  (``linear1``/``activation``); user rules extend or override these;
* in every :class:`torch.nn.Sequential`, as a ``Linear`` directly followed by an activation module.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from thermonn.nn.tel import TEL

__all__ = ["ACTIVATIONS", "DEFAULT_RULES", "ConversionReport", "Replacement", "convert"]

ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU,
    nn.SELU, nn.CELU, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
)  # fmt: skip
"""Activation modules recognised after a Linear inside ``nn.Sequential``."""

DEFAULT_RULES: dict[type[nn.Module], tuple[str, str]] = {
    nn.TransformerEncoderLayer: ("linear1", "activation"),
    nn.TransformerDecoderLayer: ("linear1", "activation"),
}


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
            for (lin, first), (act, second) in itertools.pairwise(module.named_children()):
                if isinstance(first, nn.Linear) and isinstance(second, ACTIVATIONS):
                    sites.append((path, module, lin, act))
    return sites


def convert(
    model: nn.Module,
    *,
    first_only: bool = False,
    rules: dict[type[nn.Module], tuple[str, str]] | None = None,
    inplace: bool = False,
    **tel_options: Any,
) -> tuple[nn.Module, ConversionReport]:
    """Replace feed-forward ``Linear → activation`` sites of ``model`` by TEL.

    Args:
        model: any module.
        first_only: convert only the first site in module order (the TEL paper found replacing
            only the first MLP best).
        rules: extra ``{BlockType: (linear_attr, activation_attr)}`` entries, checked before the
            defaults (:data:`DEFAULT_RULES`).
        inplace: modify ``model`` itself instead of a deep copy.
        **tel_options: keyword arguments of :class:`~thermonn.TEL` (``steps``, ``entropy``, ...).

    Returns:
        ``(converted_model, report)``; the report lists every replaced Linear.

    Raises:
        TypeError: if ``model`` is not a module or a rule is malformed.
        ValueError: if a rule's attributes do not exist or are not a Linear.

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
    if not inplace:
        model = copy.deepcopy(model)
    report = ConversionReport()
    for path, block, lin_attr, act_attr in _sites(model, merged):
        linear: nn.Linear = getattr(block, lin_attr)
        w = linear.weight
        tel = TEL(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            device=w.device,
            dtype=w.dtype,
            **tel_options,
        )
        tel.weight.data.copy_(w.detach())
        if tel.bias is not None and linear.bias is not None:
            tel.bias.data.copy_(linear.bias.detach())
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
        if first_only:
            break
    return model, report
