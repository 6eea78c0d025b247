r"""The TEL descent core: K gradient steps on the free energy, with diagnostics.

.. math::

    z = W x + b, \qquad F_T(y) = \tfrac12\lVert y - z\rVert^2 - T\,S(y),

    y_0 = z, \qquad y_{k+1} = y_k - \eta_k\,\nabla F_{T_k}(y_k), \qquad k = 0, \dots, K-1,

with :math:`T_k` from a temperature rule and the step rule named by the entropy (primal or dual
coordinate, see :mod:`thermonn.functional.entropy.descent`).  Every module that runs free-energy
descent calls :func:`tel_descent`; there is no second copy of this loop.

Numeric range: for every finite :math:`z` and temperatures within
:func:`~thermonn.functional.temperature_bounds` of ``z``'s dtype, the output and the gradients
(with respect to ``z``, the step sizes, the temperatures and the entropy's parameters) are finite
-- the step rules and estimators own the argument.  The core couples no two samples: a sample
with a NaN or an infinity yields a non-finite output row and leaves every other row exactly as it
would be without it, as :class:`torch.nn.Linear` does; an empty batch yields an empty output.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import Tensor

from thermonn.functional.entropy import Entropy
from thermonn.functional.free_energy import free_energy, free_energy_grad

__all__ = [
    "TELResult",
    "TELTrace",
    "TemperatureUpdate",
    "tel_descent",
]


class TELTrace(NamedTuple):
    """Per-step diagnostics of one forward call; batch means, detached, float32, shape ``(K+1,)``.

    Entry ``k`` describes the iterate :math:`y_k` (``k = 0`` is the projection :math:`z`):

    Attributes:
        temperature: :math:`T_k`, the temperature of step ``k`` (``T_K`` is the one a further step
            would use).
        entropy: :math:`\\hat S_k`, the rule's entropy estimate of :math:`y_k`.
        free_energy: :math:`F_{T_k}(y_k)` per sample (sum over features).
        grad_norm: :math:`\\lVert\\nabla F_{T_k}(y_k)\\rVert_2` per sample.
    """

    temperature: Tensor
    entropy: Tensor
    free_energy: Tensor
    grad_norm: Tensor


class TELResult(NamedTuple):
    """Output of :func:`tel_descent`: ``output`` is :math:`y_K`; ``trace`` is ``None`` unless
    diagnostics were requested."""

    output: Tensor
    trace: TELTrace | None


class TemperatureUpdate(Protocol):
    r"""The per-step temperature update the descent core calls: :math:`T_0` from :math:`y_0`,
    then :math:`T_k` from :math:`T_{k-1}` and :math:`y_k` (implemented by the rules of
    :mod:`thermonn.nn.temperature`).

    ``initial(y0)`` and ``next(t, y, k)`` return ``(T, S_hat)``; ``S_hat`` may be ``None`` when the
    rule did not need it, and ``estimate(y)`` then supplies it for diagnostics.
    """

    def initial(self, y: Tensor) -> tuple[Tensor, Tensor | None]: ...

    def next(self, t: Tensor, y: Tensor, k: int) -> tuple[Tensor, Tensor | None]: ...

    def estimate(self, y: Tensor) -> Tensor: ...


def _record(
    entropy: Entropy,
    temperature: TemperatureUpdate,
    state: Tensor,
    z: Tensor,
    t: Tensor,
    s_hat: Tensor | None,
) -> Tensor:
    """``(T, S_hat, F, ||grad F||)`` batch means for one iterate, in float32, without gradient."""
    with torch.no_grad():
        if s_hat is None:
            s_hat = temperature.estimate(entropy.output(state))
        state32, z32, t32 = state.float(), z.float(), t.float().expand(*z.shape[:-1], 1)
        f = free_energy(entropy, state32, z32, t32)
        g = torch.linalg.vector_norm(free_energy_grad(entropy, state32, z32, t32), dim=-1)
        return torch.stack([t32.mean(), s_hat.float().mean(), f.mean(), g.mean()])


def tel_descent(
    z: Tensor,
    *,
    entropy: Entropy,
    temperature: TemperatureUpdate,
    etas: Tensor,
    diagnostics: bool = False,
) -> TELResult:
    r"""Run :math:`K` = ``len(etas)`` free-energy descent steps from :math:`y_0 = z`.

    Args:
        z: the projection :math:`Wx + b`, shape ``(..., d)``; the descent reads
            ``entropy.descent_input(z)`` (``z`` itself, or clipped where the output is saturated)
            in ``entropy.descent_dtype(z.dtype)`` (float32 for float16 dual entropies), the
            diagnostics ``z``.
        entropy: the entropy strategy; its descent hooks run its step rule (primal or dual
            coordinate).
        temperature: the temperature rule, giving :math:`T_0` and :math:`T_{k+1}` from the iterates.
        etas: step sizes :math:`\eta_0, \dots, \eta_{K-1}`, shape ``(K,)``.
        diagnostics: also return a :class:`TELTrace` (extra statistics per step; its cost is
            measured in ``benchmarks/results/tel_overhead.md``).

    Returns:
        :class:`TELResult` with ``output`` :math:`y_K` of shape ``(..., d)`` and ``z``'s dtype.
    """
    steps = etas.shape[0]
    dtype = entropy.descent_dtype(z.dtype)
    etas = etas.to(dtype)
    z_descent = entropy.descent_input(z.to(dtype))
    state = entropy.init(z_descent)
    y = entropy.output(state)
    t, s_hat = temperature.initial(y)
    rows = []
    for k in range(steps):
        if diagnostics:
            rows.append(_record(entropy, temperature, state, z, t, s_hat))
        state = entropy.step(state, z_descent, t.to(dtype), etas[k])
        y = entropy.output(state)
        if k + 1 < steps or diagnostics:  # T_K is only needed for the trace
            t, s_hat = temperature.next(t, y, k + 1)
    trace = None
    if diagnostics:
        rows.append(_record(entropy, temperature, state, z, t, s_hat))
        trace = TELTrace(*torch.stack(rows).unbind(-1))
    return TELResult(y.to(z.dtype), trace)
