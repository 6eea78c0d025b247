"""Collect TEL temperature/energy trajectories from a whole model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from thermonn.functional.tel import TELTrace
from thermonn.nn.tel import TEL

__all__ = ["DiagnosticsLog", "collect_diagnostics"]


class DiagnosticsLog(dict[str, list[TELTrace]]):
    """Maps each TEL's qualified name to the traces of its forward calls, in call order."""

    def stacked(self) -> dict[str, TELTrace]:
        """Each layer's traces stacked into one :class:`TELTrace` of shape ``(calls, K+1)``."""
        return {
            name: TELTrace(*(torch.stack(field) for field in zip(*traces, strict=True)))
            for name, traces in self.items()
            if traces
        }

    def mean(self) -> dict[str, TELTrace]:
        """Each layer's trace averaged over its calls, shape ``(K+1,)``."""
        return {
            name: TELTrace(*(f.mean(0) for f in trace)) for name, trace in self.stacked().items()
        }


@contextmanager
def collect_diagnostics(model: nn.Module) -> Iterator[DiagnosticsLog]:
    """Gather the per-step diagnostics of every :class:`~thermonn.TEL` inside ``model``.

    Diagnostics are switched on for the duration of the block and restored afterwards.

    Example:
        >>> with collect_diagnostics(model) as log:
        ...     model(x)
        >>> log["0"][0].temperature    # first call of the TEL named "0": T_0 ... T_K
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    log = DiagnosticsLog()
    handles, saved = [], []
    for name, module in model.named_modules():
        if isinstance(module, TEL):
            log[name] = []
            saved.append((module, module.diagnostics))
            module.diagnostics = True

            def hook(
                _m: nn.Module, _args: object, _out: object, name: str = name, tel: TEL = module
            ) -> None:
                if tel.last_trace is not None:
                    log[name].append(tel.last_trace)

            handles.append(module.register_forward_hook(hook))
    try:
        yield log
    finally:
        for h in handles:
            h.remove()
        for module, flag in saved:
            module.diagnostics = flag
