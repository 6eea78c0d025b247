"""convert(): swaps exactly what it reports, keeps weights, and the converted model trains."""

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

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
    with pytest.warns(UserWarning, match="no hidden feed-forward site"):
        assert len(thermonn.convert(nn.Linear(3, 3))[1]) == 0
    with pytest.raises(ValueError, match="no hidden feed-forward site"):
        thermonn.convert(nn.Linear(3, 3), strict=True)


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


def test_an_output_head_is_not_a_hidden_feed_forward():
    """Linear → Sigmoid at the end is the model's output; converting it made outputs negative."""
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
    converted, report = thermonn.convert(model)
    assert report.paths == ["0"]
    assert isinstance(converted[2], nn.Linear) and isinstance(converted[3], nn.Sigmoid)
    out = converted(torch.randn(64, 4) * 10)
    assert bool(((out > 0) & (out < 1)).all())
    # dropout between the activation and the next Linear keeps it a hidden feed-forward
    with_dropout = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 2))
    assert thermonn.convert(with_dropout)[1].paths == ["0"]


def test_training_flag_requires_grad_dtype_and_device_carry_over():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).double().eval()
    model[0].bias.requires_grad_(False)
    converted, _ = thermonn.convert(model)
    tel = converted[0]
    assert not tel.training and not tel.temperature.training
    assert tel.weight.dtype == torch.float64 and tel.weight.device == model[0].weight.device
    assert tel.weight.requires_grad and not tel.bias.requires_grad
    frozen = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).requires_grad_(False)
    tel = thermonn.convert(frozen)[0][0]
    assert not any(p.requires_grad for p in tel.parameters())  # step sizes and T included
    assert thermonn.convert(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))[0][
        0
    ].training


def test_a_spectral_norm_parametrisation_is_carried_over_with_its_state():
    torch.manual_seed(0)
    model = nn.Sequential(spectral_norm(nn.Linear(6, 16)), nn.ReLU(), nn.Linear(16, 2))
    for _ in range(3):
        model(torch.randn(5, 6))  # a few power iterations: u, v are state worth keeping
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted, report = thermonn.convert(model)
    assert report.paths == ["0"]
    tel = converted[0]
    state = converted.state_dict()
    for key, value in before.items():  # the original is untouched, the TEL got everything
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    model.eval(), converted.eval()
    torch.testing.assert_close(tel.weight, model[0].weight, rtol=0, atol=0)
    assert torch.linalg.matrix_norm(tel.weight.detach(), 2) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("first", "message"),
    [
        (lambda: nn.LazyLinear(8), "site '0'.*uninitialised nn.LazyLinear"),
        (
            lambda: torch.nn.utils.spectral_norm(nn.Linear(4, 8)),
            "site '0'.*forward hooks.*spectral_norm",
        ),
    ],
)
def test_layers_that_cannot_be_converted_faithfully_are_refused_by_name(first, message):
    model = nn.Sequential(first(), nn.ReLU(), nn.Linear(8, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LazyLinear warns that it is experimental
        with pytest.raises(ValueError, match=message):
            thermonn.convert(model, inplace=True)
    assert isinstance(model[1], nn.ReLU)  # nothing changed, inplace or not


def test_tel_options_are_validated_before_the_walk():
    with pytest.raises(TypeError, match=r"unknown TEL option\(s\) \['stepz'\]"):
        thermonn.convert(nn.Linear(3, 3), stepz=3)
    with pytest.raises(TypeError, match="come from the replaced Linear"):
        thermonn.convert(nn.Linear(3, 3), in_features=3)
    with pytest.raises(ValueError, match="steps: expected an int >= 1, got 0"):
        thermonn.convert(nn.Linear(3, 3), steps=0)


def test_an_entropy_object_is_copied_per_site():
    mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    converted, _ = thermonn.convert(mlp, entropy=thermonn.Gate())
    assert converted[0].entropy is not converted[2].entropy
