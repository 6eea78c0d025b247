r"""Running TEL's fused kernels (:mod:`thermonn.functional.tel_fused`): the custom operators
``thermonn::tel_forward`` / ``thermonn::tel_backward`` with their autograd formula, the chunking
over samples, the per-configuration ``torch.compile`` cache, and :class:`FusedProgram`, the
descent program that calls them.

A compiled kernel sees one shape per configuration: samples go in chunks of
:func:`_rows_per_call` (the last one padded with zero samples, which add zero to every sum), and
each configuration compiles a fresh copy of the kernel (Dynamo keeps a few entries per code
object).  If compiling fails (no working C++ compiler, say) the configuration warns once and runs
the same arithmetic eagerly.
"""

from __future__ import annotations

import shutil
import types
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from thermonn.functional.entropy import Entropy
from thermonn.functional.tel import TELResult, TELTrace, TemperatureUpdate
from thermonn.functional.tel_adjoint import DescentProgram, StepwiseProgram, chunk_rows
from thermonn.functional.tel_fused import (
    Config,
    backward_kernel,
    forward_kernel,
    wide_dtype,
)
from thermonn.functional.temperature import row_threshold

__all__ = ["FusedProgram"]

_COMPILE_MIN_ELEMENTS = 1 << 16
_CHUNK_ELEMENTS = 1 << 17  # elements per compiled call at K = 4 (see _rows_per_call)
_CHUNK_COPIES_K4 = 12  # the backward's chunk-sized buffers at K = 4 (2K + 4)

_COMPILED: dict[tuple[Any, ...], Callable[..., Any]] = {}
_FAILED: dict[tuple[Any, ...], str] = {}  # configurations whose compile failed: run eagerly


_HAVE_CXX = any(shutil.which(c) for c in ("g++", "c++", "clang++"))  # once: Inductor's CPU backend


def _compiler_available(device: torch.device) -> bool:
    return device.type == "cuda" or (device.type == "cpu" and _HAVE_CXX)


def _compile_errors() -> tuple[type[BaseException], ...]:
    """What a failed compile raises (evaluated only when something was raised: the compiler's
    modules stay unimported until then)."""
    import torch._dynamo.exc
    import torch._inductor.exc

    return (
        torch._dynamo.exc.TorchDynamoException,  # BackendCompilerFailed wraps C++ build errors
        torch._inductor.exc.InductorError,
        torch._inductor.exc.CppCompileError,
    )


def _compiled_copy(fn: Callable[..., Any], key: tuple[Any, ...]) -> Callable[..., Any]:
    """``torch.compile`` of a fresh copy of ``fn`` for one configuration: its own code object,
    so each configuration has its own compile cache (Dynamo keeps a few entries per code
    object) and a shape change recompiles only its own."""
    if key not in _COMPILED:
        copy = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__)
        dynamic = None if key[0] == "forward" else False  # the backward pads to one shape
        _COMPILED[key] = torch.compile(copy, fullgraph=True, dynamic=dynamic)
    return _COMPILED[key]


def _call(name: str, fn: Callable[..., Any], compiled: bool, *args: Any) -> Any:
    """``fn(*args)``, through ``torch.compile`` when ``compiled``; if compiling one
    configuration fails (no working compiler, say), warn once and run it eagerly from then on --
    the same arithmetic."""
    z, cfg = args[0], args[-1]
    key = (name, cfg, z.dtype, z.device.type, z.shape[-1])
    if compiled and key not in _FAILED:
        try:
            return _compiled_copy(fn, key)(*args)
        except _compile_errors() as err:  # a failure to compile, not one of the arithmetic
            _FAILED[key] = f"{type(err).__name__}: {err}"
            warnings.warn(
                f"thermonn: torch.compile of a fused TEL kernel failed ({_FAILED[key][:300]}); "
                f"running it eagerly (same numbers, slower). Pass kernel='eager' to skip "
                f"compiling.",
                RuntimeWarning,
                stacklevel=4,
            )
    return fn(*args)


def _config(
    entropy: str, temperature: str, steps: int, floats: list[float], flags: list[bool]
) -> Config:
    beta, t_min, t_max, eps = floats
    trace, estimates, rescale = flags
    return Config(entropy, temperature, steps, beta, t_min, t_max, eps, trace, estimates, rescale)


def _rows_per_call(rows: int, features: int, compiled: bool, copies: int) -> int:
    """Samples per kernel call.  Compiled: a fixed number, whatever the batch (a smaller batch is
    padded up to it, so one compiled shape serves every batch size), such that ``copies``
    chunk-sized buffers fit about 12 * 2^17 elements -- the chunk's iterates stay in L2 at K = 4
    and the scratch does not grow with K.  Eagerly: the scratch budget of :func:`chunk_rows`."""
    if compiled:
        return max(1, _CHUNK_COPIES_K4 * _CHUNK_ELEMENTS // (copies * features))
    return chunk_rows(rows, features, copies)


def _over_chunks(
    name: str,
    fn: Callable[..., Any],
    compiled: bool,
    size: int,
    per_row: list[Tensor],
    outputs: list[Tensor],
    shared: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    """``fn(*chunk(per_row), *chunk(outputs), *shared)`` for each chunk of ``size`` samples; the
    kernel writes its large outputs into the chunks of ``outputs`` and returns small per-sample
    ones.  A compiled kernel sees one shape: the last chunk is padded with zero samples (which
    contribute zero to every sum) and cut back."""
    rows = outputs[0].shape[0]
    results = []
    for lo in range(0, rows, size):
        hi = min(rows, lo + size)
        n = hi - lo
        pieces = [t[lo:hi] if t.shape[0] == rows else t for t in per_row]
        outs = [o[lo:hi] for o in outputs]
        if not (compiled and n < size):
            results.append(_call(name, fn, compiled, *pieces, *outs, *shared))
            continue
        pieces = [
            torch.cat([p, p.new_zeros(size - n, *p.shape[1:])]) if t.shape[0] == rows else p
            for p, t in zip(pieces, per_row, strict=True)
        ]
        scratch = [o.new_empty(size, *o.shape[1:]) for o in outs]
        res = _call(name, fn, compiled, *pieces, *scratch, *shared)
        for o, t in zip(outs, scratch, strict=True):
            o.copy_(t[:n])
        results.append(tuple(r[:n] if isinstance(r, Tensor) and r.dim() else r for r in res))
    return results


@torch.library.custom_op("thermonn::tel_forward", mutates_args=())
def _forward_op(
    z: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    entropy: str,
    temperature: str,
    floats: list[float],
    flags: list[bool],
    compiled: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    cfg = _config(entropy, temperature, etas.shape[0], floats, flags)
    rows, d = z.shape
    y = torch.empty_like(z)
    size = _rows_per_call(rows, d, compiled, _CHUNK_COPIES_K4)  # chunks as at K = 4
    outs = _over_chunks("forward", forward_kernel, compiled, size, [z], [y], (etas, ent, temp, cfg))
    small = [
        torch.cat([o[i] for o in outs]) if outs[0][i].numel() else outs[0][i] for i in range(5)
    ]
    return (y, *small)  # type: ignore[return-value]


@_forward_op.register_fake
def _(z, etas, ent, temp, entropy, temperature, floats, flags, compiled):
    steps, rows = etas.shape[0], z.shape[0]
    trace, estimates, rescale = flags
    gaussian = temperature == "gaussian"
    n_est = (steps + 1 if trace else steps) if (trace or estimates) else 0
    return (
        torch.empty_like(z),
        z.new_empty((rows, steps) if gaussian else (0,)),
        z.new_empty((rows, 4 * steps) if gaussian else (0,)),
        z.new_empty((rows, n_est) if n_est else (0,)),
        z.new_empty((rows, steps + 1, 4) if trace else (0,), dtype=wide_dtype(z)),
        z.new_empty((rows,) if not rescale and (gaussian or n_est) else (0,)),
    )


@torch.library.custom_op("thermonn::tel_backward", mutates_args=())
def _backward_op(
    z: Tensor,
    grad: Tensor,
    etas: Tensor,
    ent: list[Tensor],
    temp: list[Tensor],
    t_rows: Tensor,
    packed: Tensor,
    entropy: str,
    temperature: str,
    floats: list[float],
    compiled: bool,
) -> list[Tensor]:
    cfg = _config(entropy, temperature, etas.shape[0], floats, [False, False, False])
    rows, d = z.shape
    size = _rows_per_call(rows, d, compiled, 2 * cfg.steps + 4)
    dz = torch.empty_like(z)
    outs = _over_chunks(
        "backward", backward_kernel, compiled, size, [z, grad, t_rows, packed], [dz],
        (etas, ent, temp, cfg),
    )  # fmt: skip
    deta = sum(o[0].sum(0) for o in outs)
    dent = [sum(o[1][i] for o in outs).sum_to_size(e.shape) for i, e in enumerate(ent)]
    dtemp_rows = torch.cat([o[2] for o in outs])
    if cfg.temperature == "gaussian":
        dtemp = [dtemp_rows[:, 0].sum(), dtemp_rows[:, 1].sum()]
    elif cfg.temperature == "running":
        dtemp = [torch.cat([dtemp_rows.sum(0), temp[0].new_zeros(temp[0].shape[0] - cfg.steps)])]
    else:
        dtemp = [dtemp_rows.sum()]
    return [
        dz,
        deta,
        *dent,
        *[g.reshape(t.shape).to(t.dtype) for g, t in zip(dtemp, temp, strict=True)],
    ]


@_backward_op.register_fake
def _(z, grad, etas, ent, temp, t_rows, packed, entropy, temperature, floats, compiled):
    return [torch.empty_like(z), torch.empty_like(etas)] + [torch.empty_like(t) for t in ent + temp]


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    z, etas, ent, temp, entropy, temperature, floats, _, compiled = inputs
    ctx.save_for_backward(z, etas, output[1], output[2], *ent, *temp)
    ctx.meta = (len(ent), entropy, temperature, floats, compiled)


def _backward(ctx: Any, gy: Tensor, *unused: Tensor) -> tuple[Any, ...]:
    z, etas, t_rows, packed, *tensors = ctx.saved_tensors
    n_ent, entropy, temperature, floats, compiled = ctx.meta
    ent, temp = tensors[:n_ent], tensors[n_ent:]
    grads = _backward_op(
        z, gy.contiguous(), etas, ent, temp, t_rows, packed, entropy, temperature, floats, compiled
    )
    dz, deta, rest = grads[0], grads[1], grads[2:]
    return dz, deta, rest[:n_ent], rest[n_ent:], None, None, None, None, None


torch.library.register_autograd("thermonn::tel_forward", _backward, setup_context=_setup_context)


class FusedProgram(DescentProgram):
    """The closed-form kernels for an entropy and temperature rule that have a
    :meth:`~thermonn.functional.Entropy.fused_form`; see the module docstring.  Built per call by
    :meth:`of`, which reads the forms (and the rule's memo) once."""

    def __init__(
        self,
        entropy: Entropy,
        temperature: TemperatureUpdate,
        forms: tuple[tuple[str, list[Tensor]], tuple[str, list[Tensor]]],
        *,
        kernel: str,
    ) -> None:
        super().__init__(entropy, temperature)
        self.forms, self.kernel = forms, kernel

    @classmethod
    def of(
        cls, entropy: Entropy, temperature: TemperatureUpdate, *, kernel: str
    ) -> FusedProgram | None:
        """The program, or ``None`` where the entropy or the rule has no closed form."""
        ent_form, temp_form = entropy.fused_form(), temperature.fused_form(temperature.memo())
        if ent_form is None or temp_form is None:
            return None
        return cls(entropy, temperature, (ent_form, temp_form), kernel=kernel)

    def run(self, z: Tensor, etas: Tensor, diagnostics: bool) -> TELResult:
        entropy, rule = self.entropy, self.temperature
        ent_form, temp_form = self.forms
        compute = torch.float64 if z.dtype == torch.float64 else torch.float32
        d = z.shape[-1]
        zf = z.reshape(-1, d).to(compute)
        ent = [e.to(compute) for e in ent_form[1]]
        temp = [t.to(compute) for t in temp_form[1]]
        running = temp_form[0] == "running"
        estimates = running and getattr(rule, "training", False)
        record = diagnostics  # tel_descent keeps it off under torch.compile
        # On the CPU the Gaussian estimate skips its per-step huge-row check: the iterates stay
        # within max|z| + T_max sup|phi| (every step is a convex combination), so below half
        # its threshold no sample needs it; the kernel reports max|z| and the rare batch with a
        # huge finite sample is redone step-wise.  (A GPU keeps the check: no host sync.)
        rescale = zf.device.type != "cpu" or torch.compiler.is_compiling()
        compiled = self._compiled(z)
        floats = [float(getattr(rule, "beta", 1.0)), rule.t_min, rule.t_max, rule.eps]  # type: ignore[attr-defined]
        y, _, _, est, trace, peak = _forward_op(
            zf, etas.to(compute), ent, temp, ent_form[0], temp_form[0], floats,
            [record, estimates, rescale], compiled,
        )  # fmt: skip
        if peak.numel():
            huge = (peak > 0.5 * row_threshold(compute)) & torch.isfinite(peak)
            if bool(huge.any()):
                return StepwiseProgram(entropy, rule).run(z, etas, diagnostics)
        if estimates or (record and running):
            for k in range(est.shape[1]):
                rule.observe(z, k, est[:, k : k + 1].detach())
        out = y.to(z.dtype).reshape(z.shape)
        return TELResult(out, _trace(trace.detach()) if record else None)

    def _compiled(self, z: Tensor) -> bool:
        """Whether the operator runs its kernels compiled.  Under an outer ``torch.compile`` the
        operator is one opaque node; its kernels still run compiled, when the graph runs."""
        if self.kernel == "eager":
            return False
        if self.kernel == "compiled":
            return True
        return z.numel() >= _COMPILE_MIN_ELEMENTS and _compiler_available(z.device)


def _trace(rows: Tensor) -> TELTrace:
    """Batch means of the per-sample trace ``(R, K+1, 4)`` in float64, as a float32 trace."""
    mean = rows.mean(0)
    change = (rows[:, :, 2] - rows[:, :1, 2]).mean(0)
    t, s, f, g = mean.unbind(-1)
    return TELTrace(t.float(), s.float(), f.float(), g.float(), change.float())
