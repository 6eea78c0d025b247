"""``convert``: find the sites and swap them; ``reconvert``: swap the sites a report names."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from typing import Any

from torch import nn

from thermonn.nn.convert.build import build_tel, check_options, refusal
from thermonn.nn.convert.patterns import (
    DEFAULT_RULES,
    Pattern,
    Site,
    features,
    find_sites,
    projection_kind,
    resolve_patterns,
)
from thermonn.nn.convert.report import ConversionReport, Replacement, Skipped

__all__ = ["convert", "reconvert"]

_MISSES_SHOWN = 5


def _activation_name(act: object) -> str:
    return getattr(act, "__name__", type(act).__name__)


def _check_rules(rules: dict[type[nn.Module], tuple[str, str]] | None) -> dict:
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
    return merged


def _refuse(sites: list[Site]) -> None:
    """Raise, before anything changes, for the first site that cannot be converted faithfully."""
    for site in sites:
        why = refusal(getattr(site.block, site.linear))
        if why is not None:
            raise ValueError(f"convert: cannot convert site {site.path!r}: it is {why}")


def _nothing_found(
    model: nn.Module, structural: set[str], patterns: list[Pattern], rules: dict, misses: list
) -> str:
    looked = [f"rules for {[t.__name__ for t in rules]}"] if rules else []
    if "transformer" in structural:
        looked.append(f"rules for {[t.__name__ for t in DEFAULT_RULES]}")
    if "sequential" in structural:
        looked.append("nn.Sequential Linear → activation → Linear")
    if patterns:
        looked.append(f"blocks with attributes {', '.join(p.name for p in patterns)}")
    message = (
        f"convert: no hidden feed-forward site found in {type(model).__name__}; nothing was "
        f"replaced. Looked for: {'; '.join(looked) or 'nothing (patterns=[] and no rules)'}."
    )
    groups: dict[tuple[str, str], list[str]] = {}  # the same miss in every block, said once
    for m in misses:
        groups.setdefault((m.pattern, m.reason), []).append(m.path or "<model>")
    if groups:
        shown = "; ".join(
            f"{paths[0]!r}{f' and {len(paths) - 1} more' if len(paths) > 1 else ''} "
            f"({pattern}): {reason}"
            for (pattern, reason), paths in list(groups.items())[:_MISSES_SHOWN]
        )
        more = f" (and {len(groups) - _MISSES_SHOWN} more)" if len(groups) > _MISSES_SHOWN else ""
        message += f" Near misses: {shown}{more}."
    return message + " Name other blocks with rules={BlockType: (linear_attr, activation_attr)}."


def _swap(sites: list[Site], options: dict[str, Any], skipped: list[Skipped]) -> ConversionReport:
    """Build every TEL first (so a failing build changes nothing), then swap them in."""
    built = [build_tel(getattr(s.block, s.linear), options) for s in sites]
    report = ConversionReport(options=dict(options), skipped=list(skipped))
    for site, tel in zip(sites, built, strict=True):
        projection = getattr(site.block, site.linear)
        activation = getattr(site.block, site.activation)
        setattr(site.block, site.linear, tel)
        setattr(site.block, site.activation, nn.Identity())
        if hasattr(site.block, "activation_relu_or_gelu"):
            # The fused TransformerEncoderLayer fast path would bypass the TEL; disable it.
            setattr(site.block, "activation_relu_or_gelu", 0)  # noqa: B010
        report.replacements.append(
            Replacement(
                path=site.path,
                block=type(site.block).__name__,
                in_features=tel.in_features,
                out_features=tel.out_features,
                activation=_activation_name(activation),
                pattern=site.pattern,
                activation_path=site.activation_path,
                source=str(projection_kind(projection)),
            )
        )
    return report


def _on_copy(model: nn.Module, sites: list[Site]) -> tuple[nn.Module, list[Site]]:
    """A deep copy of ``model`` and the same sites in it."""
    twin = copy.deepcopy(model)
    return twin, [
        Site(s.block_path, twin.get_submodule(s.block_path), s.linear, s.activation, s.pattern)
        for s in sites
    ]


def convert(
    model: nn.Module,
    *,
    first_only: bool = False,
    rules: dict[type[nn.Module], tuple[str, str]] | None = None,
    patterns: Iterable[str | Pattern] | None = None,
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
            defaults (:data:`DEFAULT_RULES`); the Linear may be a ``Conv1D``.
        patterns: the built-in recognisers to use, by name — ``"transformer"``
            (:data:`DEFAULT_RULES`), ``"sequential"`` and the attribute patterns of
            :data:`PATTERNS` — or :class:`Pattern` objects; ``None`` (default) uses all of them,
            ``[]`` only ``rules``.
        inplace: modify ``model`` itself instead of a deep copy.  Either way nothing changes
            unless every site can be converted.
        strict: raise if no site is found (otherwise that is a ``UserWarning``); either way the
            message lists what was looked for and the near misses.
        **tel_options: keyword arguments of :class:`~thermonn.TEL` (``steps``, ``entropy``, ...),
            validated before the walk.  An :class:`~thermonn.Entropy` object is copied per site.

    Returns:
        ``(converted_model, report)``; the report lists every replaced projection, the options
        used (``report.options``) and the near misses (``report.skipped``).

    Raises:
        TypeError: ``model`` is not a module, a rule or ``patterns`` is malformed, or an option
            is unknown.
        ValueError: a rule's attributes do not exist or are not a Linear, a pattern name is
            unknown, an option's value is invalid, a site's projection cannot be converted
            faithfully (named), or ``strict`` and no site exists.

    Example:
        >>> layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=256, batch_first=True)
        >>> layer, report = convert(layer, steps=4)
        >>> report.paths
        ['linear1']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    user_rules = _check_rules(rules)
    structural, chosen = resolve_patterns(patterns)
    check_options(tel_options)
    sites, skipped = find_sites(model, user_rules, structural, chosen)
    sites = sites[: 1 if first_only else None]
    _refuse(sites)
    if not sites:
        message = _nothing_found(model, structural, chosen, user_rules, skipped)
        if strict:
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=2)
    if not inplace:
        model, sites = _on_copy(model, sites)
    return model, _swap(sites, tel_options, skipped)


def _site_of(model: nn.Module, r: Replacement) -> Site:
    """The site ``r`` names in ``model``, checked against what ``r`` says was there."""
    block_path, _, linear = r.path.rpartition(".")
    act_block, _, activation = r.activation_path.rpartition(".")
    if act_block != block_path:
        raise ValueError(
            f"reconvert: expected {r.path!r} and its activation {r.activation_path!r} in one block"
        )
    try:
        block = model.get_submodule(block_path)
    except AttributeError:
        raise ValueError(
            f"reconvert: expected a block at {block_path!r} (site {r.path!r}), "
            f"{type(model).__name__} has none"
        ) from None
    projection = getattr(block, linear, None)
    kind = projection_kind(projection)
    size = features(projection) if isinstance(projection, nn.Module) and kind else None
    if kind != r.source or (size is not None and size != (r.in_features, r.out_features)):
        got = f"{kind} {size[0]} → {size[1]}" if kind and size else type(projection).__name__
        raise ValueError(
            f"reconvert: expected site {r.path!r} to be a {r.source} "
            f"{r.in_features} → {r.out_features}, got {got}"
        )
    if not hasattr(block, activation):
        raise ValueError(f"reconvert: expected an activation at {r.activation_path!r}, found none")
    return Site(block_path, block, linear, activation, r.pattern)


def reconvert(
    model: nn.Module,
    report: ConversionReport | dict[str, Any],
    *,
    inplace: bool = False,
) -> tuple[nn.Module, ConversionReport]:
    """Convert exactly the sites ``report`` lists, with its options: the architecture
    :func:`convert` made, ready for the converted model's ``state_dict``.

    Unlike re-running :func:`convert`, this needs neither the rules nor the patterns of the
    first conversion, and it checks that every recorded site is there with its recorded sizes.

    Args:
        model: a fresh (unconverted) model of the architecture that was converted.
        report: the :class:`ConversionReport`, or its :meth:`~ConversionReport.to_dict` (read
            back from JSON).
        inplace: modify ``model`` itself instead of a deep copy.

    Returns:
        ``(converted_model, report)``, the report as :func:`convert` would give it.

    Raises:
        TypeError: ``model`` is not a module, or ``report`` is neither a report nor a dict.
        ValueError: a recorded site is missing or has other sizes, or it cannot be converted.

    Example:
        >>> mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))
        >>> converted, report = convert(mlp, steps=2)
        >>> fresh, _ = reconvert(nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2)), report)
        >>> fresh.load_state_dict(converted.state_dict())
        <All keys matched successfully>
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(report, ConversionReport):
        report = ConversionReport.from_dict(report)
    check_options(report.options)
    sites = [_site_of(model, r) for r in report.replacements]
    _refuse(sites)
    if not inplace:
        model, sites = _on_copy(model, sites)
    return model, _swap(sites, report.options, report.skipped)
