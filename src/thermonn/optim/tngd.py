r"""Thermodynamic natural gradient descent (TNGD), as a :class:`torch.optim.Optimizer`.

Donatella, Duffield, Aifer et al., "Thermodynamic natural gradient descent" (arXiv 2405.13817;
npj Unconventional Computing 2025). The natural gradient g* = F⁻¹∇ℓ with the GGN
F = JᵀHJ + λI is the stationary mean of a stochastic processing unit that runs

.. math::  dg = -(F g - \nabla\ell)\,dt + \sqrt{2\kappa_0}\,dW

for an analog time t per optimiser step, started from g(0) (the previous step's g — the
*delay* that acts like momentum — or ∇ℓ). Within a step F is fixed, so the process is linear
and its law at time t is exact and Gaussian:

.. math::  g(t) = g_0 + \varphi_t(F)\,(\nabla\ell - F g_0) + \xi, \qquad
           \varphi_t(\lambda) = \frac{1 - e^{-\lambda t}}{\lambda}, \quad
           \xi \sim \mathcal N\!\Bigl(0,\; \kappa_0 \frac{1 - e^{-2Ft}}{F}\Bigr).

The device is simulated faithfully from exactly this: φ_t(F) and the noise's square root are
applied by the Lanczos method (:func:`~thermonn.linalg.krylov.lanczos_function`) through
GGN-vector products from ``torch.func`` — one product per Krylov iteration, to a relative
tolerance — instead of the paper's thousands of Euler–Maruyama steps of size 0.1τ. t = 0
returns g₀ (gradient descent when g₀ = ∇ℓ); t → ∞ with κ₀ = 0 returns the natural gradient.
Time is in units of the device's time constant with F programmed as is (the slowest mode
relaxes as e^{−λ_min(F) t}, λ_min ≥ λ).

The update is θ ← θ − lr·g (``update="sgd"``, TNGD) or Adam's step with g in place of the
gradient (``update="adam"``, TNGD-Adam). ``solver="dense"`` forms F with ``torch.func.jacrev``
and applies the same formula by eigendecomposition — exact NGD at t = ∞ for small models (the
benchmark's oracle).

The GGN is taken at the model's last forward pass in grad mode before :meth:`step` (a forward
pre-hook records its inputs), so TNGD plugs into any loop that calls ``loss.backward()`` then
``optimizer.step()`` (:func:`thermonn.train.train_minibatch`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from thermonn._validation import check_bool, check_float, check_int
from thermonn.linalg.krylov import lanczos_function
from thermonn.optim.ggn import GGNOperator, OutputHessian, resolve_output_hessian

__all__ = ["TNGD", "TNGDStep"]

UPDATES = ("sgd", "adam")
SOLVERS = ("krylov", "dense")


@dataclass(frozen=True)
class TNGDStep:
    """What the last :meth:`TNGD.step` did: ``ggn_products`` (GGN-vector products, or 0 for the
    dense solver), ``krylov_iterations`` (of the mean and of the noise), ``converged`` (every
    Krylov run met its tolerance) and ``gradient_norm`` / ``update_norm`` (‖∇ℓ‖, ‖g(t)‖)."""

    ggn_products: int
    krylov_iterations: tuple[int, int]
    converged: bool
    gradient_norm: float
    update_norm: float


def _phi(values: Tensor, t: float) -> Tensor:
    """(1 − e^{−λt})/λ, → t as λt → 0 and 1/λ at t = ∞."""
    if math.isinf(t):
        return 1.0 / values
    small = (values * t).abs() < 1e-8
    safe = torch.where(small, torch.ones_like(values), values)
    return torch.where(small, torch.full_like(values, t), -torch.expm1(-values * t) / safe)


def _noise_scale(values: Tensor, t: float, kappa: float) -> Tensor:
    """√(κ(1 − e^{−2λt})/λ), the exact OU noise's square root."""
    return (kappa * _phi(2.0 * values, t) * 2.0).clamp_min(0.0).sqrt()


def _check_ngd_damping(damping: float, time: float) -> None:
    if damping == 0.0 and math.isinf(time):
        raise ValueError(
            "damping: expected damping > 0 with time = inf (a singular GGN has no natural "
            "gradient), got 0"
        )


def _recorder(optimizer: TNGD) -> Callable[..., None]:
    """The forward pre-hook that records the batch: a plain function (``copy.deepcopy`` of the
    model shares it) holding the optimiser weakly and ignoring any module but its own model,
    so a copied model neither keeps the optimiser alive nor feeds it its inputs."""
    owner = weakref.ref(optimizer)

    def record(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        opt = owner()
        if opt is not None and module is opt._model and torch.is_grad_enabled():
            if not opt._stepping:  # not the operator's own forward passes
                opt._batch = (args, kwargs)

    return record


class TNGD(torch.optim.Optimizer):
    """Thermodynamic natural gradient descent on the parameters of ``model`` that require grad
    (module docstring).

    Args:
        model: the network; its forward in grad mode before each step fixes the batch.
        lr: the learning rate.
        time: analog time t per step (device time constants); ``math.inf`` for NGD.
        damping: λ in F = JᵀHJ + λI (> 0 keeps F invertible).
        kappa: κ₀, the device's noise (0 = noiseless).
        warm_start: start each step's process from the previous g (the delay); else from ∇ℓ.
        update: ``"sgd"`` (TNGD) or ``"adam"`` (TNGD-Adam), with ``betas`` and ``eps``.
        output_hessian: the loss's output Hessian rule (:data:`~thermonn.optim.ggn.HESSIANS`
            name or callable) — it must match the loss being minimised.
        solver: ``"krylov"`` (matrix-free, the default) or ``"dense"`` (jacrev + eigh).
        tol, max_iter: the Krylov tolerance (relative to ‖g‖) and iteration cap per run.
        generator: the source of the device noise.

    Raises:
        ValueError: non-positive lr, negative time/damping/kappa, unknown names, a model
            without trainable parameters.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        lr: float = 1e-3,
        time: float = 50.0,
        damping: float = 1e-3,
        kappa: float = 0.0,
        warm_start: bool = True,
        update: str = "sgd",
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        output_hessian: str | OutputHessian = "cross_entropy",
        solver: str = "krylov",
        tol: float = 1e-6,
        max_iter: int = 100,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
        check_float("lr", lr, above=0.0)
        if not isinstance(time, int | float) or isinstance(time, bool) or not time >= 0:
            raise ValueError(f"time: expected a float >= 0 (math.inf for NGD), got {time!r}")
        check_float("damping", damping, at_least=0.0)
        _check_ngd_damping(damping, time)
        check_float("kappa", kappa, at_least=0.0)
        check_bool("warm_start", warm_start)
        for name, value, valid in (("update", update, UPDATES), ("solver", solver, SOLVERS)):
            if value not in valid:
                raise ValueError(f"{name}: expected one of {list(valid)}, got {value!r}")
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair of floats, got {betas!r}")
        if not all(isinstance(b, int | float) and 0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas: expected two floats in [0, 1), got {betas!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator: expected a torch.Generator, got {type(generator).__name__}"
            )
        check_float("eps", eps, above=0.0)
        check_float("tol", tol, above=0.0)
        check_int("max_iter", max_iter, minimum=1)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model: expected trainable parameters, got none")
        # every option in the group, so state_dict() carries it and a load restores it
        defaults = {
            "lr": lr, "time": float(time), "damping": damping, "kappa": kappa,
            "warm_start": warm_start, "update": update, "betas": (float(betas[0]), float(betas[1])),
            "eps": eps, "solver": solver, "tol": tol, "max_iter": max_iter,
        }  # fmt: skip
        super().__init__(params, defaults)
        self._model = model
        self._hessian = resolve_output_hessian(output_hessian)
        self._generator = generator
        self._batch: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._stepping = False
        self._hook = model.register_forward_pre_hook(_recorder(self), with_kwargs=True)
        self.last_step: TNGDStep | None = None

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("TNGD: expected the one parameter group of its model, got another")
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        """One TNGD step on the gradients in ``.grad`` (run ``closure`` first if given)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self._batch is None:
            raise RuntimeError(
                "TNGD.step: expected a forward pass of the model (in grad mode) first"
            )
        group = self.param_groups[0]
        update, betas, eps = group["update"], group["betas"], group["eps"]
        params: list[Tensor] = group["params"]
        gradient = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        args, kwargs = self._batch
        self._stepping = True
        try:
            g, record = self._solve(args, kwargs, gradient, group)
        finally:
            self._stepping = False
        self._store("g", g)
        direction = g if update == "sgd" else self._adam(g, betas, eps)
        for p, piece in zip(params, direction.split([p.numel() for p in params]), strict=True):
            p.add_(piece.view_as(p), alpha=-group["lr"])
        self.last_step = TNGDStep(
            record[0], record[1], record[2], float(gradient.norm()), float(g.norm())
        )
        return loss

    @torch.enable_grad()
    def _solve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], gradient: Tensor, group: dict[str, Any]
    ) -> tuple[Tensor, tuple[int, tuple[int, int], bool]]:
        """g(t) of this step's device and what it cost."""
        warm_start, solver, tol, max_iter = (
            group["warm_start"],
            group["solver"],
            group["tol"],
            group["max_iter"],
        )
        _check_ngd_damping(group["damping"], group["time"])
        op = GGNOperator(
            self._model, args, kwargs, output_hessian=self._hessian, damping=group["damping"],
            params=group["params"],
        )  # fmt: skip
        start = self._state_vector("g") if warm_start else None
        g0 = gradient if start is None else start
        t, kappa = group["time"], group["kappa"]
        noise = (
            torch.randn(len(gradient), dtype=gradient.dtype, device=gradient.device,
                        generator=self._generator) if kappa > 0 else None
        )  # fmt: skip
        if not (bool(torch.isfinite(g0).all()) and bool(torch.isfinite(gradient).all())):
            # a diverged run: pass the non-finite values on (as torch's optimisers do), so the
            # training loop sees a non-finite loss and stops, instead of a Krylov error
            return torch.full_like(gradient, math.nan), (0, (0, 0), False)
        if solver == "dense":
            return self._dense(op, g0, gradient, t, kappa, noise)
        with torch.no_grad():
            return self._krylov(op, g0, gradient, t, kappa, noise, tol, max_iter)

    def _krylov(
        self,
        op: GGNOperator,
        g0: Tensor,
        gradient: Tensor,
        t: float,
        kappa: float,
        noise: Tensor | None,
        tol: float,
        max_iter: int,
    ) -> tuple[Tensor, tuple[int, tuple[int, int], bool]]:
        if t == 0.0:
            return g0.clone(), (0, (0, 0), True)
        residual = gradient - op.matvec(g0)
        scale = tol * float(g0.norm())  # accuracy relative to g, not to the correction alone
        mean = lanczos_function(
            op.matvec, residual, lambda v: _phi(v, t), tol=tol, atol=scale, max_iter=max_iter
        )
        g = g0 + mean.value
        products, noise_iters, converged = 1 + mean.iterations, 0, mean.converged
        if noise is not None:
            sample = lanczos_function(
                op.matvec, noise, lambda v: _noise_scale(v, t, kappa), tol=tol, max_iter=max_iter
            )
            g = g + sample.value
            products += sample.iterations
            noise_iters, converged = sample.iterations, converged and sample.converged
        return g, (products, (mean.iterations, noise_iters), converged)

    def _dense(
        self,
        op: GGNOperator,
        g0: Tensor,
        gradient: Tensor,
        t: float,
        kappa: float,
        noise: Tensor | None,
    ) -> tuple[Tensor, tuple[int, tuple[int, int], bool]]:
        f = op.dense().double()
        values, vectors = torch.linalg.eigh(0.5 * (f + f.mT))
        residual = (gradient - (f @ g0.double()).to(gradient.dtype)).double()
        g = g0.double() + vectors @ (_phi(values, t) * (vectors.mT @ residual))
        if noise is not None:
            g = g + vectors @ (_noise_scale(values, t, kappa) * (vectors.mT @ noise.double()))
        return g.to(gradient.dtype), (0, (0, 0), True)

    def _adam(self, g: Tensor, betas: tuple[float, float], eps: float) -> Tensor:
        """Adam's direction m̂/(√v̂ + ε) with g as the gradient (moments stored per parameter)."""
        first, second = self._state_vector("exp_avg"), self._state_vector("exp_avg_sq")
        first = torch.zeros_like(g) if first is None else first
        second = torch.zeros_like(g) if second is None else second
        count = self.state[self.param_groups[0]["params"][0]].get("step", 0) + 1
        first.mul_(betas[0]).add_(g, alpha=1.0 - betas[0])
        second.mul_(betas[1]).addcmul_(g, g, value=1.0 - betas[1])
        self._store("exp_avg", first)
        self._store("exp_avg_sq", second)
        self.state[self.param_groups[0]["params"][0]]["step"] = count
        m_hat = first / (1.0 - betas[0] ** count)
        v_hat = second / (1.0 - betas[1] ** count)
        return m_hat / (v_hat.sqrt() + eps)

    def _state_vector(self, key: str) -> Tensor | None:
        params = self.param_groups[0]["params"]
        if key not in self.state[params[0]]:
            return None
        return torch.cat([self.state[p][key].reshape(-1) for p in params])

    def _store(self, key: str, flat: Tensor) -> None:
        params = self.param_groups[0]["params"]
        for p, piece in zip(params, flat.split([p.numel() for p in params]), strict=True):
            self.state[p][key] = piece.view_as(p).clone()
