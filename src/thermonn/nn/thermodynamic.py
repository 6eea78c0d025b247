r"""Thermodynamic layers: nodes that carry U, S, T, F, thermally coupled, and the feed-forward,
convolutional, recurrent and attention networks built from them by composition.

:class:`ThermalNodes` is the one unit: it applies a thermal activation σ_T at one temperature per
node (fixed, learnable or scheduled, clamped) and, after each forward, holds the nodes' state
(:class:`~thermonn.functional.nodes.NodeState`: U_i = ⟨z_i²⟩, the two-level entropy S_i,
T_i, F_i = U_i − T_i S_i). Its temperatures are thermally coupled,

.. math::  C_i\,\frac{dT_i}{dt} = -\gamma (T_i - T_\text{layer}) + \sum_j J_{ij} (T_j - T_i),

integrated on the shared heat-flow stepper (:class:`thermonn.dynamics.HeatFlow`, exact steps,
the layer a reservoir node) by :meth:`ThermalNodes.relax` — call it after ``optimizer.step()``,
as a schedule is stepped — and :meth:`ThermalNodes.equilibrate` runs it until
max_i |dT_i/dt| ≤ tol. Everything else is composition:

* :class:`ThermodynamicLayer` — a linear map or a convolution, then nodes
  (``.linear(…)``, ``.conv2d(…)``; optional thermal noise √(2γT) η on the pre-activations);
* :class:`ThermalRNN` — h_t = σ_T(W [x_t, h_{t−1}] + b), one :class:`ThermodynamicLayer` per step;
* :class:`ThermalAttention` — α_ij = softmax_j(−E_ij / T_h) with interaction energy
  E_ij = −q_i·k_j and a (learnable) temperature per head: a Boltzmann activation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle
from typing_extensions import Unpack

from thermonn._validation import check_bool, check_float, check_int
from thermonn.dynamics.heat_flow import HeatFlow
from thermonn.dynamics.integrate import Trajectory, integrate
from thermonn.functional import activations as A
from thermonn.functional.nodes import (
    NodeState,
    layer_energy,
    node_state,
    thermal_interaction_energy,
    thermal_noise,
)
from thermonn.functional.statmech import shannon_entropy
from thermonn.nn.activations import TemperatureOptions, ThermalActivation

__all__ = [
    "NODE_ACTIVATIONS",
    "Equilibration",
    "ThermalAttention",
    "ThermalNodes",
    "ThermalRNN",
    "ThermodynamicLayer",
    "couple_temperatures",
    "node_states",
]

NODE_ACTIVATIONS: dict[str, Callable[[Tensor, Tensor, Tensor, int], Tensor]] = {
    "fermi-dirac": lambda z, t, mu, dim: A.fermi_dirac(z, mu, t),
    "boltzmann": lambda z, t, mu, dim: A.boltzmann(z, t, dim),
    "thermal-relu": lambda z, t, mu, dim: A.thermal_relu(z, t),
    "maxwell-boltzmann": lambda z, t, mu, dim: A.maxwell_boltzmann(z, t),
}


@dataclass(frozen=True)
class Equilibration:
    """What :meth:`ThermalNodes.equilibrate` did: the relaxation ``time`` (steps × dt), whether
    max |dT/dt| fell to the tolerance (``converged``), the last ``rate`` and the temperature
    ``trajectory`` (times × nodes)."""

    time: float
    steps: int
    converged: bool
    rate: float
    trajectory: Trajectory


class ThermalNodes(ThermalActivation):
    """``features`` thermodynamic nodes along ``node_dim`` of the input.

    Args:
        activation: one of :data:`NODE_ACTIVATIONS` (``"boltzmann"`` is a softmax across nodes).
        coupling: J_ij — a number (every pair) or a symmetric non-negative ``(features, features)``
            matrix; 0 leaves the temperatures uncoupled.
        bath_coupling: γ ≥ 0 to the layer temperature ``bath_temperature`` (default: the
            initial temperature).
        heat_capacity: C_i > 0, a number or ``(features,)``.
        noise: friction γ_n ≥ 0 of thermal noise √(2γ_n T_i) η added to the pre-activations in
            training mode (drawn from ``generator``, an attribute, torch's default if ``None``).
        track_state: record :attr:`state` after each forward (under ``no_grad``).
        **options: the temperature options of :class:`ThermalActivation` (``temperature``,
            ``learnable`` — default True here — and the clamp).

    Raises:
        ValueError: an unknown activation (the message lists them), a bad coupling matrix,
            negative couplings or noise, non-positive heat capacities.
    """

    state: NodeState | None

    def __init__(
        self,
        features: int,
        activation: str = "fermi-dirac",
        *,
        node_dim: int = -1,
        coupling: float | Tensor = 0.0,
        bath_coupling: float = 0.0,
        bath_temperature: float | None = None,
        heat_capacity: float | Tensor = 1.0,
        noise: float = 0.0,
        track_state: bool = True,
        **options: Unpack[TemperatureOptions],
    ) -> None:
        n = check_int("features", features, minimum=1)
        if "shape" in options:
            raise ValueError("shape: ThermalNodes has one temperature per node; pass features")
        options.setdefault("learnable", True)
        options["shape"] = (n,)
        super().__init__(**options)
        if activation not in NODE_ACTIVATIONS:
            raise ValueError(
                f"activation: expected one of {sorted(NODE_ACTIVATIONS)}, got {activation!r}"
            )
        self.features, self.activation, self.node_dim = (
            n,
            activation,
            check_int("node_dim", node_dim),
        )
        self.coupling = _check_coupling(coupling, n)
        self.bath_coupling = check_float("bath_coupling", bath_coupling, at_least=0.0)
        t0 = float(self.temperature.detach()[0])
        bath = t0 if bath_temperature is None else bath_temperature
        self.bath_temperature = check_float("bath_temperature", bath, above=0.0)
        if not self.min_temperature <= self.bath_temperature <= self.max_temperature:
            raise ValueError(
                f"bath_temperature: expected a value in [{self.min_temperature}, "
                f"{self.max_temperature}] (the nodes' clamp), got {self.bath_temperature}"
            )
        capacity = torch.as_tensor(heat_capacity, dtype=torch.float64).detach().cpu()
        if capacity.dim() > 1 or (capacity.dim() == 1 and capacity.shape != (n,)):
            raise ValueError(
                f"heat_capacity: expected a number or shape ({n},), got {tuple(capacity.shape)}"
            )
        capacity = capacity.expand(n).clone()
        if not bool((capacity > 0).all() and torch.isfinite(capacity).all()):
            raise ValueError("heat_capacity: expected positive, finite heat capacities")
        self.heat_capacity = capacity  # the coupling's arithmetic runs on the CPU in float64
        self.noise = check_float("noise", noise, at_least=0.0)
        self.track_state = check_bool("track_state", track_state)
        self.mu = nn.Parameter(torch.zeros(n)) if activation == "fermi-dirac" else None
        self.generator: torch.Generator | None = None
        self.state = None

    def _broadcast(self, t: Tensor, z: Tensor) -> tuple[Tensor, int]:
        if not -z.dim() <= self.node_dim < z.dim():
            raise ValueError(
                f"input: node_dim {self.node_dim} is out of range for a {z.dim()}-D input"
            )
        dim = self.node_dim % z.dim()
        if z.shape[dim] != self.features:
            raise ValueError(
                f"input: expected {self.features} nodes along dim {self.node_dim}, got shape {tuple(z.shape)}"
            )
        return t.reshape(self.features, *([1] * (z.dim() - dim - 1))), dim

    def forward(self, z: Tensor) -> Tensor:
        t = self.temperature
        tb, dim = self._broadcast(t, z)
        if self.noise > 0 and self.training:
            z = z + thermal_noise(
                z.shape,
                tb,
                friction=self.noise,
                generator=self.generator,
                dtype=z.dtype,
                device=z.device,
            )
        mu = self.mu if self.mu is None else self.mu.reshape(tb.shape)
        y = NODE_ACTIVATIONS[self.activation](z, tb, mu, dim)  # type: ignore[arg-type]
        if self.track_state:
            with torch.no_grad():
                self.state = node_state(z.detach(), t.detach(), dim)
        return y

    # -- thermal coupling -------------------------------------------------------------------

    def _temperatures(self) -> Tensor:
        """The clamped temperatures as a float64 CPU vector (the coupling's working copy)."""
        return self.temperature.detach().double().cpu()

    def _laplacian(self) -> Tensor:
        """The (n + 1)-node Laplacian: the J bonds, and γ bonds from every node to the layer."""
        n = self.features
        j = self.coupling
        lap = torch.zeros(n + 1, n + 1, dtype=torch.float64)
        pair = (torch.full((n, n), float(j)) if not isinstance(j, Tensor) else j).double()
        pair = pair * (1 - torch.eye(n, dtype=torch.float64))
        lap[:n, :n] = torch.diag(pair.sum(1)) - pair
        lap[:n, :n] += self.bath_coupling * torch.eye(n, dtype=torch.float64)
        lap[:n, n] = lap[n, :n] = -self.bath_coupling
        lap[n, n] = n * self.bath_coupling
        return lap

    def _flow(self, dt: float) -> HeatFlow:
        """The coupling as a heat-flow stepper: the nodes and a reservoir (the layer)."""
        reservoir = torch.zeros(self.features + 1, dtype=torch.bool)
        reservoir[-1] = True
        capacity = torch.cat([self.heat_capacity, torch.ones(1, dtype=torch.float64)])
        return HeatFlow(self._laplacian(), 1.0, dt, "exact", capacity, reservoir)

    def _advance(self, flow: HeatFlow, steps: int) -> Trajectory:
        path = integrate(flow, self._with_bath(), steps=steps, save_every=1)
        self._store(path.states[-1, :-1])
        return Trajectory(path.times, path.states[:, :-1])

    @property
    def coupled(self) -> bool:
        """Whether any coupling (J or γ) moves the temperatures."""
        j = self.coupling
        return self.bath_coupling > 0 or bool((j > 0).any() if isinstance(j, Tensor) else j > 0)

    def temperature_rate(self) -> Tensor:
        """dT_i/dt at the current temperatures, ``(features,)``."""
        return self._rate(self._laplacian())

    def _rate(self, laplacian: Tensor) -> Tensor:
        return -(laplacian @ self._with_bath())[:-1] / self.heat_capacity

    def _with_bath(self) -> Tensor:
        """The node temperatures and, last, the layer's (the reservoir node)."""
        bath = torch.tensor([self.bath_temperature], dtype=torch.float64)
        return torch.cat([self._temperatures(), bath])

    def relaxation_time(self) -> float:
        """The slowest time constant of the coupling, 1/λ for the smallest non-zero eigenvalue
        λ of C⁻¹(γ I + L_J) (``inf`` when nothing is coupled)."""
        c = self.heat_capacity.sqrt()
        lap = self._laplacian()[:-1, :-1] / (c[:, None] * c[None, :])
        eig = torch.linalg.eigvalsh(lap)
        positive = eig[eig > 1e-12 * max(1.0, float(eig.abs().max()))]
        return math.inf if len(positive) == 0 else 1.0 / float(positive.min())

    @torch.no_grad()
    def relax(self, duration: float, *, steps: int = 1) -> Trajectory:
        """Integrate the coupling for ``duration`` in ``steps`` exact steps and store the result
        as the node temperatures (clamped). Returns the temperature trajectory."""
        check_float("duration", duration, above=0.0)
        check_int("steps", steps, minimum=1)
        return self._advance(self._flow(duration / steps), steps)

    @torch.no_grad()
    def equilibrate(
        self, tol: float = 1e-6, *, dt: float | None = None, max_steps: int = 10_000
    ) -> Equilibration:
        """Relax in steps of ``dt`` (default: a tenth of :meth:`relaxation_time`) until
        max_i |dT_i/dt| ≤ ``tol`` or ``max_steps``."""
        check_float("tol", tol, above=0.0)
        check_int("max_steps", max_steps, minimum=1)
        tau = self.relaxation_time()
        if dt is None:
            dt = 1.0 if math.isinf(tau) else tau / 10
        check_float("dt", dt, above=0.0)
        flow, laplacian = self._flow(dt), self._laplacian()  # fixed while relaxing
        states = [self._temperatures()]
        rate = float(self._rate(laplacian).abs().max())
        steps = 0
        while rate > tol and steps < max_steps:
            self._advance(flow, 1)
            steps += 1
            states.append(self._temperatures())
            rate = float(self._rate(laplacian).abs().max())
        times = torch.arange(len(states), dtype=torch.float64) * dt
        return Equilibration(
            steps * dt, steps, rate <= tol, rate, Trajectory(times, torch.stack(states))
        )

    def _store(self, t: Tensor) -> None:
        t = t.clamp(self.min_temperature, self.max_temperature).to(self.log_temperature.dtype)
        self.log_temperature.copy_(t.log())

    def interaction_energy(self) -> Tensor:
        """E_th of the current temperatures (differentiable in learnable ones)."""
        j = (
            self.coupling
            if not isinstance(self.coupling, Tensor)
            else self.coupling.to(self.temperature)
        )
        return thermal_interaction_energy(
            self.temperature, j, self.bath_coupling, self.bath_temperature
        )

    def layer_energy(self) -> Tensor:
        """Σ_i U_i + ½ Σ_{i,j} J_ij (T_i − T_j)² of the last forward."""
        if self.state is None:
            raise RuntimeError("layer_energy: no state yet (run a forward with track_state=True)")
        j = (
            self.coupling
            if not isinstance(self.coupling, Tensor)
            else self.coupling.to(self.state.temperature)
        )
        return layer_energy(self.state.energy, self.state.temperature, j)

    def extra_repr(self) -> str:
        return f"{self.features}, activation={self.activation!r}, " + super().extra_repr()


def _check_coupling(coupling: float | Tensor, n: int) -> float | Tensor:
    if isinstance(coupling, Tensor):
        if coupling.shape != (n, n):
            raise ValueError(
                f"coupling: expected a number or a ({n}, {n}) matrix, got {tuple(coupling.shape)}"
            )
        c = coupling.detach().double().cpu()
        if not bool(torch.isfinite(c).all()) or not torch.allclose(c, c.T) or bool((c < 0).any()):
            raise ValueError(
                "coupling: expected a symmetric matrix of finite, non-negative conductances"
            )
        return c
    return check_float("coupling", coupling, at_least=0.0)


class ThermodynamicLayer(nn.Module):
    """``nodes(transform(x))``: a linear map or convolution followed by :class:`ThermalNodes`.
    ``state`` is the nodes' state after the last forward."""

    def __init__(self, transform: nn.Module, nodes: ThermalNodes) -> None:
        super().__init__()
        self.transform, self.nodes = transform, nodes

    @classmethod
    def linear(cls, in_features: int, out_features: int, **node_options: Any) -> ThermodynamicLayer:
        """Linear(in → out) then ``out_features`` nodes along the last dimension."""
        return cls(nn.Linear(in_features, out_features), ThermalNodes(out_features, **node_options))

    @classmethod
    def conv2d(
        cls,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int = 0,
        stride: int = 1,
        **node_options: Any,
    ) -> ThermodynamicLayer:
        """Conv2d then one node per output channel (``node_dim = 1``; the state averages over
        batch and positions)."""
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        return cls(conv, ThermalNodes(out_channels, node_dim=1, **node_options))

    @property
    def state(self) -> NodeState | None:
        return self.nodes.state

    def forward(self, x: Tensor) -> Tensor:
        return self.nodes(self.transform(x))


class ThermalRNN(nn.Module):
    """h_t = σ_T(W [x_t, h_{t−1}] + b) over ``(batch, time, input_size)`` (batch first); returns
    ``(outputs (batch, time, hidden), h_T)`` like :class:`torch.nn.RNN`. The cell is a
    :class:`ThermodynamicLayer`; its nodes' state is that of the last step."""

    def __init__(self, input_size: int, hidden_size: int, **node_options: Any) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.cell = ThermodynamicLayer.linear(input_size + hidden_size, hidden_size, **node_options)

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"input: expected (batch, time, {self.input_size}), got {tuple(x.shape)}"
            )
        h = x.new_zeros(x.shape[0], self.hidden_size) if h0 is None else h0
        outputs = []
        for t in range(x.shape[1]):
            h = self.cell(torch.cat([x[:, t], h], dim=-1))
            outputs.append(h)
        return torch.stack(outputs, 1), h


class ThermalAttention(nn.Module):
    """Multi-head self-attention with Boltzmann weights α_ij = softmax_j(−E_ij/T_h), the
    interaction energy E_ij = −q_i·k_j and one temperature per head (learnable by default;
    ``temperature`` defaults to √d_head, where it equals scaled dot-product attention).

    Called like :class:`torch.nn.MultiheadAttention` with ``batch_first=True``: ``attn_mask``
    ``(s, s)`` or ``(batch · heads, s, s)`` and ``key_padding_mask`` ``(batch, s)``, each
    boolean (True = blocked) or float (added to the exponent −E/T, after the temperature, so
    no ∞ · 0 reaches the temperature's gradient); ``is_causal`` without a mask applies the
    causal one. It can replace the ``self_attn`` of a :class:`torch.nn.TransformerEncoderLayer`
    (whose fused fast path it does not claim: ``_qkv_same_embed_dim`` is False); in a
    :class:`torch.nn.TransformerEncoder` built with nested tensors on (the default), set
    ``encoder.use_nested_tensor = False``, since that path calls torch's fused kernel.
    ``last_entropy`` holds the mean Gibbs entropy of each head's weights after a forward.
    """

    batch_first = True
    _qkv_same_embed_dim = False

    @property
    def in_proj_bias(self) -> Tensor:
        """The bias of the fused q, k, v projection (the attribute torch's encoder inspects)."""
        return self.qkv.bias

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        temperature: float | None = None,
        learnable: bool = True,
        track_state: bool = True,
    ) -> None:
        super().__init__()
        check_int("embed_dim", embed_dim, minimum=1)
        check_int("num_heads", num_heads, minimum=1)
        if embed_dim % num_heads:
            raise ValueError(
                f"num_heads: expected a divisor of embed_dim={embed_dim}, got {num_heads}"
            )
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        t = math.sqrt(self.head_dim) if temperature is None else temperature
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.head_temperature = ThermalActivation(t, learnable=learnable, shape=(num_heads, 1, 1))
        self.track_state = check_bool("track_state", track_state)
        self.last_entropy: Tensor | None = None

    def _attn_mask(self, mask: Tensor, b: int, s: int) -> Tensor:
        """``(s, s)`` or ``(b · heads, s, s)`` as torch takes it, broadcast to the logits."""
        if mask.shape == (s, s):
            return mask
        if mask.shape == (b * self.num_heads, s, s):
            return mask.view(b, self.num_heads, s, s)
        raise ValueError(
            f"attn_mask: expected shape ({s}, {s}) or ({b * self.num_heads}, {s}, {s}), "
            f"got {tuple(mask.shape)}"
        )

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if (key is not None and key is not query) or (value is not None and value is not query):
            raise ValueError("ThermalAttention is self-attention: pass key and value as the query")
        if query.dim() != 3 or query.shape[-1] != self.embed_dim:
            raise ValueError(
                f"query: expected (batch, seq, {self.embed_dim}), got {tuple(query.shape)}"
            )
        b, s, e = query.shape
        q, k, v = (
            self.qkv(query).view(b, s, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        energy = -q @ k.transpose(-2, -1)  # E_ij = −q_i·k_j, (b, heads, s, s)
        logits = -energy / self.head_temperature.temperature  # the Boltzmann weights' exponent
        if attn_mask is None and is_causal:
            attn_mask = torch.ones(s, s, dtype=torch.bool, device=query.device).triu(1)
        if attn_mask is not None:  # acts on the exponent, like torch's attention
            logits = _mask(logits, self._attn_mask(attn_mask, b, s), "attn_mask")
        if key_padding_mask is not None:
            if key_padding_mask.shape != (b, s):
                raise ValueError(
                    f"key_padding_mask: expected shape ({b}, {s}), got {tuple(key_padding_mask.shape)}"
                )
            logits = _mask(logits, key_padding_mask[:, None, None, :], "key_padding_mask")
        alpha = torch.softmax(logits, dim=-1)
        if self.track_state:
            with torch.no_grad():
                self.last_entropy = shannon_entropy(alpha.detach()).mean(dim=(0, 2))
        out = self.out_proj((alpha @ v).transpose(1, 2).reshape(b, s, e))
        if not need_weights:
            return out, None
        return out, alpha.mean(1) if average_attn_weights else alpha


def _mask(logits: Tensor, mask: Tensor, name: str) -> Tensor:
    """A boolean mask (True = blocked) sets −∞; a float mask is added to the exponent."""
    if mask.dtype == torch.bool:
        return logits.masked_fill(mask, -math.inf)
    if not mask.is_floating_point():
        raise ValueError(f"{name}: expected a boolean or floating mask, got {mask.dtype}")
    return logits + mask


def couple_temperatures(
    optimizer: torch.optim.Optimizer, model: nn.Module, duration: float = 1.0
) -> RemovableHandle:
    """After every ``optimizer.step()``, relax the temperatures of each coupled
    :class:`ThermalNodes` of ``model`` for ``duration`` (one exact step; the couplings are read
    now and taken as fixed). Returns the hook's handle (``.remove()`` detaches it).

    Raises:
        ValueError: ``model`` has no coupled thermal nodes, or a non-positive duration.
    """
    check_float("duration", duration, above=0.0)
    coupled = [m for m in model.modules() if isinstance(m, ThermalNodes) and m.coupled]
    if not coupled:
        raise ValueError(
            f"model: expected ThermalNodes with coupling or bath_coupling > 0, found none in {type(model).__name__}"
        )
    flows = [(m, m._flow(duration)) for m in coupled]

    def relax(*_: object) -> None:
        with torch.no_grad():
            for m, flow in flows:
                m._advance(flow, 1)

    return optimizer.register_step_post_hook(relax)


def node_states(model: nn.Module) -> dict[str, NodeState]:
    """The state of every :class:`ThermalNodes` in ``model`` after its last forward, by name."""
    return {
        name: m.state
        for name, m in model.named_modules()
        if isinstance(m, ThermalNodes) and m.state is not None
    }
