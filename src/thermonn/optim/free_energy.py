r"""The free-energy gradient rule, as a :class:`torch.optim.Optimizer`.

.. math::  \Delta w = -\eta \left( \frac{\partial U}{\partial w} - T\,\frac{\partial S}{\partial w} \right)
           = -\eta\, \nabla_w F, \qquad F = U - T S,

with U and S whatever differentiable internal energy and entropy the closure returns (the
node states of a thermodynamic layer, a model's energy and the entropy of its output
distribution, …). Both gradients come from one autograd pass through F. The temperature is a
parameter group's ``"temperature"`` and may be changed between steps (a cooling schedule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from thermonn._validation import check_float

__all__ = ["FreeEnergyGradient"]


class FreeEnergyGradient(torch.optim.Optimizer):
    """w ← w − η (∂U/∂w − T ∂S/∂w) for ``params``; :meth:`step` takes a closure returning
    ``(U, S)`` (scalars), zeroes the gradients, back-propagates F = U − T S and updates.

    Raises:
        ValueError: a non-positive learning rate or a negative temperature; a closure that
            does not return two scalar tensors.
    """

    def __init__(
        self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float, temperature: float
    ) -> None:
        check_float("lr", lr, above=0.0)
        check_float("temperature", temperature, at_least=0.0)
        super().__init__(params, {"lr": lr, "temperature": temperature})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's, then the group's ``lr`` (> 0) and ``temperature`` (≥ 0) are checked."""
        super().add_param_group(param_group)
        try:
            _check_group(self.param_groups[-1])
        except (TypeError, ValueError):
            self.param_groups.pop()
            raise

    def step(self, closure: Callable[[], tuple[Tensor, Tensor]] | None = None) -> Tensor:  # type: ignore[override]
        """One update; returns F = U − T S before it (the first group's T)."""
        if closure is None:
            raise ValueError("closure: expected a callable returning (energy U, entropy S)")
        for group in self.param_groups:  # a schedule may have changed them since
            _check_group(group)
        self.zero_grad(set_to_none=True)
        with torch.enable_grad():
            out = closure()
            if not (isinstance(out, tuple) and len(out) == 2) or any(
                not isinstance(t, Tensor) or t.dim() != 0 for t in out
            ):
                raise ValueError("closure: expected it to return two scalar tensors (U, S)")
            energy, entropy = out
            free = energy - self.param_groups[0]["temperature"] * entropy
            temperatures = {float(g["temperature"]) for g in self.param_groups}
            if len(temperatures) == 1:
                if free.requires_grad:
                    free.backward()
            else:  # per-group temperatures: ∂U/∂w and ∂S/∂w separately
                params = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
                du, ds = _gradients(energy, params), _gradients(entropy, params)
                k = 0
                for g in self.param_groups:
                    for p in g["params"]:
                        if not p.requires_grad:
                            continue
                        u, s = du[k], ds[k]
                        p.grad = (torch.zeros_like(p) if u is None else u) - g["temperature"] * (
                            torch.zeros_like(p) if s is None else s
                        )
                        k += 1
        with torch.no_grad():
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-g["lr"])
        return free.detach()


def _check_group(group: dict[str, Any]) -> None:
    check_float("lr", group["lr"], above=0.0)
    check_float("temperature", group["temperature"], at_least=0.0)


def _gradients(value: Tensor, params: list[Tensor]) -> tuple[Tensor | None, ...]:
    """∂value/∂p for each of ``params`` (None where it does not depend on p, or is constant)."""
    if not value.requires_grad or not params:
        return (None,) * len(params)
    return torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
