r"""Collect TEL temperature/energy trajectories from a whole model, and flatten them for loggers.

The flat form (:func:`trace_scalars`, :meth:`DiagnosticsLog.scalars`) maps ``/``-separated tags
``{prefix}{layer}/{field}/{entry}`` to Python floats, for TensorBoard's ``add_scalar``,
Lightning's ``log_dict``, wandb's ``log`` and the like.  Per layer:

* ``{field}/k={k}`` -- entry :math:`k` of every :class:`~thermonn.TELTrace` field
  (``temperature``, ``entropy``, ``free_energy``, ``grad_norm``, ``free_energy_change``: whatever ``TELTrace._fields``
  lists), :math:`k` zero-padded to the digits of :math:`K` so that sorted order is step order
  (``k=00`` ... ``k=12`` for :math:`K = 12`);
* ``temperature/final`` -- :math:`T_K`;
* ``free_energy/drop`` -- :math:`F_0 - F_K` (from ``free_energy_change``, accumulated in float64),
  positive when the descent lowered the free energy;
* ``grad_norm/ratio`` -- :math:`\lVert\nabla F_K\rVert / \lVert\nabla F_0\rVert`, below 1 when
  the descent contracts (``inf`` when only :math:`\nabla F_0` is 0, NaN when both are).

The ``k=`` values are the float32 trace values, exactly; the two summaries are computed from them
in float64.  NaN and infinities pass through unchanged, so a logger shows where a layer diverged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from thermonn._validation import check_bool
from thermonn.functional.tel import TELTrace
from thermonn.nn.tel import TEL

__all__ = [
    "SCALAR_REDUCTIONS",
    "SCALAR_STEPS",
    "DiagnosticsLog",
    "collect_diagnostics",
    "trace_scalars",
]

SCALAR_STEPS = ("all", "ends", "last", "none")
"""The per-step entries written: every :math:`k`; :math:`k = 0` and :math:`K`; :math:`K`; none."""

SCALAR_REDUCTIONS = ("mean", "last")
"""How :meth:`DiagnosticsLog.scalars` reduces a layer's calls: their mean trace, or the last one."""


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def _check_scalar_options(prefix: object, steps: object, summaries: object) -> None:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix: expected a str, got {type(prefix).__name__}")
    _check_choice("steps", steps, SCALAR_STEPS)
    check_bool("summaries", summaries)


def _scalars(trace: TELTrace, prefix: str, steps: str, summaries: bool) -> dict[str, float]:
    """:func:`trace_scalars` on checked options."""
    shapes = {tuple(f.shape) for f in trace}
    shape = shapes.pop()
    if shapes or len(shape) != 1 or shape[0] == 0:
        got = ", ".join(f"{n} {tuple(f.shape)}" for n, f in zip(trace._fields, trace, strict=True))
        raise ValueError(
            f"trace: expected the fields of one forward call, all of shape (K+1,), got {got}"
        )
    # one transfer and one sync for the whole trace; float64 holds every float32 value exactly
    values = torch.stack([f.detach() for f in trace]).to("cpu", torch.float64)
    last = shape[0] - 1
    ks = {"all": range(last + 1), "ends": sorted({0, last}), "last": [last], "none": []}[steps]
    width = len(str(last))
    out = {
        f"{prefix}{field}/k={k:0{width}d}": row[k]
        for field, row in zip(trace._fields, values.tolist(), strict=True)
        for k in ks
    }
    if summaries:
        v = dict(zip(trace._fields, values, strict=True))
        t, df, g = v["temperature"], v["free_energy_change"], v["grad_norm"]
        out[f"{prefix}temperature/final"] = t[-1].item()
        out[f"{prefix}free_energy/drop"] = -df[-1].item()  # F_0 - F_K, float64-accumulated
        out[f"{prefix}grad_norm/ratio"] = (g[-1] / g[0]).item()  # IEEE: x/0 = inf, 0/0 = nan
    return dict(sorted(out.items()))


def trace_scalars(
    trace: TELTrace | None, prefix: str = "", *, steps: str = "all", summaries: bool = True
) -> dict[str, float]:
    """One forward call's :class:`~thermonn.TELTrace` as a flat, sorted ``{tag: float}`` dict.

    Keys are ``{prefix}{field}/k={k}`` and the summaries ``{prefix}temperature/final``,
    ``{prefix}free_energy/drop`` and ``{prefix}grad_norm/ratio``, as described in
    :mod:`thermonn.nn.diagnostics`; ``prefix`` is prepended as given, so end it with ``/``.

    Args:
        trace: one call's trace (fields of shape ``(K+1,)``), e.g. :attr:`TEL.last_trace
            <thermonn.TEL.last_trace>`; ``None`` (a forward that recorded nothing) gives ``{}``.
        prefix: prepended to every key, e.g. ``"tel/encoder.0/"``.
        steps: the per-step entries, one of :data:`SCALAR_STEPS`: ``"all"``, ``"ends"``
            (:math:`k = 0` and :math:`K`), ``"last"`` (:math:`K`) or ``"none"``.
        summaries: also write the three summaries.

    Returns:
        ``{tag: value}``, values Python floats with NaN and infinities passed through.

    Example:
        >>> layer = thermonn.TEL(4, 8, steps=2)
        >>> y = layer(torch.randn(3, 4))
        >>> list(trace_scalars(layer.last_trace, "tel/", steps="none"))
        ['tel/free_energy/drop', 'tel/grad_norm/ratio', 'tel/temperature/final']
    """
    if trace is not None and not isinstance(trace, TELTrace):
        raise TypeError(f"trace: expected a TELTrace or None, got {type(trace).__name__}")
    _check_scalar_options(prefix, steps, summaries)
    return {} if trace is None else _scalars(trace, prefix, steps, summaries)


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

    def scalars(
        self,
        *,
        prefix: str = "tel/",
        steps: str = "all",
        reduce: str = "mean",
        summaries: bool = True,
    ) -> dict[str, float]:
        """Every layer's diagnostics as one flat, sorted ``{tag: float}`` dict for a logger.

        Each layer's calls are reduced to one trace -- ``reduce="mean"``: :meth:`mean` (so a
        summary is that of the mean trace: ``grad_norm/ratio`` is a ratio of mean norms);
        ``"last"``: its last call -- and written by :func:`trace_scalars` under
        ``{prefix}{layer}/``, or under ``prefix`` alone for the root module (a model that is
        itself a TEL).  Layers without a recorded call are left out (a log of no calls gives
        ``{}``); layers with different K each have their own ``k=`` keys.

        Args:
            prefix: prepended to every key as given.
            steps: the per-step entries, as in :func:`trace_scalars`.
            reduce: one of :data:`SCALAR_REDUCTIONS`: ``"mean"`` or ``"last"``.
            summaries: also write ``temperature/final``, ``free_energy/drop`` and
                ``grad_norm/ratio`` per layer.

        Example:
            >>> with thermonn.collect_diagnostics(model) as log:
            ...     model(x)
            >>> for tag, value in log.scalars(steps="none").items():
            ...     writer.add_scalar(tag, value, global_step)
        """
        _check_scalar_options(prefix, steps, summaries)
        _check_choice("reduce", reduce, SCALAR_REDUCTIONS)
        if reduce == "mean":
            traces = self.mean()
        else:
            traces = {name: calls[-1] for name, calls in self.items() if calls}
        out: dict[str, float] = {}
        for name, trace in traces.items():
            out.update(_scalars(trace, f"{prefix}{name}/" if name else prefix, steps, summaries))
        return dict(sorted(out.items()))


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
