r"""The TEL descent core: K gradient steps on the free energy, with diagnostics.

.. math::

    z = W x + b, \qquad F_T(y) = \tfrac12\lVert y - z\rVert^2 - T\,S(y),

    y_0 = z, \qquad y_{k+1} = y_k - \eta_k\,\nabla F_{T_k}(y_k), \qquad k = 0, \dots, K-1,

with :math:`T_k` from a temperature rule and the step rule named by the entropy (primal or dual
coordinate, see :mod:`thermonn.functional.entropy.descent`).  Every module that runs free-energy
descent calls :func:`~thermonn.functional.tel_descent` (in :mod:`thermonn.functional.tel_adjoint`);
:func:`unrolled_descent` is the loop over the K steps.

Gradients come from an analytic backward (:mod:`thermonn.functional.tel_adjoint`): the forward
keeps only :math:`z` (and a few numbers per sample), and the backward recomputes the iterates and
runs the adjoint recursion through the K steps in reverse, so activation memory does not grow with
K.  Built-in primal entropies with Gaussian or constant temperatures use closed-form adjoints in
fused kernels (:mod:`thermonn.functional.tel_fused`); every other combination uses step-wise
adjoints of the same loop.  Inside a ``torch.func`` transform (``vmap``, ``grad``, ``jvp``, ...)
the loop runs as plain differentiable operations, which the transform differentiates itself.

Numeric range: for every finite :math:`z` and temperatures within
:func:`~thermonn.functional.temperature_bounds` of ``z``'s dtype, the output and the gradients
(with respect to ``z``, the step sizes, the temperatures and the entropy's parameters) are finite
-- the step rules and estimators own the argument.  The core couples no two samples: a sample
with a NaN or an infinity yields a non-finite output row and leaves every other row exactly as it
would be without it, as :class:`torch.nn.Linear` does; an empty batch yields an empty output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from thermonn.functional.entropy import Entropy
from thermonn.functional.free_energy import free_energy, free_energy_grad

__all__ = [
    "KERNELS",
    "TELResult",
    "TELTrace",
    "TemperatureUpdate",
    "unrolled_descent",
]

KERNELS = ("auto", "compiled", "eager")
"""How the fused kernels run: ``"auto"`` compiles them with ``torch.compile`` for inputs large
enough to gain (and where a compiler is available), ``"compiled"`` always, ``"eager"`` never."""


class TELTrace(NamedTuple):
    """Per-step diagnostics of one forward call; batch means, detached, float32, shape ``(K+1,)``.

    Entry ``k`` describes the iterate :math:`y_k` (``k = 0`` is the projection :math:`z`):

    Attributes:
        temperature: :math:`T_k`, the temperature of step ``k`` (``T_K`` is the one a further step
            would use).
        entropy: :math:`\\hat S_k`, the rule's entropy estimate of :math:`y_k`.
        free_energy: :math:`F_{T_k}(y_k)` per sample (sum over features).
        grad_norm: :math:`\\lVert\\nabla F_{T_k}(y_k)\\rVert_2` per sample.
        free_energy_change: :math:`F_{T_k}(y_k) - F_{T_0}(y_0)` per sample, accumulated in float64
            (resolved even where :math:`F` itself is too large for float32 to show the descent).
    """

    temperature: Tensor
    entropy: Tensor
    free_energy: Tensor
    grad_norm: Tensor
    free_energy_change: Tensor


class TELResult(NamedTuple):
    """Output of :func:`tel_descent`: ``output`` is :math:`y_K`; ``trace`` is ``None`` unless
    diagnostics were requested."""

    output: Tensor
    trace: TELTrace | None


class TemperatureUpdate(Protocol):
    r"""The temperature rule the descent core calls: :math:`T_0` from :math:`y_0`, then
    :math:`T_k` from :math:`T_{k-1}` and :math:`y_k` (the rules of :mod:`thermonn.nn.temperature`,
    which are :class:`torch.nn.Module` s: gradients reach their ``named_parameters()``).

    ``memo()`` is captured once per forward (running statistics, or ``None``); ``initial(y0, memo)``
    and ``next(t, y, k, memo)`` are pure and return ``(T, S_hat)``, ``S_hat`` ``None`` when the rule
    did not need it (``estimate(y)`` then supplies it for diagnostics); ``observe(y, k, S_hat)``
    carries a forward's side effects (updating running statistics), and is never replayed;
    ``fused_form(memo)`` names the closed form the fused kernels know the rule by (or ``None``).
    """

    def memo(self) -> Tensor | None: ...

    def initial(self, y: Tensor, memo: Tensor | None) -> tuple[Tensor, Tensor | None]: ...

    def next(
        self, t: Tensor, y: Tensor, k: int, memo: Tensor | None
    ) -> tuple[Tensor, Tensor | None]: ...

    def observe(self, y: Tensor, k: int, s_hat: Tensor | None) -> None: ...

    def estimate(self, y: Tensor) -> Tensor: ...

    def fused_form(self, memo: Tensor | None) -> tuple[str, list[Tensor]] | None: ...

    def named_parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]: ...


class _Recorder:
    """Collects the trace rows ``(T, S_hat, F, ||grad F||, F - F_0)`` of a forward, without
    gradient; the free-energy change is accumulated in float64 against the first row."""

    def __init__(self, entropy: Entropy, temperature: TemperatureUpdate, z: Tensor) -> None:
        self.entropy, self.temperature, self.z = entropy, temperature, z
        self.rows: list[Tensor] = []
        self.f0: Tensor | None = None

    def __call__(self, state: Tensor, t: Tensor, s_hat: Tensor | None) -> None:
        with torch.no_grad():
            entropy, z = self.entropy, self.z
            if s_hat is None:
                s_hat = self.temperature.estimate(entropy.output(state))
            wide = torch.float32 if z.device.type == "mps" else torch.float64  # no MPS float64
            state64, z64 = state.to(wide), z.to(wide)
            t64 = t.to(wide).expand(*z.shape[:-1], 1)
            f = free_energy(entropy, state64, z64, t64)
            if self.f0 is None:
                self.f0 = f
            g = torch.linalg.vector_norm(free_energy_grad(entropy, state64, z64, t64), dim=-1)
            row = torch.stack([t64.mean(), s_hat.to(wide).mean(), f.mean(), g.mean()])
            self.rows.append(torch.cat([row, (f - self.f0).mean().reshape(1)]).float())

    def trace(self) -> TELTrace:
        return TELTrace(*torch.stack(self.rows).unbind(-1))


def unrolled_descent(
    z: Tensor,
    *,
    entropy: Entropy,
    temperature: TemperatureUpdate,
    etas: Tensor,
    memo: Tensor | None,
    observe: bool = True,
    record: _Recorder | None = None,
) -> Tensor:
    r"""The K-step loop itself: :math:`y_K` in ``z``'s dtype.  Differentiable where called with gradient (inside ``torch.func`` transforms); the
    analytic backward runs it without gradient and replays its steps.

    ``z`` is the projection as given; the descent reads ``entropy.descent_input(z)`` in
    ``entropy.descent_dtype(z.dtype)``.  With ``observe`` the temperature rule sees each iterate
    (running statistics move); ``record`` receives every iterate for the trace.
    """
    steps = etas.shape[0]
    dtype = entropy.descent_dtype(z.dtype)
    etas = etas.to(dtype)
    z_descent = entropy.descent_input(z.to(dtype))
    state = entropy.init(z_descent)
    y = entropy.output(state)
    t, s_hat = temperature.initial(y, memo)
    if observe:
        temperature.observe(y, 0, s_hat)
    for k in range(steps):
        if record is not None:
            record(state, t, s_hat)
        state = entropy.step(state, z_descent, t.to(dtype), etas[k])
        y = entropy.output(state)
        if k + 1 < steps or record is not None:  # T_K is only needed for the trace
            t, s_hat = temperature.next(t, y, k + 1, memo)
            if observe:
                temperature.observe(y, k + 1, s_hat)
    if record is not None:
        record(state, t, s_hat)
    return y.to(z.dtype)
