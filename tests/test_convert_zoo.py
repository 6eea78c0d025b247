"""convert() on the model zoos: HuggingFace transformers and timm, tiny models built from config.

Each model family is checked the same way: ``convert`` with defaults finds the expected sites
(paths and sizes); every TEL starts from the replaced projection (oracle: its z equals the
original ``fc1``/``c_fc``/``dense``/``gate_proj`` output — for GPT-2's Conv1D this checks the
transpose); a few Adam steps lower the loss; ``torch.compile`` matches eager; and
``save_converted``/``load_converted`` give back bit-identical outputs.  Nothing is downloaded
(``HF_HUB_OFFLINE=1``); a library that is absent skips its tests.  timm needs a torchvision built
for the installed torch: see docs/ecosystem.md, "Installing timm".
"""

import functools
import os

import pytest
import torch
from torch import nn

import thermonn

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB, SEQ = 40, 8


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def timm():
    try:
        import timm
    except Exception as err:  # a torchvision built for another torch raises RuntimeError
        pytest.skip(f"timm unavailable: {type(err).__name__}: {err}")
    return timm


def _gpt2(tf):
    cfg = tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=VOCAB, n_positions=16,
                        bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0,
                        attn_pdrop=0.0)  # fmt: skip
    return tf.GPT2LMHeadModel(cfg), tf.AutoModelForCausalLM


def _bert(tf):
    cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=48, vocab_size=VOCAB, max_position_embeddings=16,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    return tf.BertForMaskedLM(cfg), tf.AutoModelForMaskedLM


def _llama(tf):
    cfg = tf.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=48, vocab_size=VOCAB,
                         max_position_embeddings=16, bos_token_id=0, eos_token_id=0,
                         pad_token_id=0)  # fmt: skip
    return tf.LlamaForCausalLM(cfg), tf.AutoModelForCausalLM


# family -> (builder, expected site paths, (in, out), pattern)
HF = {
    "gpt2": (_gpt2, [f"transformer.h.{i}.mlp.c_fc" for i in range(2)], (32, 128), "c_fc/act/c_proj"),
    "bert": (_bert, [f"bert.encoder.layer.{i}.intermediate.dense" for i in range(2)], (32, 48),
             "dense/intermediate_act_fn"),
    "llama": (_llama, [f"model.layers.{i}.mlp.gate_proj" for i in range(2)], (32, 48),
              "gate_proj/up_proj/act_fn/down_proj"),
}  # fmt: skip


def _check_sites(original, converted, report, paths, sizes, pattern):
    """The expected sites, TELs in place, and each TEL's z equal to the projection it replaced."""
    assert report.paths == paths
    assert [(r.in_features, r.out_features) for r in report.replacements] == sizes
    assert {r.pattern for r in report.replacements} == {pattern}
    assert [n for n, m in converted.named_modules() if isinstance(m, thermonn.TEL)] == paths
    for r in report.replacements:
        tel, old = converted.get_submodule(r.path), original.get_submodule(r.path)
        assert isinstance(converted.get_submodule(r.activation_path), nn.Identity)
        x = torch.randn(2, 5, r.in_features)
        z = nn.functional.linear(x, tel.weight, tel.bias)
        torch.testing.assert_close(z, old(x))


def _train(model, loss_fn, steps=25, lr=3e-3):
    """Adam on one fixed batch; the (start, end) losses and the TELs' step-size gradients."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        start = loss_fn().item()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    grads = [m.step_logits.grad for m in model.modules() if isinstance(m, thermonn.TEL)]
    with torch.no_grad():
        return start, loss_fn().item(), grads


def _assert_trains(model, loss_fn):
    start, end, grads = _train(model, loss_fn)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert end < 0.7 * start, (start, end)


def _assert_compiles(model, *args):
    model.eval()
    with torch.no_grad():
        eager = model(*args)
        compiled = torch.compile(model)(*args)
    eager, compiled = (o.logits if hasattr(o, "logits") else o for o in (eager, compiled))
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", sorted(HF))
def test_hf_model_converts_with_defaults_and_trains(transformers, family):
    build, paths, size, pattern = HF[family]
    torch.manual_seed(0)
    model, _ = build(transformers)
    converted, report = thermonn.convert(model, steps=3)
    _check_sites(model, converted, report, paths, [size] * len(paths), pattern)
    ids = torch.randint(0, VOCAB, (4, SEQ), generator=torch.Generator().manual_seed(1))
    _assert_trains(converted, lambda: converted(input_ids=ids, labels=ids).loss)


@pytest.mark.parametrize("family", sorted(HF))
def test_hf_model_compiles_to_eager(transformers, family):
    torch.manual_seed(0)
    converted, _ = thermonn.convert(HF[family][0](transformers)[0], steps=2)
    _assert_compiles(converted, torch.randint(0, VOCAB, (2, SEQ)))


@pytest.mark.parametrize("family", sorted(HF))
def test_hf_checkpoint_round_trips_bit_for_bit(transformers, family, tmp_path):
    torch.manual_seed(0)
    model, auto = HF[family][0](transformers)
    converted, report = thermonn.convert(model, steps=2, entropy="gate")
    with torch.no_grad():  # trained TEL parameters: step sizes, temperature, entropy
        for p in converted.parameters():
            p.add_(0.05 * torch.randn_like(p))
    converted.eval()
    thermonn.save_converted(converted, report, tmp_path)
    assert {"config.json", "model.safetensors", "thermonn_tel.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    ids = torch.randint(0, VOCAB, (2, SEQ))
    with torch.no_grad():
        expected = converted(ids).logits
    for cls in (auto, type(model)):  # AutoModel... and the model class, as from_pretrained
        loaded, again = thermonn.load_converted(cls, tmp_path)
        assert type(loaded) is type(model) and again == report and not loaded.training
        with torch.no_grad():
            assert torch.equal(loaded(ids).logits, expected)


def test_hf_gpt2_by_user_rule(transformers):
    """A rule naming GPT-2's Conv1D used to fail (it required an nn.Linear)."""
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

    model, _ = _gpt2(transformers)
    converted, report = thermonn.convert(model, rules={GPT2MLP: ("c_fc", "act")}, patterns=[])
    assert report.paths == HF["gpt2"][1] and {r.pattern for r in report.replacements} == {"rule"}
    x = torch.randn(2, 32)
    tel = converted.transformer.h[0].mlp.c_fc
    torch.testing.assert_close(
        nn.functional.linear(x, tel.weight, tel.bias), model.transformer.h[0].mlp.c_fc(x)
    )


def test_hf_sharded_checkpoint_round_trips(transformers, tmp_path):
    torch.manual_seed(0)
    model, auto = _bert(transformers)
    converted, report = thermonn.convert(model)
    thermonn.save_converted(converted.eval(), report, tmp_path, max_shard_size="40KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    loaded, _ = thermonn.load_converted(auto, tmp_path)
    ids = torch.randint(0, VOCAB, (2, SEQ))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, converted(ids).logits)


def test_hf_from_pretrained_alone_drops_the_tels(transformers, tmp_path):
    """Why load_converted exists: from_pretrained builds the plain architecture and drops the
    TEL's own parameters (step_logits, temperature.*) as unexpected keys."""
    torch.manual_seed(0)
    model, _ = _bert(transformers)
    converted, report = thermonn.convert(model)
    thermonn.save_converted(converted, report, tmp_path)
    plain = type(model).from_pretrained(tmp_path)
    assert not any(isinstance(m, thermonn.TEL) for m in plain.modules())


def test_hf_bfloat16_checkpoint_loads_in_bfloat16(transformers, tmp_path):
    torch.manual_seed(0)
    model, auto = _llama(transformers)
    converted, report = thermonn.convert(model.to(torch.bfloat16), steps=2)
    thermonn.save_converted(converted, report, tmp_path)
    loaded, _ = thermonn.load_converted(auto, tmp_path)
    assert loaded.model.layers[0].mlp.gate_proj.weight.dtype == torch.bfloat16
    ids = torch.randint(0, VOCAB, (2, SEQ))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, converted.eval()(ids).logits)


def _more_hf(tf):
    """Further families the patterns cover: (name, model, site count, the pattern(s) that may
    find them, space-separated)."""
    small = {"vocab_size": VOCAB, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
    t5 = {"d_model": 16, "d_kv": 8, "d_ff": 24, "num_layers": 1, "num_heads": 2, **small}
    return [
        ("opt", tf.OPTModel(tf.OPTConfig(hidden_size=16, ffn_dim=24, num_hidden_layers=2,
                                          num_attention_heads=2, word_embed_proj_dim=16, **small)),
         2, "fc1/activation_fn/fc2"),
        ("gptj", tf.GPTJModel(tf.GPTJConfig(n_embd=16, n_layer=2, n_head=2, rotary_dim=4, **small)),
         2, "fc_in/act/fc_out"),
        ("gpt_neox", tf.GPTNeoXModel(tf.GPTNeoXConfig(hidden_size=16, intermediate_size=24,
                                                      num_hidden_layers=2, num_attention_heads=2,
                                                      **small)), 2,
         "dense_h_to_4h/act/dense_4h_to_h"),
        ("t5", tf.T5Model(tf.T5Config(**t5)), 2, "wi/act/wo"),
        ("t5-gated", tf.T5Model(tf.T5Config(feed_forward_proj="gated-gelu", **t5)), 2,
         "wi_0/wi_1/act/wo"),
        ("vit", tf.ViTModel(tf.ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=24, image_size=8, patch_size=4)), 2,
         "fc1/activation_fn/fc2 dense/intermediate_act_fn"),  # ViTMLP, before 5.x ViTIntermediate
    ]  # fmt: skip


def test_more_hf_families_are_recognised(transformers):
    for name, model, count, pattern in _more_hf(transformers):
        converted, report = thermonn.convert(model)
        found = {r.pattern for r in report.replacements}
        assert len(report) == count and len(found) == 1 and found <= set(pattern.split()), name
        for r in report.replacements:
            x = torch.randn(3, r.in_features)
            tel = converted.get_submodule(r.path)
            z = nn.functional.linear(x, tel.weight, tel.bias)
            torch.testing.assert_close(z, model.get_submodule(r.path)(x), msg=name)


# --- timm ---


def _vit(timm):
    from timm.models.vision_transformer import VisionTransformer

    return functools.partial(VisionTransformer, img_size=16, patch_size=8, embed_dim=32, depth=2,
                             num_heads=2, num_classes=5)  # fmt: skip


def _convnext(timm):
    from timm.models.convnext import ConvNeXt

    return functools.partial(ConvNeXt, depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), num_classes=5)


def _mixer(timm):
    from timm.models.mlp_mixer import MlpMixer

    return functools.partial(MlpMixer, img_size=16, patch_size=8, num_blocks=2, embed_dim=32,
                             num_classes=5)  # fmt: skip


# family -> (factory, expected paths, sizes per path, input size)
TIMM = {
    "vit": (_vit, [f"blocks.{i}.mlp.fc1" for i in range(2)], [(32, 128)] * 2, 16),
    "convnext": (_convnext, [f"stages.{s}.blocks.0.mlp.fc1" for s in range(4)],
                 [(d, 4 * d) for d in (8, 16, 24, 32)], 32),
    "mixer": (_mixer, [f"blocks.{i}.mlp_{k}.fc1" for i in range(2) for k in ("tokens", "channels")],
              [(4, 16), (32, 128)] * 2, 16),
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(TIMM))
def test_timm_model_converts_trains_compiles_and_round_trips(timm, family, tmp_path):
    factory, paths, sizes, px = TIMM[family]
    factory = factory(timm)
    torch.manual_seed(0)
    model = factory()
    converted, report = thermonn.convert(model, steps=3)
    _check_sites(model, converted, report, paths, sizes, "fc1/act/fc2")
    g = torch.Generator().manual_seed(1)
    images, labels = torch.randn(8, 3, px, px, generator=g), torch.randint(0, 5, (8,), generator=g)
    _assert_trains(converted, lambda: nn.functional.cross_entropy(converted(images), labels))
    _assert_compiles(converted, images[:2])
    thermonn.save_converted(converted.eval(), report, tmp_path)
    loaded, again = thermonn.load_converted(factory, tmp_path)
    assert again == report
    with torch.no_grad():
        assert torch.equal(loaded(images), converted(images))


def test_timm_conv_mlp_convnext_is_a_near_miss(timm):
    """ConvNeXt with conv_mlp=True (atto/femto/pico/nano) holds 1x1 Conv2d, not Linear."""
    model = _convnext(timm)(conv_mlp=True)
    with pytest.raises(
        ValueError,
        match=r"Near misses: 'stages.0.blocks.0.mlp' and 3 more \(fc1/act/fc2\): fc1 is a Conv2d",
    ):
        thermonn.convert(model, strict=True)


def test_timm_gated_mlps(timm):
    from timm.layers import GluMlp, SwiGLU

    torch.manual_seed(0)
    swiglu = SwiGLU(8, 12)
    converted, report = thermonn.convert(swiglu)
    assert report.paths == ["fc1_g"] and report.replacements[0].pattern == "fc1_g/fc1_x/act/fc2"
    x = torch.randn(4, 8)
    torch.testing.assert_close(converted(x), converted.fc2(converted.fc1_g(x) * converted.fc1_x(x)))
    with pytest.warns(UserWarning, match="fc2 takes 6 features but fc1 gives 12"):
        assert len(thermonn.convert(GluMlp(8, 12))[1]) == 0
