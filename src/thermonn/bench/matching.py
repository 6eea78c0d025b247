"""Compute matching: parameters and FLOPs of a model, and the width search that matches them.

FLOPs are counted with :mod:`torch.utils.flop_counter`'s formulas — matrix products,
convolutions and attention. Element-wise work (TEL's K descent steps, spline bases, activations)
is not counted by it; it shows up in the wall-clock column instead.

Matching rule: the target is the reference family (GELU MLP) at the task's base width and the
same depth. For every secondary-knob setting of a family the width whose parameter count is
closest to the target is found by bisection (parameters grow with width), and its neighbours
within the parameter tolerance are tried for the best FLOP match. Across settings the widest
match within tolerance is kept, else the one with the smallest error. A match within
``param_tol`` and ``flop_tol`` is *matched*; otherwise the best attempt is reported with its
errors and flagged, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["Match", "count_flops", "count_parameters", "match_width"]

PARAM_TOL = 0.05
FLOP_TOL = 0.10


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (pykan's frozen grid and mask are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class _FlopCount(TorchDispatchMode):
    """Sums :data:`torch.utils.flop_counter.flop_registry` formulas over dispatched ops.

    The same formulas as :class:`~torch.utils.flop_counter.FlopCounterMode`, without its
    per-module tracker, whose backward hooks reject the nested ``autograd.grad`` that torchdeq's
    implicit backward runs."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(
    model: nn.Module,
    x: Tensor,
    *,
    train_step: bool = False,
    loss: Callable[[Tensor], Tensor] | None = None,
) -> float:
    """FLOPs per sample of a forward pass (``train_step=False``, eval mode) or of forward +
    backward in train mode (``loss`` of the output; default mean square), counted on ``x``."""
    was_training = model.training
    model.train(train_step)
    counter = _FlopCount()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused kernel has no FLOP formula
    try:
        with counter:
            if train_step:
                out = model(x)
                (loss(out) if loss is not None else out.float().square().mean()).backward()
            else:
                with torch.no_grad():
                    model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    return counter.total / x.shape[0]


@dataclass
class Match:
    """Outcome of matching one family to the target budget."""

    width: int
    knobs: dict[str, Any]
    params: int
    flops: float
    target_params: int
    target_flops: float
    param_tol: float = PARAM_TOL
    flop_tol: float = FLOP_TOL
    notes: list[str] = field(default_factory=list)

    @property
    def param_error(self) -> float:
        return self.params / self.target_params - 1.0

    @property
    def flop_error(self) -> float:
        return self.flops / self.target_flops - 1.0

    @property
    def matched(self) -> bool:
        return abs(self.param_error) <= self.param_tol and abs(self.flop_error) <= self.flop_tol

    def describe(self) -> str:
        return (
            f"width {self.width} {self.knobs or ''}: params {self.params} ({self.param_error:+.1%}), "
            f"FLOPs {self.flops:.0f} ({self.flop_error:+.1%})"
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(param_error=self.param_error, flop_error=self.flop_error, matched=self.matched)
        return d


def match_width(
    build: Callable[..., nn.Module],
    x: Tensor,
    *,
    target_params: int,
    target_flops: float,
    knob_grid: tuple[Mapping[str, Any], ...] = ({},),
    max_width: int = 4096,
    min_width: int = 1,
) -> Match:
    """Search ``build(width, **knobs)`` for the width and knobs closest to the target; widths
    below ``min_width`` (degenerate models: a one-pattern Hopfield layer is a constant) are
    never chosen."""
    per_knob = []
    for knobs in knob_grid:
        params = _parameter_counter(build, knobs)
        lo, hi = 1, 1
        while params(hi) < target_params and hi < max_width:
            lo, hi = hi, min(2 * hi, max_width)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if params(mid) < target_params else (lo, mid)
        closest = max(min_width, min((lo, hi), key=lambda w: abs(params(w) - target_params)))
        # neighbours inside the parameter tolerance may match FLOPs better (e.g. TEL-gate)
        widths = [
            w
            for w in range(max(min_width, closest - 3), closest + 4)
            if w == closest or abs(params(w) / target_params - 1) <= PARAM_TOL
        ]
        candidates = [
            Match(
                width=w,
                knobs=dict(knobs),
                params=params(w),
                flops=count_flops(build(w, **knobs), x),
                target_params=target_params,
                target_flops=target_flops,
            )
            for w in widths
        ]
        per_knob.append(min(candidates, key=_error))
    matched = [m for m in per_knob if m.matched]
    if matched:  # a 1-unit-wide KAN with a huge grid also fits; nobody would pick it
        return max(matched, key=lambda m: m.width)
    return min(per_knob, key=_error)


def _parameter_counter(
    build: Callable[..., nn.Module], knobs: Mapping[str, Any]
) -> Callable[[int], int]:
    """Parameter count as a function of width, memoised (the bisection revisits widths)."""
    return cache(lambda w: count_parameters(build(w, **knobs)))


def _error(m: Match) -> tuple[bool, float]:
    """Within tolerance first, then the larger of the two errors relative to its tolerance."""
    return (not m.matched, max(abs(m.param_error) / m.param_tol, abs(m.flop_error) / m.flop_tol))
