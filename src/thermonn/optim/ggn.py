r"""Generalised Gauss–Newton products through ``torch.func`` — no hand-written Jacobians.

For a model f(θ; x) and a loss ℓ(f) convex in the outputs, the GGN at θ is

.. math::  F = J^\top H J + \lambda I, \qquad J = \partial f / \partial \theta,\quad
           H = \partial^2 \ell / \partial f^2,

and F v = Jᵀ(H(J v)) + λv costs one forward-mode product (``torch.func.jvp``), one
Hessian-vector product in output space and one reverse-mode product (the ``vjp`` function,
built once per operator). :meth:`GGNOperator.dense` builds F with ``torch.func.jacrev`` — the
oracle, and exact natural gradient for small models.

H is taken from the loss's ``output_hessian`` rule: ``"cross_entropy"`` (mean over the batch,
H_b = (diag p_b − p_b p_bᵀ)/B), ``"mse"`` (``F.mse_loss`` mean over every element: 2I/N) and
``"bce_with_logits"`` (σ(1 − σ)/N), or any callable ``(outputs, u) -> H u``. For these losses
the GGN equals the Fisher information of the model's predictive distribution (Martens 2020).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, jvp, vjp

from thermonn._validation import check_float

__all__ = ["HESSIANS", "GGNOperator", "resolve_output_hessian"]

OutputHessian = Callable[[Tensor, Tensor], Tensor]


def _cross_entropy(outputs: Tensor, u: Tensor) -> Tensor:
    if outputs.dim() != 2:
        raise ValueError(
            f"output_hessian: the cross_entropy rule expected logits (batch, classes), got shape "
            f"{tuple(outputs.shape)}; for other layouts pass a callable (outputs, u) -> H u"
        )
    p = torch.softmax(outputs.detach(), dim=-1)
    batch = outputs.numel() // outputs.shape[-1]
    return (p * u - p * (p * u).sum(-1, keepdim=True)) / batch


def _mse(outputs: Tensor, u: Tensor) -> Tensor:
    return 2.0 * u / outputs.numel()


def _bce_with_logits(outputs: Tensor, u: Tensor) -> Tensor:
    s = torch.sigmoid(outputs.detach())
    return s * (1.0 - s) * u / outputs.numel()


HESSIANS: dict[str, OutputHessian] = {
    "cross_entropy": _cross_entropy,
    "mse": _mse,
    "bce_with_logits": _bce_with_logits,
}
"""Output-space Hessian rules by loss name (each matches the torch loss with mean reduction)."""


def resolve_output_hessian(rule: str | OutputHessian) -> OutputHessian:
    """A rule name from :data:`HESSIANS` or a callable ``(outputs, u) -> H u``.

    Raises:
        ValueError: an unknown name (the valid ones are listed).
        TypeError: neither a name nor a callable.
    """
    if isinstance(rule, str):
        if rule not in HESSIANS:
            raise ValueError(
                f"output_hessian: expected one of {sorted(HESSIANS)} or a callable, got {rule!r}"
            )
        return HESSIANS[rule]
    if not callable(rule):
        raise TypeError(f"output_hessian: expected a name or a callable, got {type(rule).__name__}")
    return rule


class GGNOperator:
    """F = JᵀHJ + ``damping``·I of ``model`` at its current parameters on one batch
    (``args``/``kwargs`` of its forward), as products with flat vectors over the parameters
    that require grad (in ``model.parameters()`` order).

    Buffers are passed as copies, so products never change running statistics; the forward
    must be deterministic (no active dropout) for F to be one matrix.
    """

    def __init__(
        self,
        model: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None = None,
        *,
        output_hessian: str | OutputHessian = "cross_entropy",
        damping: float = 0.0,
        params: list[Tensor] | None = None,
    ) -> None:
        self.damping = check_float("damping", damping, at_least=0.0)
        self._hessian = resolve_output_hessian(output_hessian)
        named = dict(model.named_parameters())
        if params is None:  # every parameter that requires grad, in model order
            self._names = [n for n, p in named.items() if p.requires_grad]
        else:  # exactly these (an optimiser's), whatever their requires_grad is now
            by_id = {id(p): n for n, p in named.items()}
            missing = [i for i, p in enumerate(params) if id(p) not in by_id]
            if missing:
                raise ValueError(
                    f"params: expected parameters of the model, got strangers at {missing}"
                )
            self._names = [by_id[id(p)] for p in params]
        self._params = {n: named[n].detach() for n in self._names}
        self._shapes = [self._params[n].shape for n in self._names]
        frozen = {n: p.detach() for n, p in named.items() if n not in self._params}
        buffers = {n: b.detach() for n, b in model.named_buffers()}
        kwargs = {} if kwargs is None else kwargs

        def forward(p: dict[str, Tensor]) -> Tensor:
            # fresh buffer copies on every call: a BatchNorm in training mode updates its running
            # statistics in place, which must neither reach the model nor a captured tensor
            copies = {n: b.clone() for n, b in buffers.items()}
            out = functional_call(model, ({**p, **frozen}, copies), args, kwargs)
            if not isinstance(out, Tensor):
                raise TypeError(
                    f"model: expected a forward that returns one tensor for a GGN, got "
                    f"{type(out).__name__}"
                )
            return out

        self._forward = forward
        self.outputs, self._vjp = vjp(forward, self._params)  # type: ignore[misc]

    @property
    def size(self) -> int:
        """P, the number of parameters F acts on."""
        return sum(s.numel() for s in self._shapes)

    def flatten(self, tensors: dict[str, Tensor] | list[Tensor]) -> Tensor:
        """Parameter-shaped tensors (a dict by name or a list in order) → one flat vector."""
        items = [tensors[n] for n in self._names] if isinstance(tensors, dict) else tensors
        return torch.cat([t.reshape(-1) for t in items])

    def unflatten(self, v: Tensor) -> dict[str, Tensor]:
        """A flat vector → parameter-shaped tensors by name."""
        pieces = v.split([s.numel() for s in self._shapes])
        return {n: p.view(s) for n, p, s in zip(self._names, pieces, self._shapes, strict=True)}

    def jvp(self, v: Tensor) -> Tensor:
        """J v in output space (one forward-mode pass)."""
        _, out = jvp(self._forward, (self._params,), (self.unflatten(v),))  # type: ignore[misc]
        return out

    def vjp(self, u: Tensor) -> Tensor:
        """Jᵀ u as a flat vector (one reverse-mode pass through the stored graph)."""
        (grads,) = self._vjp(u)
        return self.flatten(grads)

    def matvec(self, v: Tensor) -> Tensor:
        """F v = Jᵀ H J v + λ v."""
        out = self.vjp(self._hessian(self.outputs, self.jvp(v)))
        return out + self.damping * v if self.damping else out

    def dense(self) -> Tensor:
        """F as a dense ``(P, P)`` matrix from ``torch.func.jacrev`` (small models only)."""
        jac = jacrev(self._forward)(self._params)
        rows = self.outputs.numel()
        j = torch.cat([jac[n].reshape(rows, -1) for n in self._names], dim=1)  # (outputs, P)
        columns = [
            self._hessian(self.outputs, e.view_as(self.outputs)).reshape(-1)
            for e in torch.eye(rows, dtype=j.dtype, device=j.device)
        ]
        h = torch.stack(columns, dim=1)
        f = j.mT @ h @ j
        return f + self.damping * torch.eye(len(f), dtype=f.dtype, device=f.device)
