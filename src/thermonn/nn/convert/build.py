"""Build the TEL that takes over a projection, or say why it cannot be built faithfully."""

from __future__ import annotations

import copy
import inspect
from typing import Any, cast

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import parametrize

from thermonn.functional.entropy import Entropy
from thermonn.nn.convert.patterns import conv1d_base, projection_kind, stored
from thermonn.nn.tel import TEL

__all__ = ["TEL_OPTIONS", "build_tel", "check_options", "refusal"]

# Arguments of TEL that convert sets from the replaced projection.
_FROM_LINEAR = ("in_features", "out_features", "bias", "device", "dtype")
TEL_OPTIONS = tuple(p for p in inspect.signature(TEL).parameters if p not in _FROM_LINEAR)
"""Keyword arguments of :func:`~thermonn.convert` passed on to every :class:`~thermonn.TEL`."""


def check_options(options: dict[str, Any]) -> None:
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


def refusal(module: nn.Module) -> str | None:
    """Why the projection ``module`` cannot be converted faithfully (``None`` if it can)."""
    if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
        return "an uninitialised nn.LazyLinear; run one forward pass first so its size is known"
    if module._forward_hooks or module._forward_pre_hooks:
        return (
            f"a {type(module).__name__} with forward hooks (e.g. hook-based "
            "torch.nn.utils.spectral_norm or weight_norm), which a TEL would not run; use "
            "torch.nn.utils.parametrizations.* or remove the hooks"
        )
    if projection_kind(module) == "Conv1D":
        if parametrize.is_parametrized(module):
            return (
                "a Conv1D with a parametrisation: its (in, out) weight would reach the TEL "
                "transposed, and the parametrisation was written for the other layout"
            )
        if type(module).forward is not cast(type[nn.Module], conv1d_base(module)).forward:
            return f"a {type(module).__name__}, whose own forward a TEL would not reproduce"
        return None
    if type(module).forward is not nn.Linear.forward:
        return f"a {type(module).__name__}, whose own forward a TEL would not reproduce"
    return None


def _chain(module: nn.Module, name: str) -> parametrize.ParametrizationList:
    return cast(parametrize.ParametrizationList, getattr(module.parametrizations, name))


def build_tel(module: nn.Module, options: dict[str, Any]) -> TEL:
    """A TEL holding the projection's weights (parametrised or not; a Conv1D's transposed),
    dtype, device, ``requires_grad`` and training flag."""
    transposed = projection_kind(module) == "Conv1D"
    weight = stored(module, "weight")
    if weight is None:
        raise ValueError(f"convert: expected {type(module).__name__} to have a weight, got none")
    n_out, n_in = weight.shape[::-1] if transposed else weight.shape
    chains = {
        name: (_chain(module, name), copy.deepcopy(_chain(module, name).state_dict()))
        for name in ("weight", "bias")
        if parametrize.is_parametrized(module, name)
    }
    options = dict(options)
    if isinstance(options.get("entropy"), Entropy):
        options["entropy"] = copy.deepcopy(options["entropy"])  # one per site
    tel = TEL(
        int(n_in),
        int(n_out),
        bias=stored(module, "bias") is not None,
        device=weight.device,
        dtype=weight.dtype,
        **options,
    )
    # the TEL's own parameters (steps, temperature, entropy) follow the Linear: frozen if it is
    trainable = any(p.requires_grad for p in module.parameters())
    for p in tel.parameters():
        p.requires_grad_(trainable)
    for name in ("weight", "bias"):
        old = stored(module, name)
        if old is None:
            continue
        if name in chains:
            chain, state = chains[name]
            for parametrisation in chain:
                parametrize.register_parametrization(tel, name, parametrisation)
            _chain(tel, name).load_state_dict(state)  # originals and buffers, exactly
            news: list[torch.Tensor] = list(_chain(tel, name).parameters())
            olds: list[torch.Tensor] = list(chain.parameters())
        else:
            with torch.no_grad():
                getattr(tel, name).copy_(old.T if transposed and name == "weight" else old)
            news, olds = [getattr(tel, name)], [old]
        for new, before in zip(news, olds, strict=True):
            new.requires_grad_(before.requires_grad)
    return tel.train(module.training)
