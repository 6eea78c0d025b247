"""convert(): swaps exactly what it reports, keeps weights, and the converted model trains."""

import pytest
import torch
from torch import nn

import thermonn


def _encoder_layer(**kw):
    return nn.TransformerEncoderLayer(
        16, 2, dim_feedforward=32, dropout=0.0, batch_first=True, **kw
    )


def test_encoder_layer_swaps_exactly_what_it_reports():
    layer = _encoder_layer()
    converted, report = thermonn.convert(layer, steps=3)
    assert report.paths == ["linear1"]
    assert report.replacements[0].activation == "relu"
    tels = [n for n, m in converted.named_modules() if isinstance(m, thermonn.TEL)]
    assert tels == ["linear1"]
    assert isinstance(converted.activation, nn.Identity)
    torch.testing.assert_close(converted.linear1.weight, layer.linear1.weight)
    assert isinstance(layer.linear1, nn.Linear)  # original untouched (inplace=False)
    # Oracle: the block's output equals a hand-written post-norm block using the TEL FFN, in eval
    # mode too, where PyTorch's fused fast path would otherwise bypass the TEL.
    converted.eval()
    x = torch.randn(3, 5, 16)
    with torch.no_grad():
        h = converted.norm1(x + converted.self_attn(x, x, x, need_weights=False)[0])
        expected = converted.norm2(h + converted.linear2(converted.linear1(h)))
        torch.testing.assert_close(converted(x), expected, rtol=1e-5, atol=1e-5)


def test_decoder_layer_and_first_only_in_a_stack():
    enc = nn.TransformerEncoder(_encoder_layer(), num_layers=3, enable_nested_tensor=False)
    _, first = thermonn.convert(enc, first_only=True)
    assert first.paths == ["layers.0.linear1"]
    model, every = thermonn.convert(enc)
    assert every.paths == [f"layers.{i}.linear1" for i in range(3)]
    assert sum(isinstance(m, thermonn.TEL) for m in model.modules()) == 3
    dec = nn.TransformerDecoderLayer(16, 2, dim_feedforward=24, activation="gelu", batch_first=True)
    dec, rep = thermonn.convert(dec, entropy="gate")
    assert rep.paths == ["linear1"] and rep.replacements[0].activation == "gelu"
    assert isinstance(dec.linear1.entropy, thermonn.Gate)
    assert dec(torch.randn(2, 4, 16), torch.randn(2, 6, 16)).shape == (2, 4, 16)


def test_sequential_mlp():
    mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    first, rep1 = thermonn.convert(mlp, first_only=True)
    assert (
        rep1.paths == ["0"] and isinstance(first[1], nn.Identity) and isinstance(first[3], nn.ReLU)
    )
    full, rep = thermonn.convert(mlp)
    assert rep.paths == ["0", "2"]
    assert isinstance(full[4], nn.Linear)  # the head has no activation after it
    assert [r.activation for r in rep.replacements] == ["GELU", "ReLU"]
    assert "| 0 | Sequential | 4 → 8 | GELU |" in str(rep)


def test_user_rule_and_bad_rules():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 6), nn.SiLU(), nn.Linear(6, 4)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    model = nn.Sequential(Block(), Block())
    converted, rep = thermonn.convert(model, rules={Block: ("fc1", "act")}, steps=2)
    assert rep.paths == ["0.fc1", "1.fc1"]
    assert converted(torch.randn(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match="expected attribute 'fc2x' to be an nn.Linear"):
        thermonn.convert(model, rules={Block: ("fc2x", "act")})
    with pytest.raises(ValueError, match="names activation attribute 'gelu'"):
        thermonn.convert(model, rules={Block: ("fc1", "gelu")})
    with pytest.raises(TypeError, match=r"expected \(linear_attr, activation_attr\)"):
        thermonn.convert(model, rules={Block: "fc1"})
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        thermonn.convert("model")
    assert len(thermonn.convert(nn.Linear(3, 3))[1]) == 0


def test_converted_transformer_trains():
    """A converted encoder learns a sequence task (sign of the sum of the first feature)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, 16, generator=g)
    y = (x[..., 0].sum(-1) > 0).long()
    torch.manual_seed(0)
    enc = nn.TransformerEncoder(_encoder_layer(), num_layers=2, enable_nested_tensor=False)
    enc, rep = thermonn.convert(enc, first_only=True, steps=3)
    assert len(rep) == 1
    model = nn.ModuleDict({"enc": enc, "head": nn.Linear(16, 2)})
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_fn():
        return nn.functional.cross_entropy(model["head"](model["enc"](x).mean(1)), y)

    with torch.no_grad():
        start = loss_fn().item()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    tel = model["enc"].layers[0].linear1
    assert tel.step_logits.grad is not None and tel.step_logits.grad.abs().sum() > 0
    assert loss.item() < 0.5 * start
