r"""The analytic backward of TEL's descent: :func:`tel_descent` and its two programs.

The forward keeps :math:`z` (and a few numbers per sample and step); the backward recomputes the iterates
and runs the adjoint recursion of the K steps in reverse.  For one step
:math:`y_{k+1} = y_k - \eta_k\,((y_k - z) - T_k\varphi(y_k))` and the adjoint
:math:`\bar y_{k+1} = \partial L/\partial y_{k+1}`:

.. math::

    \bar y_k = \bar y_{k+1}\bigl(1 - \eta_k(1 - T_k\varphi'(y_k))\bigr)
        + \bar S_k\,\partial\hat S/\partial y_k, \qquad
    \bar z \mathrel{+}= \eta_k\,\bar y_{k+1}, \qquad
    \bar\eta_k = -\textstyle\sum \bar y_{k+1}\,\nabla F_{T_k}(y_k), \qquad
    \bar T_k \mathrel{+}= \eta_k\textstyle\sum_i \bar y_{k+1,i}\,\varphi(y_{k,i}),

with :math:`\bar S_k` the adjoint of the entropy estimate that set :math:`T_k` (the temperature
recursion runs backwards alongside: :math:`\bar T_{k-1} = (1-\beta)\bar T_k`).  Activation
memory is flat in K but for those few numbers; the backward's scratch space is bounded by working
through the samples in chunks (each sample descends on its own, under the built-in rules).
Programs:

* :class:`StepwiseProgram` -- every entropy and temperature rule: each step's adjoint is the
  vector-Jacobian product of that one step, recomputed (the unrolled graph's arithmetic, to
  rounding, for custom entropies and the MLP estimator as well).  Gradients reach the
  registered parameters of the entropy and the rule (``named_parameters()``); samples are
  replayed in chunks only for rules whose class declares ``samples_independent``;
* :class:`~thermonn.functional.tel_ops.FusedProgram` -- the built-in primal entropies
  (``logcosh``, ``gate``) with Gaussian, running or constant temperatures: the recursion above in
  closed form, fused by ``torch.compile``.

Double backward is refused (the backward is once-differentiable); ``torch.func`` transforms,
tracing and export run the loop itself (see :func:`_plain`).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from thermonn.functional.entropy import Entropy
from thermonn.functional.tel import (
    KERNELS,
    TELResult,
    TemperatureUpdate,
    _Recorder,
    unrolled_descent,
)

__all__ = ["DescentProgram", "StepwiseProgram", "check_kernel", "select_program", "tel_descent"]

_SCRATCH_ELEMENTS = 1 << 18
"""Floor of the backward's scratch space per chunk of samples (elements); above it, a quarter of
the projection's size."""


def chunk_rows(rows: int, features: int, copies: int) -> int:
    """Samples per backward chunk: ``copies`` iterates of that many samples fit the scratch
    budget, ``max(2^18, rows * features / 4)`` elements -- flat in K."""
    budget = max(_SCRATCH_ELEMENTS, rows * features // 4)
    return max(1, min(rows, budget // max(1, copies * features)))


class DescentProgram(abc.ABC):
    """How one TEL configuration runs: :meth:`run` returns :math:`y_K` (and the trace) with
    gradients attached by an analytic backward."""

    def __init__(self, entropy: Entropy, temperature: TemperatureUpdate) -> None:
        self.entropy, self.temperature = entropy, temperature

    @abc.abstractmethod
    def run(self, z: Tensor, etas: Tensor, diagnostics: bool) -> TELResult: ...


class _Descent(torch.autograd.Function):
    """``y_K`` from ``(z, etas, *tensors)`` by a :class:`StepwiseProgram`; saves the inputs and
    the temperature rule's memo, never the iterates."""

    @staticmethod
    def forward(
        ctx: Any,
        program: StepwiseProgram,
        record: _Recorder | None,
        z: Tensor,
        etas: Tensor,
        *tensors: Tensor,
    ) -> Tensor:
        y, saved = program.forward(z, etas, record)
        ctx.program, ctx.n_tensors = program, len(tensors)
        ctx.save_for_backward(z, etas, *tensors, *saved)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        z, etas, *rest = ctx.saved_tensors
        n = ctx.n_tensors
        grads = ctx.program.backward(z, etas, tuple(rest[:n]), tuple(rest[n:]), grad)
        return (None, None, *grads)


def _plain(z: Tensor, etas: Tensor) -> bool:
    """Run the plain loop: inside ``torch.func`` transforms and forward-mode AD (which
    differentiate it themselves), while tracing or exporting (``torch.jit.trace``, ONNX,
    ``torch.export``: the graph must be the layer's own arithmetic, not an opaque operator),
    and for an empty batch."""
    return (
        torch._C._are_functorch_transforms_active()
        or _forward_ad_active(z)
        or _forward_ad_active(etas)
        or torch.jit.is_tracing()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_exporting()
        or z.numel() == 0
    )


def _forward_ad_active(z: Tensor) -> bool:
    """``z`` carries a forward-mode tangent (``torch.autograd.forward_ad``)."""
    fwad = torch.autograd.forward_ad
    return getattr(fwad, "_current_level", -1) >= 0 and fwad.unpack_dual(z).tangent is not None


def check_kernel(kernel: object) -> str:
    """``kernel`` must be one of :data:`~thermonn.functional.tel.KERNELS`."""
    if not isinstance(kernel, str):
        raise TypeError(f"kernel: expected a str, one of {KERNELS}, got {type(kernel).__name__}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    return kernel


def select_program(
    entropy: Entropy, temperature: TemperatureUpdate, kernel: str = "auto"
) -> DescentProgram:
    """The fused closed-form program where it applies, else the step-wise one."""
    from thermonn.functional.tel_ops import FusedProgram

    fused = FusedProgram.of(entropy, temperature, kernel=kernel)
    return StepwiseProgram(entropy, temperature) if fused is None else fused


def tel_descent(
    z: Tensor,
    *,
    entropy: Entropy,
    temperature: TemperatureUpdate,
    etas: Tensor,
    diagnostics: bool = False,
    kernel: str = "auto",
) -> TELResult:
    r"""Run :math:`K` = ``len(etas)`` free-energy descent steps from :math:`y_0 = z`.

    Args:
        z: the projection :math:`Wx + b`, shape ``(..., d)``; the descent reads
            ``entropy.descent_input(z)`` (``z`` itself, or clipped where the output is saturated)
            in ``entropy.descent_dtype(z.dtype)`` (float32 for float16 dual entropies), the
            diagnostics ``z``.
        entropy: the entropy strategy; its descent hooks run its step rule (primal or dual
            coordinate).
        temperature: the temperature rule (an ``nn.Module`` implementing
            :class:`TemperatureUpdate`), giving :math:`T_0` and :math:`T_{k+1}` from the iterates.
        etas: step sizes :math:`\eta_0, \dots, \eta_{K-1}`, shape ``(K,)``.
        diagnostics: also return a :class:`TELTrace` (extra statistics per step; its cost is
            measured in ``benchmarks/results/tel_overhead.md``).
        kernel: one of :data:`KERNELS`, for the fused kernels of the built-in entropies.

    Returns:
        :class:`TELResult` with ``output`` :math:`y_K` of shape ``(..., d)`` and ``z``'s dtype,
        its gradients from the program's analytic backward, or the plain loop where
        :func:`_plain` says so.
    """
    check_kernel(kernel)
    diagnostics = diagnostics and not torch.compiler.is_compiling()  # kept out of graphs
    if _plain(z, etas):
        return StepwiseProgram(entropy, temperature).unrolled(z, etas, diagnostics)
    return select_program(entropy, temperature, kernel).run(z, etas, diagnostics)


@contextmanager
def _parameters(slots: Sequence[tuple[nn.Module, str]], values: Sequence[Tensor]) -> Iterator[None]:
    """Temporarily read ``values`` for the parameters in ``slots`` (as ``functional_call`` does)."""
    old = [module._parameters[name] for module, name in slots]
    try:
        for (module, name), value in zip(slots, values, strict=True):
            module._parameters[name] = value  # type: ignore[assignment]
        yield
    finally:
        for (module, name), previous in zip(slots, old, strict=True):
            module._parameters[name] = previous


class _VJP:
    """Vector-Jacobian products of small recomputed graphs, accumulating the gradients of the
    parameter leaves as they go."""

    def __init__(self, leaves: Sequence[Tensor]) -> None:
        self.leaves = [p for p in leaves if p.requires_grad]
        self.grads: list[Tensor | None] = [None] * len(self.leaves)

    def __call__(
        self, out: Tensor, inputs: Sequence[Tensor], grad: Tensor | None
    ) -> list[Tensor | None]:
        if grad is None or not out.requires_grad:
            return [None] * len(inputs)
        wrt = [*inputs, *self.leaves]
        grads = torch.autograd.grad(out, wrt, grad, allow_unused=True)
        for i, g in enumerate(grads[len(inputs) :]):
            if g is not None:
                old = self.grads[i]
                self.grads[i] = g if old is None else old + g
        return list(grads[: len(inputs)])


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


def _leaf(t: Tensor) -> Tensor:
    return t.detach().requires_grad_(t.is_floating_point())


class StepwiseProgram(DescentProgram):
    """Any entropy and temperature rule: the forward runs :func:`unrolled_descent` without
    gradient; the backward replays each chunk's iterates and takes the adjoint of one step (and of
    one temperature update) at a time."""

    def __init__(self, entropy: Entropy, temperature: TemperatureUpdate) -> None:
        super().__init__(entropy, temperature)
        modules: list[nn.Module] = [entropy, temperature]  # type: ignore[list-item]
        self.slots = [
            (module.get_submodule(name.rpartition(".")[0]), name.rpartition(".")[2])
            for module in modules
            for name, _ in module.named_parameters()
        ]

    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(module._parameters[name] for module, name in self.slots)  # type: ignore[misc]

    def _replica(self) -> bool:
        """A ``DataParallel`` replica keeps its parameters as plain attributes, outside
        ``named_parameters()``: the backward could not reach them, so the plain loop runs."""
        modules: list[Any] = [self.entropy, self.temperature]
        return any(getattr(m, "_is_replica", False) for top in modules for m in top.modules())

    def unrolled(self, z: Tensor, etas: Tensor, diagnostics: bool) -> TELResult:
        """The plain differentiable loop (``torch.func`` transforms, ``torch.compile``)."""
        record = _Recorder(self.entropy, self.temperature, z) if diagnostics else None
        y = unrolled_descent(
            z, entropy=self.entropy, temperature=self.temperature, etas=etas,
            memo=self.temperature.memo(), record=record,
        )  # fmt: skip
        return TELResult(y, None if record is None else record.trace())

    def run(self, z: Tensor, etas: Tensor, diagnostics: bool) -> TELResult:
        """The autograd Function; under ``torch.compile`` the unrolled loop, which the compiler
        differentiates itself (it cannot trace the step-wise backward's ``autograd.grad``)."""
        if torch.compiler.is_compiling() or self._replica():
            return self.unrolled(z, etas, diagnostics)
        record = _Recorder(self.entropy, self.temperature, z) if diagnostics else None
        tensors = self.tensors()
        if torch.is_grad_enabled() and any(t.requires_grad for t in (z, etas, *tensors)):
            y = _Descent.apply(self, record, z, etas, *tensors)
        else:
            y, _ = self.forward(z, etas, record)
        return TELResult(y, None if record is None else record.trace())

    def forward(
        self, z: Tensor, etas: Tensor, record: _Recorder | None
    ) -> tuple[Tensor, tuple[Tensor | None, ...]]:
        """``y_K`` without gradient, and the memo the backward replays with."""
        memo = self.temperature.memo()
        with torch.no_grad():
            y = unrolled_descent(
                z, entropy=self.entropy, temperature=self.temperature, etas=etas, memo=memo,
                record=record,
            )  # fmt: skip
        return y, (memo,)

    def backward(
        self,
        z: Tensor,
        etas: Tensor,
        tensors: tuple[Tensor, ...],
        saved: tuple[Tensor | None, ...],
        grad: Tensor,
    ) -> tuple[Tensor | None, ...]:
        (memo,) = saved
        d, steps = z.shape[-1], etas.shape[0]
        zf, gf = z.reshape(-1, d), grad.reshape(-1, d)
        rows = zf.shape[0]
        # only a class that declares it itself: a subclass may couple samples
        independent = vars(type(self.temperature)).get("samples_independent", False)
        size = chunk_rows(rows, d, steps + 2) if independent else rows
        leaves = [_leaf(t) for t in tensors]
        vjp = _VJP(leaves)
        gz = torch.empty_like(zf)
        geta: Tensor | None = None
        with _parameters(self.slots, leaves), torch.enable_grad():
            for lo in range(0, rows, size):
                gzc, gec = self._chunk(zf[lo : lo + size], gf[lo : lo + size], etas, memo, vjp)
                gz[lo : lo + size] = gzc
                geta = _add(geta, gec)
        it = iter(vjp.grads)
        gt = [next(it) if leaf.requires_grad else None for leaf in leaves]
        return (gz.reshape(z.shape), geta, *gt)

    def _chunk(
        self, z: Tensor, grad: Tensor, etas: Tensor, memo: Tensor | None, vjp: _VJP
    ) -> tuple[Tensor, Tensor]:
        entropy, rule = self.entropy, self.temperature
        steps = etas.shape[0]
        dtype = entropy.descent_dtype(z.dtype)
        z_in = z.detach().requires_grad_()
        z_descent = entropy.descent_input(z_in.to(dtype))
        zd = z_descent.detach().requires_grad_()
        eta = [e.detach().requires_grad_() for e in etas.to(dtype).unbind()]
        with torch.no_grad():  # replay: the iterates and temperatures of this chunk
            states = [entropy.init(zd)]
            temps = [rule.initial(entropy.output(states[0]), memo)[0]]
            for k in range(steps):
                states.append(entropy.step(states[k], zd, temps[k].to(dtype), eta[k]))
                if k + 1 < steps:
                    temps.append(rule.next(temps[k], entropy.output(states[k + 1]), k + 1, memo)[0])
        s_out = _leaf(states[steps])
        (adj,) = vjp(entropy.output(s_out).to(z.dtype), [s_out], grad)
        z_bar: Tensor | None = None
        t_bar: Tensor | None = None
        eta_bar = []
        for k in reversed(range(steps)):
            if k + 1 < steps:  # T_{k+1} = next(T_k, y_{k+1})
                t_in, s_in = _leaf(temps[k]), _leaf(states[k + 1])
                t_next = rule.next(t_in, entropy.output(s_in), k + 1, memo)[0]
                t_bar, ds = vjp(t_next, [t_in, s_in], t_bar)
                adj = _add(adj, ds)
            s_in, t_in = _leaf(states[k]), _leaf(temps[k])
            s_next = entropy.step(s_in, zd, t_in.to(dtype), eta[k])
            adj, dz, dt, de = vjp(s_next, [s_in, zd, t_in, eta[k]], adj)
            z_bar, t_bar = _add(z_bar, dz), _add(t_bar, dt)
            eta_bar.append(torch.zeros_like(eta[k]) if de is None else de)
        s_in = _leaf(states[0])
        (ds,) = vjp(rule.initial(entropy.output(s_in), memo)[0], [s_in], t_bar)
        adj = _add(adj, ds)
        (dz,) = vjp(entropy.init(zd), [zd], adj)
        (gz,) = vjp(z_descent, [z_in], _add(z_bar, dz))
        gz = torch.zeros_like(z) if gz is None else gz
        return gz, torch.stack(eta_bar[::-1]).to(etas.dtype)
