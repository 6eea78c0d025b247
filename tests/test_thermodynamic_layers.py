"""Thermodynamic nodes, layers and networks against hand-computed values, exact relaxation of the
coupled temperatures, and the standard layers they reduce to."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from thermonn.functional.nodes import (
    layer_energy,
    node_state,
    thermal_interaction_energy,
    thermal_noise,
)
from thermonn.nn import (
    NODE_ACTIVATIONS,
    ThermalAttention,
    ThermalNodes,
    ThermalRNN,
    ThermodynamicLayer,
    node_states,
    temperature_penalty,
)
from thermonn.schedules import ExponentialCooling, TemperatureScheduler


def _two_level_entropy(z: float, t: float) -> float:
    p1 = math.exp(-z / t) / (1 + math.exp(-z / t))
    return -(p1 * math.log(p1) + (1 - p1) * math.log(1 - p1))


def test_node_state_matches_hand_computation() -> None:
    z = torch.tensor([[0.5, -1.0], [1.5, 2.0], [-0.5, 0.0]], dtype=torch.float64)
    t = torch.tensor([0.7, 2.0], dtype=torch.float64)
    s = node_state(z, t)
    for i in range(2):
        u = float(z[:, i].square().mean())
        ent = sum(_two_level_entropy(float(v), float(t[i])) for v in z[:, i]) / 3
        assert float(s.energy[i]) == pytest.approx(u, rel=1e-12)
        assert float(s.entropy[i]) == pytest.approx(ent, rel=1e-12)
        assert float(s.free_energy[i]) == pytest.approx(u - float(t[i]) * ent, rel=1e-12)
    assert float(node_state(torch.zeros(4, 1), 3.0).entropy[0]) == pytest.approx(math.log(2))


def test_node_state_finite_at_large_energy_over_temperature() -> None:
    z = torch.tensor([[1e4, -1e4, 0.0]], dtype=torch.float32)
    s = node_state(z, 1.0)
    assert torch.isfinite(s.entropy).all() and torch.isfinite(s.free_energy).all()
    assert s.entropy[:2].abs().max() < 1e-6  # frozen into one level
    # node_dim: channels of a feature map
    x = torch.randn(2, 3, 4, 4)
    a, b = node_state(x, 0.5, node_dim=1), node_state(x.movedim(1, -1), 0.5)
    torch.testing.assert_close(a.entropy, b.entropy)


def test_coupling_dynamics_is_the_gradient_flow_of_the_interaction_energy() -> None:
    g = torch.Generator().manual_seed(0)
    n = 5
    j = torch.rand(n, n, generator=g, dtype=torch.float64)
    j = (j + j.T) / 2 * (1 - torch.eye(n, dtype=torch.float64))
    c = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    nodes = ThermalNodes(
        n, coupling=j, bath_coupling=0.3, bath_temperature=1.5, temperature=1.0, heat_capacity=c
    )
    with torch.no_grad():
        nodes.log_temperature.copy_(torch.rand(n, generator=g).add(0.5).log())
    t = nodes.temperature.detach().double().requires_grad_()
    (grad,) = torch.autograd.grad(thermal_interaction_energy(t, j, 0.3, 1.5), t)
    torch.testing.assert_close(c * nodes.temperature_rate(), -grad)  # C dT/dt = −∇E_th
    # scalar J: the all-pairs closed form equals the matrix form
    full = 0.7 * (1 - torch.eye(n, dtype=torch.float64))
    torch.testing.assert_close(
        thermal_interaction_energy(t.detach(), 0.7), thermal_interaction_energy(t.detach(), full)
    )
    u = torch.rand(n, dtype=torch.float64, generator=g)
    brute = sum(
        0.5 * float(j[a, b]) * float(t[a].detach() - t[b].detach()) ** 2
        for a in range(n)
        for b in range(n)
    )
    assert float(layer_energy(u, t.detach(), j)) == pytest.approx(float(u.sum()) + brute)


@pytest.mark.parametrize("activation", sorted(NODE_ACTIVATIONS))
def test_node_activations_match_their_formulas_per_node(activation: str) -> None:
    t = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    nodes = ThermalNodes(3, activation, temperature=1.0).double()
    with torch.no_grad():
        nodes.log_temperature.copy_(t.log())
        if nodes.mu is not None:
            nodes.mu.copy_(torch.tensor([0.1, -0.2, 0.3]))
    z = torch.randn(4, 3, dtype=torch.float64)
    if activation == "fermi-dirac":
        expected = 1 / (1 + torch.exp((z - torch.tensor([0.1, -0.2, 0.3])) / t))
    elif activation == "boltzmann":
        expected = torch.exp(-z / t) / torch.exp(-z / t).sum(-1, keepdim=True)
    elif activation == "thermal-relu":
        expected = torch.where(z > t, z - t, torch.zeros_like(z))
    else:
        expected = torch.sqrt(2 / (math.pi * t**3)) * z**2 * torch.exp(-(z**2) / (2 * t))
    torch.testing.assert_close(nodes(z), expected)
    assert nodes.state is not None and nodes.state.energy.shape == (3,)
    params = tuple(p for p in nodes.parameters())
    zz = (z + 0.05).requires_grad_()  # away from the thermal ReLU kink
    assert torch.autograd.gradcheck(lambda x, *p: nodes(x), (zz, *params))


def test_conv_layer_has_one_node_per_channel() -> None:
    torch.manual_seed(0)
    layer = ThermodynamicLayer.conv2d(
        2, 3, 3, padding=1, activation="thermal-relu", temperature=0.2
    )
    x = torch.randn(2, 2, 5, 5)
    y = layer(x)
    z = layer.transform(x)
    torch.testing.assert_close(y, F.relu(z - 0.2))
    assert layer.state is not None and layer.state.temperature.shape == (3,)
    assert set(node_states(nn.Sequential(layer))) == {"0.nodes"}


def _spread_temperatures(nodes: ThermalNodes, values: list[float]) -> None:
    with torch.no_grad():
        nodes.log_temperature.copy_(torch.tensor(values).log())


def test_isolated_nodes_relax_to_the_mean_with_time_constant_one_over_nj() -> None:
    n, j = 4, 0.5
    nodes = ThermalNodes(n, coupling=j, temperature=1.0)
    t0 = torch.tensor([0.5, 1.0, 2.0, 3.5], dtype=torch.float64)
    _spread_temperatures(nodes, t0.tolist())
    assert nodes.relaxation_time() == pytest.approx(1 / (n * j))
    path = nodes.relax(2.0, steps=8)
    mean = t0.mean()
    expected = mean + (t0 - mean) * torch.exp(-n * j * path.times)[:, None]
    torch.testing.assert_close(path.states.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(nodes.temperature.double(), expected[-1], rtol=1e-5, atol=1e-6)


def test_capacities_weight_the_final_mean_and_a_bath_pulls_it() -> None:
    c = torch.tensor([1.0, 3.0], dtype=torch.float64)
    nodes = ThermalNodes(2, coupling=0.4, heat_capacity=c, temperature=1.0)
    _spread_temperatures(nodes, [1.0, 3.0])
    # two bodies: the difference decays at J (1/C1 + 1/C2), the weighted mean is conserved
    assert nodes.relaxation_time() == pytest.approx(1 / (0.4 * (1 / 1 + 1 / 3)))
    nodes.relax(1.0)
    t = nodes.temperature.detach().double()
    assert float((c * t).sum() / c.sum()) == pytest.approx(2.5, rel=1e-6)
    assert float(t[1] - t[0]) == pytest.approx(2.0 * math.exp(-0.4 * (4 / 3)), rel=1e-5)
    # with a bath: the uniform mode relaxes to it at rate γ (equal capacities)
    bath = ThermalNodes(3, coupling=1.0, bath_coupling=0.2, bath_temperature=0.5, temperature=2.0)
    path = bath.relax(3.0, steps=3)
    expected = 0.5 + 1.5 * torch.exp(-0.2 * path.times)
    torch.testing.assert_close(path.states.double().mean(-1), expected, rtol=1e-5, atol=1e-6)


def test_equilibrate_stops_when_the_predicted_time_has_passed() -> None:
    n, j = 3, 1.0
    nodes = ThermalNodes(n, coupling=j, temperature=1.0)
    _spread_temperatures(nodes, [0.5, 1.0, 1.5])
    tol = 1e-5
    result = nodes.equilibrate(tol)
    # max |dT/dt| = nJ · max|T_i − mean| · e^{−nJ t}
    t_star = math.log(n * j * 0.5 / tol) / (n * j)
    dt = nodes.relaxation_time() / 10
    assert result.converged and result.rate <= tol
    assert t_star <= result.time + 1e-9 <= t_star + dt + 1e-9
    assert result.trajectory.states.shape == (result.steps + 1, n)
    rate_before = ThermalNodes(2, coupling=1.0)
    assert not rate_before.equilibrate().steps  # already at equilibrium


def test_temperature_rate_is_the_derivative_of_the_relaxation() -> None:
    nodes = ThermalNodes(3, coupling=0.3, bath_coupling=0.5, bath_temperature=2.0, temperature=1.0)
    _spread_temperatures(nodes, [0.5, 1.0, 1.5])
    rate = nodes.temperature_rate()
    before = nodes.temperature.detach().double().clone()
    h = 1e-4
    nodes.relax(h)
    torch.testing.assert_close(
        (nodes.temperature.double() - before) / h, rate, rtol=2e-3, atol=1e-4
    )


def test_thermal_noise_has_the_fluctuation_dissipation_variance() -> None:
    g = torch.Generator().manual_seed(1)
    xi = thermal_noise((200_000,), 0.8, friction=0.5, dt=0.1, generator=g, dtype=torch.float64)
    assert float(xi.var()) == pytest.approx(2 * 0.5 * 0.8 * 0.1, rel=0.02)
    nodes = ThermalNodes(2, "thermal-relu", temperature=0.5, noise=2.0, track_state=False)
    nodes.generator = torch.Generator().manual_seed(2)
    z = torch.full((100_000, 2), 10.0, dtype=torch.float64)
    nodes.double()
    y = nodes(z)
    assert float(y.detach().var(0).mean()) == pytest.approx(2 * 2.0 * 0.5, rel=0.03)
    nodes.eval()
    torch.testing.assert_close(nodes(z), z - 0.5)


def test_rnn_is_the_cell_unrolled() -> None:
    torch.manual_seed(0)
    rnn = ThermalRNN(3, 4, activation="fermi-dirac")
    x = torch.randn(2, 5, 3)
    out, h = rnn(x)
    w, b = rnn.cell.transform.weight, rnn.cell.transform.bias
    mu, t = rnn.cell.nodes.mu, rnn.cell.nodes.temperature
    hh = torch.zeros(2, 4)
    for step in range(5):
        hh = torch.sigmoid((mu - (torch.cat([x[:, step], hh], -1) @ w.T + b)) / t)
        torch.testing.assert_close(out[:, step], hh)
    torch.testing.assert_close(h, hh)


def _mha_copy(attn: ThermalAttention) -> nn.MultiheadAttention:
    mha = nn.MultiheadAttention(attn.embed_dim, attn.num_heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.out_proj.weight)
        mha.out_proj.bias.copy_(attn.out_proj.bias)
    return mha


def test_attention_at_sqrt_d_is_scaled_dot_product_attention() -> None:
    torch.manual_seed(0)
    attn = ThermalAttention(8, 2)
    mha = _mha_copy(attn)
    x = torch.randn(3, 6, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    ours, w = attn(x, x, x, attn_mask=mask, need_weights=True)
    ref, w_ref = mha(x, x, x, attn_mask=mask, need_weights=True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w, w_ref, rtol=1e-5, atol=1e-6)
    bool_mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
    torch.testing.assert_close(attn(x, attn_mask=bool_mask)[0], ours)
    # the first query sees one key: zero entropy; entropies are finite and below ln 6
    assert attn.last_entropy is not None and torch.isfinite(attn.last_entropy).all()
    assert float(attn.last_entropy.max()) < math.log(6)


def test_attention_masks_match_multihead_attention() -> None:
    torch.manual_seed(1)
    attn = ThermalAttention(8, 2)
    mha = _mha_copy(attn)
    x = torch.randn(3, 5, 8)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True], [False] * 4 + [True]])
    for kpm in (pad, torch.zeros(3, 5).masked_fill(pad, -math.inf)):  # boolean and float
        torch.testing.assert_close(
            attn(x, key_padding_mask=kpm)[0], mha(x, x, x, key_padding_mask=pad)[0],
            rtol=1e-5, atol=1e-6,
        )  # fmt: skip
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    # is_causal without a mask is the causal mask, not a hint to ignore
    torch.testing.assert_close(attn(x, is_causal=True)[0], mha(x, x, x, attn_mask=causal)[0],
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    per_head = causal.expand(3 * 2, 5, 5)  # (batch · heads, s, s), as torch takes it
    torch.testing.assert_close(attn(x, attn_mask=per_head)[0], mha(x, x, x, attn_mask=per_head)[0],
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    # in an encoder layer a boolean src_key_padding_mask reaches self_attn as a float mask
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    ref = layer(x, src_key_padding_mask=pad)
    layer.self_attn = _thermal_copy(layer.self_attn)  # type: ignore[assignment]
    torch.testing.assert_close(layer(x, src_key_padding_mask=pad), ref, rtol=1e-5, atol=1e-6)


def _thermal_copy(mha: nn.MultiheadAttention) -> ThermalAttention:
    attn = ThermalAttention(mha.embed_dim, mha.num_heads)
    with torch.no_grad():
        attn.qkv.weight.copy_(mha.in_proj_weight)
        attn.qkv.bias.copy_(mha.in_proj_bias)
        attn.out_proj.weight.copy_(mha.out_proj.weight)
        attn.out_proj.bias.copy_(mha.out_proj.bias)
    return attn


def test_attention_replaces_an_encoder_self_attention() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)
    x = torch.randn(2, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    attn = ThermalAttention(8, 2)
    with torch.no_grad():
        attn.qkv.weight.copy_(layer.self_attn.in_proj_weight)
        attn.qkv.bias.copy_(layer.self_attn.in_proj_bias)
        attn.out_proj.weight.copy_(layer.self_attn.out_proj.weight)
        attn.out_proj.bias.copy_(layer.self_attn.out_proj.bias)
    for training in (True, False):
        layer.train(training)
        ref = layer(x, src_mask=mask, is_causal=True)
        original = layer.self_attn
        layer.self_attn = attn  # type: ignore[assignment]
        torch.testing.assert_close(
            layer(x, src_mask=mask, is_causal=True), ref, rtol=1e-5, atol=1e-6
        )
        layer.self_attn = original
    # a hotter head spreads its weights: entropy grows with T
    with torch.no_grad():
        attn.head_temperature.log_temperature.fill_(math.log(100.0))
    attn(x)
    hot = attn.last_entropy
    with torch.no_grad():
        attn.head_temperature.log_temperature.fill_(math.log(0.01))
    attn(x)
    assert hot is not None and attn.last_entropy is not None
    assert bool((hot > attn.last_entropy).all())
    assert float(hot.min()) == pytest.approx(math.log(5), abs=0.01)


def test_schedules_and_penalties_reach_every_node() -> None:
    model = nn.Sequential(
        ThermodynamicLayer.linear(3, 4, learnable=False, temperature=2.0), nn.Linear(4, 1)
    )
    scheduler = TemperatureScheduler(model, ExponentialCooling(2.0, 0.5, 10))
    scheduler.step()
    expected = 2.0 * (0.5 / 2.0) ** (1 / 10)
    nodes = model[0].nodes
    torch.testing.assert_close(nodes.temperature, torch.full((4,), expected))
    assert scheduler.get_last_temperature() == pytest.approx(expected)  # per-node temperatures
    learn = ThermalNodes(4, temperature=1.5)
    assert float(temperature_penalty(learn, 1.0, weight=0.1).detach()) == pytest.approx(
        0.1 * 4 * 0.5
    )


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(ValueError, match="activation"):
        ThermalNodes(3, "softplus")
    with pytest.raises(ValueError, match="coupling"):
        ThermalNodes(3, coupling=-1.0)
    with pytest.raises(ValueError, match="coupling"):
        ThermalNodes(2, coupling=torch.tensor([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ValueError, match="coupling"):
        ThermalNodes(2, coupling=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="bath_coupling"):
        ThermalNodes(2, bath_coupling=-0.1)
    with pytest.raises(ValueError, match="heat_capacity"):
        ThermalNodes(2, heat_capacity=0.0)
    with pytest.raises(ValueError, match="temperature"):
        ThermalNodes(2, temperature=0.0)
    with pytest.raises(ValueError, match="noise"):
        ThermalNodes(2, noise=-1.0)
    with pytest.raises(ValueError, match="input"):
        ThermalNodes(3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="num_heads"):
        ThermalAttention(6, 4)
    with pytest.raises(ValueError, match="input"):
        ThermalRNN(3, 2)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="duration"):
        ThermalNodes(2).relax(0.0)
    with pytest.raises(ValueError, match="bath_temperature"):
        ThermalNodes(2, bath_temperature=5000.0)  # outside the default clamp [1e-3, 1e3]
    with pytest.raises(ValueError, match="shape"):
        ThermalNodes(2, shape=(3,))
    with pytest.raises(ValueError, match="heat_capacity"):
        ThermalNodes(3, heat_capacity=torch.ones(2))
    with pytest.raises(ValueError, match="heat_capacity"):
        ThermalNodes(2, heat_capacity=math.inf)
    with pytest.raises(ValueError, match="coupling"):
        ThermalNodes(2, coupling=torch.tensor([[0.0, math.inf], [math.inf, 0.0]]))
    with pytest.raises(ValueError, match="node_dim"):
        ThermalNodes(4, node_dim=3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="query"):
        ThermalAttention(4, 2)(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="attn_mask"):
        ThermalAttention(4, 2)(torch.zeros(1, 3, 4), attn_mask=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="key_padding_mask"):
        ThermalAttention(4, 2)(torch.zeros(1, 3, 4), key_padding_mask=torch.zeros(1, 2).bool())
    with pytest.raises(ValueError, match="friction"):
        thermal_noise((2,), 1.0, friction=0.0)
    with pytest.raises(ValueError, match="kT"):
        thermal_noise((2,), -1.0)
