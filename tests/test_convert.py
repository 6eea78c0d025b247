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


# --- the built-in patterns, on hand-written modules that mimic timm and HuggingFace blocks ---


class TimmMlp(nn.Module):
    """timm's Mlp: fc1 → act → drop1 → norm → fc2 → drop2."""

    def __init__(self, d=6, h=10, norm=False):
        super().__init__()
        self.fc1, self.act, self.drop1 = nn.Linear(d, h), nn.GELU(), nn.Dropout(0.0)
        self.norm = nn.LayerNorm(h) if norm else nn.Identity()
        self.fc2, self.drop2 = nn.Linear(h, d), nn.Dropout(0.0)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class GluMlp(nn.Module):
    """timm's GluMlp: fc1 gives both halves, act gates one of them: fc2 takes half of fc1."""

    def __init__(self, d=6, h=10):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, 2 * h), nn.Sigmoid(), nn.Linear(h, d)

    def forward(self, x):
        a, b = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(a * self.act(b))


class NormBeforeAct(nn.Module):
    """fc1 → norm → act → fc2 (timm's ConvMlp order): the norm sits between Linear and act."""

    def __init__(self, d=6, h=10):
        super().__init__()
        self.fc1, self.norm, self.act, self.fc2 = (
            nn.Linear(d, h),
            nn.LayerNorm(h),
            nn.ReLU(),
            nn.Linear(h, d),
        )

    def forward(self, x):
        return self.fc2(self.act(self.norm(self.fc1(x))))


class Intermediate(nn.Module):
    """HuggingFace's *Intermediate, its activation a plain function (config.hidden_act=callable)."""

    def __init__(self, d=6, h=10):
        super().__init__()
        self.dense = nn.Linear(d, h)
        self.intermediate_act_fn = nn.functional.gelu

    def forward(self, x):
        return self.intermediate_act_fn(self.dense(x))


class BertLikeLayer(nn.Module):
    def __init__(self, d=6, h=10):
        super().__init__()
        self.intermediate = Intermediate(d, h)
        self.output = nn.Module()
        self.output.dense = nn.Linear(h, d)

    def forward(self, x):
        return self.output.dense(self.intermediate(x))


class Conv1D(nn.Module):
    """HuggingFace's Conv1D, written out: a Linear whose weight is stored (in, out)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.3)
        self.bias = nn.Parameter(torch.randn(nf) * 0.1)

    def forward(self, x):
        out = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return out.reshape(*x.shape[:-1], self.nf)


class GPT2LikeMLP(nn.Module):
    """GPT-2's MLP: c_fc, c_proj registered before act."""

    def __init__(self, d=6, h=10):
        super().__init__()
        self.c_fc, self.c_proj, self.act = Conv1D(h, d), Conv1D(d, h), nn.GELU(approximate="tanh")

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class LlamaLikeMLP(nn.Module):
    def __init__(self, d=6, h=10):
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(d, h, bias=False), nn.Linear(d, h, bias=False)
        self.down_proj, self.act_fn = nn.Linear(h, d, bias=False), nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class SwiGLU(nn.Module):
    """timm's SwiGLU: fc1_g (gate), fc1_x (up), act, fc2."""

    def __init__(self, d=6, h=10):
        super().__init__()
        self.fc1_g, self.fc1_x, self.act, self.fc2 = (
            nn.Linear(d, h),
            nn.Linear(d, h),
            nn.SiLU(),
            nn.Linear(h, d),
        )

    def forward(self, x):
        return self.fc2(self.act(self.fc1_g(x)) * self.fc1_x(x))


def _z(tel, x):
    """The TEL's projection z = W x + b (its descent starts there)."""
    return nn.functional.linear(x, tel.weight, tel.bias)


@pytest.mark.parametrize(
    ("make", "path", "pattern", "activation", "formula"),
    [
        (TimmMlp, "fc1", "fc1/act/fc2", "GELU", lambda m, x: m.fc2(m.norm(m.fc1(x)))),
        (lambda: TimmMlp(norm=True), "fc1", "fc1/act/fc2", "GELU", lambda m, x: m.fc2(m.norm(m.fc1(x)))),
        (BertLikeLayer, "intermediate.dense", "dense/intermediate_act_fn", "gelu",
         lambda m, x: m.output.dense(m.intermediate.dense(x))),
        (GPT2LikeMLP, "c_fc", "c_fc/act/c_proj", "GELU", lambda m, x: m.c_proj(m.c_fc(x))),
        (LlamaLikeMLP, "gate_proj", "gate_proj/up_proj/act_fn/down_proj", "SiLU",
         lambda m, x: m.down_proj(m.gate_proj(x) * m.up_proj(x))),
        (SwiGLU, "fc1_g", "fc1_g/fc1_x/act/fc2", "SiLU", lambda m, x: m.fc2(m.fc1_g(x) * m.fc1_x(x))),
    ],
)  # fmt: skip
def test_each_pattern_is_found_and_the_tel_takes_over_linear_and_activation(
    make, path, pattern, activation, formula
):
    model = nn.Sequential(make())  # nested: the path is qualified
    x = torch.randn(5, 6)
    converted, report = thermonn.convert(model, steps=3)
    assert report.paths == [f"0.{path}"]
    r = report.replacements[0]
    assert (r.pattern, r.activation, r.in_features, r.out_features) == (pattern, activation, 6, 10)
    tel = converted.get_submodule(f"0.{path}")
    assert isinstance(tel, thermonn.TEL)
    assert isinstance(converted.get_submodule(r.activation_path), nn.Identity)
    # oracle 1: the TEL starts from the replaced projection (z is its output)
    torch.testing.assert_close(_z(tel, x), model.get_submodule(f"0.{path}")(x))
    # oracle 2: the block computes the same formula with the TEL as its nonlinearity
    torch.testing.assert_close(converted(x), formula(converted[0], x))


@pytest.mark.parametrize(("d", "h"), [(6, 10), (8, 8)])  # square: a missed transpose still fits
def test_a_conv1d_weight_is_transposed_into_the_tel(d, h):
    mlp = GPT2LikeMLP(d, h)
    converted, report = thermonn.convert(mlp)
    assert report.replacements[0].source == "Conv1D" and "(Conv1D, transposed)" in str(report)
    tel = converted.c_fc
    assert tel.weight.shape == (h, d)
    torch.testing.assert_close(tel.weight, mlp.c_fc.weight.T, rtol=0, atol=0)
    x = torch.randn(3, 4, d)
    torch.testing.assert_close(_z(tel, x), mlp.c_fc(x))
    # a user rule may name a Conv1D too (it used to require an nn.Linear)
    by_rule = thermonn.convert(mlp, rules={GPT2LikeMLP: ("c_fc", "act")}, patterns=[])[1]
    assert by_rule.paths == ["c_fc"] and by_rule.replacements[0].pattern == "rule"


def test_conv1d_with_hooks_or_a_parametrisation_is_refused_by_name():
    hooked = GPT2LikeMLP()
    hooked.c_fc.register_forward_hook(lambda *a: None)
    with pytest.raises(ValueError, match="site 'c_fc'.*Conv1D with forward hooks"):
        thermonn.convert(hooked)
    param = GPT2LikeMLP()
    torch.nn.utils.parametrize.register_parametrization(param.c_fc, "weight", nn.Identity())
    with pytest.raises(ValueError, match="site 'c_fc'.*Conv1D with a parametrisation"):
        thermonn.convert(param)


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (GluMlp, "fc2 takes 10 features but fc1 gives 20.*GluMlp"),
        (NormBeforeAct, r"a LayerNorm \(norm\) is registered between fc1 and act"),
    ],
)
def test_near_misses_are_not_sites_and_the_message_says_why(block, reason):
    model = nn.ModuleDict({"mlp": block()})
    with pytest.warns(UserWarning, match="no hidden feed-forward site") as caught:
        _, report = thermonn.convert(model)
    assert len(report) == 0
    assert [(s.path, s.pattern) for s in report.skipped] == [("mlp", "fc1/act/fc2")]
    message = str(caught[0].message)
    assert "Looked for: rules for ['TransformerEncoderLayer'" in message
    assert "c_fc/act/c_proj" in message and "'mlp' (fc1/act/fc2)" in message
    with pytest.raises(ValueError, match=reason):
        thermonn.convert(model, strict=True)


def test_patterns_select_the_recognisers():
    model = nn.Sequential(LlamaLikeMLP(), TimmMlp())
    assert thermonn.convert(model)[1].paths == ["0.gate_proj", "1.fc1"]
    assert thermonn.convert(model, patterns=["fc1/act/fc2"])[1].paths == ["1.fc1"]
    custom = thermonn.nn.Pattern("up_proj", "act_fn", "down_proj")  # a Pattern object
    assert thermonn.convert(model, patterns=[custom])[1].paths == ["0.up_proj"]
    with pytest.warns(UserWarning, match=r"Looked for: nothing \(patterns=\[\] and no rules\)"):
        thermonn.convert(model, patterns=[])
    with pytest.raises(ValueError, match="patterns: expected names from.*got 'gated'"):
        thermonn.convert(model, patterns=["gated"])
    with pytest.raises(TypeError, match="patterns: expected a list of names"):
        thermonn.convert(model, patterns="sequential")


def test_thermonn_imports_neither_timm_nor_transformers():
    import subprocess
    import sys

    code = (
        "import sys, torch, thermonn; from torch import nn; "
        "thermonn.convert(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))); "
        "print(sorted(m for m in ('timm', 'transformers', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the record: report.options, to_dict / from_dict, reconvert, save_converted / load_converted ---


def _zoo():
    torch.manual_seed(1)
    return nn.Sequential(TimmMlp(), GPT2LikeMLP(), LlamaLikeMLP(), BertLikeLayer())


def _trained(model):
    """Move every parameter (TEL steps and temperature included) off its initial value."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_reconvert_rebuilds_the_architecture_bit_for_bit():
    import json

    options = {"steps": 3, "entropy": "gate", "t_min": 0.2, "temperature": "fixed"}
    converted, report = thermonn.convert(_zoo(), **options)
    assert report.options == options and len(report) == 4
    _trained(converted).eval()
    record = json.loads(json.dumps(report.to_dict()))  # through JSON
    assert thermonn.nn.ConversionReport.from_dict(record) == report
    x = torch.randn(4, 6)
    for rebuilt, again in (
        thermonn.reconvert(_zoo(), record),
        thermonn.reconvert(_zoo(), report),
        thermonn.convert(_zoo(), **report.options),
    ):
        assert again.paths == report.paths
        rebuilt.load_state_dict(converted.state_dict())
        assert torch.equal(rebuilt.eval()(x), converted(x))


def test_reconvert_checks_the_sites_it_is_given():
    _, report = thermonn.convert(_zoo())
    with pytest.raises(ValueError, match=r"site '1.c_fc' to be a Conv1D 6 → 10, got Conv1D 6 → 12"):
        thermonn.reconvert(
            nn.Sequential(TimmMlp(), GPT2LikeMLP(6, 12), LlamaLikeMLP(), BertLikeLayer()), report
        )
    with pytest.raises(ValueError, match=r"expected a block at '2' \(site '2.gate_proj'\)"):
        thermonn.reconvert(nn.Sequential(TimmMlp(), GPT2LikeMLP()), report)
    with pytest.raises(ValueError, match="expected a report with"):
        thermonn.reconvert(_zoo(), {"format": "other"})
    with pytest.raises(TypeError, match="expected a dict, got list"):
        thermonn.reconvert(_zoo(), [])
    with pytest.raises(ValueError, match="expected 'replacements' to be a list of objects"):
        thermonn.reconvert(_zoo(), {**report.to_dict(), "replacements": [{"path": "0.fc1"}]})


def test_an_entropy_object_cannot_go_to_json_but_reconverts_in_memory():
    converted, report = thermonn.convert(_zoo(), entropy=thermonn.Gate())
    with pytest.raises(TypeError, match="option entropy=Gate.*cannot be written as JSON"):
        report.to_dict()
    rebuilt, _ = thermonn.reconvert(_zoo(), report)
    rebuilt.load_state_dict(converted.state_dict())


class Tied(nn.Module):
    """Embedding and output head share one weight, as language models tie them."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 6)
        self.mlp = TimmMlp()
        self.head = nn.Linear(6, 11, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(self.mlp(self.embed(ids)))


def test_save_and_load_converted_round_trip_a_plain_module(tmp_path):
    converted, report = thermonn.convert(Tied(), steps=2)
    _trained(converted).eval()
    path = thermonn.save_converted(converted, report, tmp_path / "ckpt")
    assert path.name == "thermonn_tel.json"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "model.safetensors",
        "thermonn_tel.json",
    ]
    loaded, again = thermonn.load_converted(Tied, tmp_path / "ckpt")
    assert again == report and not loaded.training
    assert loaded.head.weight is loaded.embed.weight  # still tied
    ids = torch.randint(0, 11, (3, 5))
    assert torch.equal(loaded(ids), converted(ids))


def test_save_and_load_converted_say_what_is_wrong(tmp_path):
    converted, report = thermonn.convert(Tied())
    with pytest.raises(ValueError, match=r"expected a TEL 6 → 10 at 'mlp.fc1'.*got Linear"):
        thermonn.save_converted(Tied(), report, tmp_path / "a")
    with pytest.raises(TypeError, match="has no save_pretrained"):
        thermonn.save_converted(converted, report, tmp_path / "a", safe_serialization=True)
    thermonn.save_converted(converted.double(), report, tmp_path / "b")
    with pytest.raises(
        ValueError, match=r"expected embed.weight as torch.float32.*got torch.float64"
    ):
        thermonn.load_converted(Tied, tmp_path / "b")
    with pytest.raises(ValueError, match=r"expected thermonn_tel.json in"):
        thermonn.load_converted(Tied, tmp_path)
    with pytest.raises(ValueError, match="expected a directory"):
        thermonn.load_converted(Tied, tmp_path / "missing")
    thermonn.save_converted(converted, report, tmp_path / "c")

    class WithExtra(Tied):
        def __init__(self):
            super().__init__()
            self.extra = nn.Linear(2, 2)

    with pytest.raises(
        ValueError, match=r"missing \['extra.weight', 'extra.bias'\], unexpected \[\]"
    ):
        thermonn.load_converted(WithExtra, tmp_path / "c")
    with pytest.raises(TypeError, match="expected a HuggingFace model class .* or a callable"):
        thermonn.load_converted(3, tmp_path / "b")
