r"""The Thermodynamic Equilibrium Layer (TEL) and its feed-forward block."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as tf
from torch import Tensor, nn

from thermonn._validation import (
    check_bool,
    check_device,
    check_dtype,
    check_input,
    check_int,
)
from thermonn.functional.entropy import Entropy, resolve_entropy
from thermonn.functional.tel import TELTrace
from thermonn.functional.tel_adjoint import check_kernel, tel_descent
from thermonn.functional.temperature import (
    check_rate,
    check_temperature_box,
    check_temperature_range,
)
from thermonn.nn.temperature import (
    TEMPERATURE_MODES,
    AdaptiveTemperature,
    FixedTemperature,
    TemperatureRule,
    check_estimator,
)

__all__ = ["TEL", "TELFeedForward"]

_STEP_INIT_FRACTION = 0.8  # initial eta_k / eta_max


def _records_here() -> bool:
    """Diagnostics are recorded in eager mode only.  Under ``torch.compile``/``torch.export``
    they stay out of the graph (no extra kernels; Inductor on CPU has aborted on such graphs),
    and inside a ``torch.func`` transform (vmap, grad, jacrev, ...) a trace would hold the
    transform's wrapped tensors and leak them through :attr:`TEL.last_trace`."""
    if torch.compiler.is_compiling():
        return False
    return not torch._C._are_functorch_transforms_active()


def _check_entropy_size(entropy: Entropy, features: int) -> None:
    """Per-feature entropy parameters must broadcast over the layer's ``features``."""
    for name, p in itertools.chain(entropy.named_parameters(), entropy.named_buffers()):
        if p.dim() > 1 or (p.dim() == 1 and p.shape[0] not in (1, features)):
            raise ValueError(
                f"entropy: expected per-feature parameters of size {features} (out_features) or "
                f"scalars, got {type(entropy).__name__}.{name} of shape {tuple(p.shape)}"
            )


class TEL(nn.Module):
    r"""Thermodynamic Equilibrium Layer: a linear map followed by K steps of free-energy descent.

    .. math::

        z = W x + b, \qquad F_T(y) = \tfrac12\lVert y - z\rVert^2 - T\,S(y),

        y_0 = z, \qquad y_{k+1} = y_k - \eta_k\bigl((y_k - z) - T_k\,\varphi(y_k)\bigr),
        \qquad \text{output } y_K.

    The step sizes :math:`\eta_k = \eta_{\max}\,\sigma(\rho_k)` are learnable and bounded by
    :math:`\eta_{\max} = 2/(\mu + L)` (:math:`\mu = 1 - T_{\max} m_+`, :math:`L = 1 + T_{\max} m_-`
    from the entropy's curvature bounds :math:`\varphi' \in [-m_-, m_+]`), so for every learned value
    the free energy at fixed T is strongly convex, each step contracts, and
    :math:`\lVert\partial y_K/\partial z\rVert \le 1/\mu` independently of K.  The temperature
    :math:`T_k \in [T_{\min}, T_{\max}]` follows an entropy estimate of the iterate
    (:class:`~thermonn.nn.AdaptiveTemperature`) or is a learnable constant
    (:class:`~thermonn.nn.FixedTemperature`).

    With ``nonexpansive=True`` (concave entropy, :math:`\eta \le \min(1, 2/L)`, and a temperature
    that does not depend on the input within a forward pass) the map :math:`z \mapsto y_K` is
    1-Lipschitz for every K, so the layer is :math:`\lVert W\rVert_2`-Lipschitz in :math:`x`.

    After every forward, :attr:`last_trace` holds the per-step diagnostics (:class:`TELTrace`:
    :math:`T_k, \hat S_k, F_k, \lVert\nabla F_k\rVert`, batch means) when :attr:`diagnostics` is on;
    :func:`thermonn.collect_diagnostics` gathers them from a whole model.  It is ``None`` after a
    forward that records nothing: an empty batch, a call under ``torch.compile``/``torch.export``
    (diagnostics stay out of compiled graphs) or inside a ``torch.func`` transform.

    Numeric range: for every finite input and a temperature box within
    :func:`~thermonn.functional.temperature_bounds` of the dtype, outputs and gradients (input, step
    sizes, temperature, entropy, estimator) are finite; the weight gradient is upstream × input as
    in :class:`torch.nn.Linear`.  A sample with NaN/inf gives a non-finite output row and changes
    no other row; an empty batch gives an empty output.  Diagnostics are float32 batch means:
    ``inf`` beyond |y| ≈ 1e19, NaN if a sample is non-finite.  The box is checked at construction
    and again when the layer first computes in another dtype (``.half()``, autocast).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample (the width d of the descent).
        steps: number of descent steps K (≥ 1).
        entropy: ``"logcosh"`` (concave, default), ``"gate"``, ``"bernoulli"``, ``"spin"``,
            ``"shannon"``, or an :class:`~thermonn.functional.Entropy` object.
        t_min, t_max: the temperature box, ``0 < t_min <= t_max``, within what the dtype supports
            (:func:`~thermonn.functional.temperature_bounds`: float32 [2.4e-38, 4.3e9]).
        beta: temperature EMA rate in ``(0, 1]``.
        temperature: ``"adaptive"`` (entropy-driven) or ``"fixed"`` (a learnable constant).
        estimator: entropy estimator for the adaptive temperature, ``"gaussian"`` or ``"mlp"``
            (``"mlp"`` is rejected with ``temperature="fixed"`` or ``nonexpansive=True``, where it
            would never receive a gradient).
        nonexpansive: enforce the 1-Lipschitz mode described above.
        bias: learn the additive bias of the projection.
        diagnostics: record :attr:`last_trace` on every forward.  The exact full-batch
            statistics cost time (measured in ``benchmarks/results/tel_overhead.md``, summarised
            in ``docs/tel.md``): turn them off for speed; :func:`~thermonn.collect_diagnostics`
            turns them on where needed.
        kernel: how the fused kernels of the built-in primal entropies run (:data:`~thermonn.functional.KERNELS`):
            ``"auto"`` compiles them with ``torch.compile`` for inputs of at least 2^16
            elements where a compiler is available (the first such call compiles: seconds),
            ``"compiled"`` always, ``"eager"`` never.  The numbers agree to rounding.

    Shape:
        - Input: :math:`(*, H_{in})`; Output: :math:`(*, H_{out})`.

    Example:
        >>> layer = TEL(64, 128, steps=4)
        >>> y = layer(torch.randn(32, 64))
        >>> layer.last_trace.temperature.shape
        torch.Size([5])

    Reference: "TEL: A Thermodynamics-Inspired Layer for Adaptive, and Efficient Neural Learning",
    ICLR 2026 submission (OpenReview 50gXwRjWKl); equations reconstructed in ``docs/tel.md``.
    """

    last_trace: TELTrace | None
    temperature: TemperatureRule
    kernel: str = "auto"  # a class default: TELs pickled before the option existed still load

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        steps: int = 4,
        entropy: str | Entropy = "logcosh",
        t_min: float = 0.1,
        t_max: float = 1.0,
        beta: float = 0.3,
        temperature: str = "adaptive",
        estimator: str = "gaussian",
        nonexpansive: bool = False,
        bias: bool = True,
        diagnostics: bool = True,
        kernel: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        self.steps = check_int("steps", steps, 1)
        t_min, t_max = check_temperature_range(t_min, t_max)
        beta = check_rate("beta", beta)
        for name, flag in (
            ("nonexpansive", nonexpansive),
            ("bias", bias),
            ("diagnostics", diagnostics),
        ):
            check_bool(name, flag)
        factory: dict[str, Any] = {"device": check_device(device), "dtype": check_dtype(dtype)}
        self._box_dtype = factory["dtype"] or torch.get_default_dtype()
        check_temperature_box(t_min, t_max, self._box_dtype)
        self.entropy = resolve_entropy(entropy, features=out_features, **factory)
        _check_entropy_size(self.entropy, out_features)
        self.nonexpansive = bool(nonexpansive)
        self.eta_max = self.entropy.step_bound(t_min, t_max, nonexpansive=self.nonexpansive)
        bounds = {"t_min": t_min, "t_max": t_max, **factory}
        self.temperature: TemperatureRule
        if temperature == "adaptive":
            self.temperature = AdaptiveTemperature(
                beta=beta, estimator=estimator, steps=self.steps, running=self.nonexpansive,
                **bounds,
            )  # fmt: skip
        elif temperature == "fixed":
            check_estimator(estimator, untrainable="temperature='fixed'")
            self.temperature = FixedTemperature(**bounds)
        else:
            raise ValueError(
                f"temperature: expected one of {TEMPERATURE_MODES}, got {temperature!r}"
            )
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.step_logits = nn.Parameter(torch.empty(self.steps, **factory))
        self.diagnostics = bool(diagnostics)
        self.kernel = check_kernel(kernel)
        self.last_trace = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Projection as :class:`torch.nn.Linear`; steps at 0.8·η_max; entropy and temperature reset."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)
        p = _STEP_INIT_FRACTION
        nn.init.constant_(self.step_logits, math.log(p / (1.0 - p)))
        reset = getattr(self.entropy, "reset_parameters", None)
        if reset is not None:
            reset()
        self.temperature.reset_parameters()

    def step_sizes(self) -> Tensor:
        r"""The step sizes :math:`\eta_k = \eta_{\max}\sigma(\rho_k)`, shape ``(K,)``."""
        return self.eta_max * torch.sigmoid(self.step_logits)

    def forward(self, x: Tensor) -> Tensor:
        check_input("TEL input", x, self.in_features, self.weight.dtype)
        z = tf.linear(x, self.weight, self.bias)
        if z.dtype != self._box_dtype and not torch.compiler.is_compiling():
            check_temperature_box(self.temperature.t_min, self.temperature.t_max, z.dtype)
            self._box_dtype = z.dtype
        record = self.diagnostics and z.numel() > 0 and _records_here()  # empty: no statistics
        result = tel_descent(
            z,
            entropy=self.entropy,
            temperature=self.temperature,
            etas=self.step_sizes(),
            diagnostics=record,
            kernel=self.kernel,
        )
        self.last_trace = result.trace
        return result.output

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"steps={self.steps}, entropy={type(self.entropy).__name__}, "
            f"T=[{self.temperature.t_min}, {self.temperature.t_max}], "
            f"temperature={self.temperature.mode!r}, eta_max={self.eta_max:.4g}, "
            f"nonexpansive={self.nonexpansive}, bias={self.bias is not None}, "
            f"kernel={self.kernel!r}"
        )


class TELFeedForward(nn.Module):
    r"""Feed-forward block with TEL as its nonlinearity: ``Linear(dropout(TEL(x)))``.

    Replaces a transformer/CNN FFN ``Linear(d_model, d_hidden) → act → Linear(d_hidden, d_model)``
    at the same parameter count plus K step sizes and the temperature parameters.

    Args:
        d_model: input and output size.
        d_hidden: width of the TEL descent.
        dropout: dropout probability after the TEL.
        bias: biases of both projections.
        dim: the feature dimension: ``-1`` for transformer tokens ``(B, S, d_model)``, ``1`` for
            CNN feature maps ``(N, C, H, W)`` (a point-wise, 1×1-convolution FFN).
        **tel_options: keyword arguments of :class:`TEL` (``steps``, ``entropy``, ``t_min``, ...).

    Shape:
        - Input: :math:`(*, d_{model}, *)` with ``d_model`` at ``dim``; Output: same shape.
    """

    def __init__(
        self,
        d_model: int,
        d_hidden: int,
        *,
        dropout: float = 0.0,
        bias: bool = True,
        dim: int = -1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **tel_options: Any,
    ) -> None:
        super().__init__()
        self.dim = check_int("dim", dim)
        self.tel = TEL(d_model, d_hidden, bias=bias, device=device, dtype=dtype, **tel_options)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(d_hidden, d_model, bias=bias, device=device, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"TELFeedForward input: expected a torch.Tensor, got {type(x).__name__}"
            )
        if not -x.dim() <= self.dim < x.dim():
            raise ValueError(
                f"TELFeedForward input: expected a tensor with a feature dimension dim={self.dim} "
                f"(of size {self.tel.in_features}), got shape {tuple(x.shape)}"
            )
        if self.dim in (-1, x.dim() - 1):
            return self.linear(self.dropout(self.tel(x)))
        h = x.movedim(self.dim, -1)
        return self.linear(self.dropout(self.tel(h))).movedim(-1, self.dim)
