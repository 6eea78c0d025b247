"""TEL as an nn.Module: shapes, bad input, dtypes/devices, extremes, compile, state_dict, diagnostics."""

import pytest
import torch
from torch import nn

import thermonn
from helpers import ALL_ENTROPIES
from thermonn.functional import free_energy


def test_shapes_and_repr():
    layer = thermonn.TEL(8, 16, steps=3)
    assert layer(torch.randn(2, 5, 8)).shape == (2, 5, 16)
    assert layer(torch.randn(8)).shape == (16,)
    r = repr(layer)
    assert "steps=3" in r and "LogCosh" in r and "T=[0.1, 1.0]" in r


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"steps": 0}, ValueError, "steps: expected an int >= 1, got 0"),
        ({"steps": 2.5}, TypeError, "steps: expected an int"),
        ({"t_min": 0.0}, ValueError, "t_min: expected a temperature > 0, got 0.0"),
        ({"t_min": -1.0}, ValueError, "t_min"),
        ({"t_min": 2.0, "t_max": 1.0}, ValueError, "t_max: expected t_max >= t_min = 2.0, got 1.0"),
        ({"beta": 0.0}, ValueError, r"beta: expected a rate in \(0, 1\], got 0.0"),
        ({"beta": 1.5}, ValueError, "beta"),
        ({"t_max": float("nan")}, ValueError, "t_max: expected a finite float"),
        ({"entropy": "nope"}, ValueError, "entropy: expected one of"),
        ({"temperature": "cold"}, ValueError, "temperature: expected one of"),
        ({"estimator": "knn"}, ValueError, "estimator: expected one of"),
        ({"estimator": "mlp", "temperature": "fixed"}, ValueError, "would receive no gradient"),
        ({"estimator": "mlp", "nonexpansive": True}, ValueError, "running statistics"),
        ({"dtype": torch.int32}, TypeError, "dtype: expected a floating-point dtype"),
        ({"entropy": "gate", "nonexpansive": True}, ValueError, "needs a concave entropy"),
        ({"entropy": "spin", "nonexpansive": True}, ValueError, "concave primal entropy"),
        ({"entropy": "gate", "t_max": 20.0}, ValueError, "expected t_max \\* m_plus < 1"),
    ],
)
def test_bad_construction(kwargs, err, match):
    with pytest.raises(err, match=match):
        thermonn.TEL(4, 4, **kwargs)


def test_custom_entropy_with_nonpositive_mu_is_rejected():
    ent = thermonn.CustomEntropy(lambda y: 0.5 * y, lambda y: 0.25 * y**2, m_minus=0.0, m_plus=0.5)
    with pytest.raises(ValueError, match="strongly convex"):
        thermonn.TEL(4, 4, entropy=ent, t_max=2.0)
    thermonn.TEL(4, 4, entropy=ent, t_max=1.5)  # mu = 0.25 > 0 is fine


def test_bad_forward_input():
    layer = thermonn.TEL(4, 3)
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 4\), got \(2, 5\)"):
        layer(torch.randn(2, 5))
    with pytest.raises(TypeError, match="expected a floating-point tensor, got dtype torch.int64"):
        layer(torch.ones(2, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="in_features: expected an int"):
        thermonn.TEL("4", 3)


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_very_large_inputs_stay_finite(name, scale):
    layer = thermonn.TEL(6, 6, entropy=name)
    x = scale * torch.randn(8, 6)
    y = layer(x)
    y.sum().backward()
    assert torch.isfinite(y).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize("theta", [-60.0, 60.0])
def test_temperature_at_both_ends_of_the_box(name, theta):
    layer = thermonn.TEL(6, 6, entropy=name, temperature="fixed", t_min=1e-3, t_max=1.0)
    with torch.no_grad():
        layer.temperature.theta.fill_(theta)
    y = layer(3 * torch.randn(16, 6))
    y.sum().backward()
    t = layer.last_trace.temperature
    assert torch.allclose(t, torch.full_like(t, 1e-3 if theta < 0 else 1.0), rtol=1e-5)
    assert torch.isfinite(y).all()
    assert torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("name", ALL_ENTROPIES)
def test_adaptive_temperature_stays_in_box(name):
    layer = thermonn.TEL(6, 6, entropy=name, t_min=0.2, t_max=0.9)
    with torch.no_grad():
        layer.temperature.slope.fill_(50.0)
    for scale in (1e-6, 1.0, 1e6):
        layer(scale * torch.randn(10, 6))
        t = layer.last_trace.temperature
        assert (t >= 0.2 - 1e-6).all() and (t <= 0.9 + 1e-6).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ALL_ENTROPIES)
def test_half_precision_forward(dtype, name):
    ref = thermonn.TEL(8, 8, entropy=name)
    half = thermonn.TEL(8, 8, entropy=name).to(dtype)
    half.load_state_dict(
        {k: v.to(dtype) if v.is_floating_point() else v for k, v in ref.state_dict().items()}
    )
    x = torch.randn(32, 8)
    y = half(x.to(dtype))
    assert y.dtype == dtype and torch.isfinite(y).all()
    tol = 0.05 if dtype == torch.float16 else 0.15
    torch.testing.assert_close(y.float(), ref(x), rtol=tol, atol=tol)
    big = half(
        torch.full((4, 8), 200.0, dtype=dtype)
    )  # Var(y) overflows float16: estimator is float32
    assert torch.isfinite(big).all()


def test_autocast_keeps_output_dtype():
    layer = thermonn.TEL(8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(torch.randn(4, 8))
    assert y.dtype == torch.bfloat16


def test_dtype_and_device_follow():
    layer = thermonn.TEL(5, 7, entropy="gate", estimator="mlp", dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in layer.parameters())
    assert layer(torch.randn(3, 5, dtype=torch.float64)).dtype == torch.float64
    meta = thermonn.TEL(5, 7, device="meta")
    out = meta(torch.empty(3, 5, device="meta"))
    assert out.device.type == "meta" and out.shape == (3, 7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    layer = thermonn.TEL(16, 32, entropy="gate")
    x = torch.randn(8, 16)
    y = layer.cuda()(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), layer.cpu()(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ALL_ENTROPIES)
def test_state_dict_round_trip(name, tmp_path):
    options = {"nonexpansive": True} if name == "logcosh" else {"estimator": "mlp"}
    a = thermonn.TEL(6, 9, entropy=name, **options)
    with torch.no_grad():
        for p in a.parameters():
            p.add_(0.1 * torch.randn_like(p))
    a.train()
    a(torch.randn(5, 6))  # moves running statistics in nonexpansive mode
    torch.save(a.state_dict(), tmp_path / "tel.pt")
    b = thermonn.TEL(6, 9, entropy=name, **options)
    b.load_state_dict(torch.load(tmp_path / "tel.pt"))
    a.eval(), b.eval()
    x = torch.randn(4, 6)
    torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_torch_compile_matches_eager():
    torch.manual_seed(3)
    eager = thermonn.TEL(8, 12, entropy="gate", steps=3)
    compiled = thermonn.TEL(8, 12, entropy="gate", steps=3)
    compiled.load_state_dict(eager.state_dict())
    fn = torch.compile(compiled, fullgraph=True)  # no graph breaks
    x = torch.randn(6, 8)
    y_e, y_c = eager(x), fn(x)
    torch.testing.assert_close(y_c, y_e, rtol=1e-5, atol=1e-6)
    # diagnostics stay out of the compiled graph; the same module still records in eager
    assert compiled.last_trace is None and eager.last_trace is not None
    compiled(x)
    torch.testing.assert_close(
        compiled.last_trace.free_energy, eager.last_trace.free_energy, rtol=0, atol=0
    )
    (y_e**2).sum().backward()
    (y_c**2).sum().backward()
    for (n, pe), pc in zip(eager.named_parameters(), compiled.parameters(), strict=True):
        torch.testing.assert_close(pc.grad, pe.grad, rtol=1e-4, atol=1e-6, msg=n)


def test_diagnostics_trace_matches_direct_computation():
    layer = thermonn.TEL(6, 10, steps=5, entropy="gate")
    x = torch.randn(7, 6)
    y = layer(x)
    tr = layer.last_trace
    assert all(f.shape == (6,) for f in tr)
    assert not tr.temperature.requires_grad
    z = layer.weight @ x.T
    z = z.T + layer.bias
    with torch.no_grad():
        t0, _ = layer.temperature.initial(z, layer.temperature.memo())
        f0 = free_energy(layer.entropy, z, z, t0).mean()
        assert torch.allclose(tr.temperature[0], t0.mean(), atol=1e-6)
        assert torch.allclose(tr.free_energy[0], f0, atol=1e-5)
        # last entry: F at y_K with T_K, and the entropy estimate of y_K
        s_k = layer.temperature.estimate(y).mean()
        assert torch.allclose(tr.entropy[-1], s_k, atol=1e-5)
    layer.diagnostics = False
    layer(x)
    assert layer.last_trace is None


def test_collect_diagnostics_gathers_every_layer_and_restores_flags():
    model = nn.Sequential(
        thermonn.TEL(4, 8, steps=2), nn.Linear(8, 8), thermonn.TEL(8, 3, steps=3, diagnostics=False)
    )
    with thermonn.collect_diagnostics(model) as log:
        model(torch.randn(5, 4))
        model(torch.randn(5, 4))
    assert set(log) == {"0", "2"}
    assert len(log["0"]) == 2 and log["2"][0].temperature.shape == (4,)
    stacked = log.stacked()
    assert stacked["0"].free_energy.shape == (2, 3)
    assert torch.allclose(log.mean()["2"].grad_norm, stacked["2"].grad_norm.mean(0))
    assert model[2].diagnostics is False and model[0].diagnostics is True
    model(torch.randn(5, 4))
    assert len(log["0"]) == 2  # hooks removed


def test_nonexpansive_running_statistics_track_batches():
    layer = thermonn.TEL(6, 6, steps=2, nonexpansive=True).train()
    before = layer.temperature.running_entropy.clone()
    x = 10 * torch.randn(64, 6)
    layer(x)
    after = layer.temperature.running_entropy
    assert (after > before).all()  # wide inputs raise the entropy estimate
    layer.eval()
    layer(x)
    torch.testing.assert_close(layer.temperature.running_entropy, after)


def test_tel_feedforward():
    ffn = thermonn.TELFeedForward(16, 64, steps=3, entropy="gate", dropout=0.1)
    assert ffn(torch.randn(2, 5, 16)).shape == (2, 5, 16)
    assert ffn.tel.steps == 3
    with pytest.raises(TypeError):
        thermonn.TELFeedForward(16, 64, stepz=3)


def test_tel_feedforward_on_cnn_feature_maps_is_pointwise():
    """dim=1: the same map as the channels-last FFN applied at every pixel."""
    conv = thermonn.TELFeedForward(6, 12, dim=1, steps=2)
    last = thermonn.TELFeedForward(6, 12, steps=2)
    last.load_state_dict(conv.state_dict())
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(conv(x), last(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def test_torch_export_and_pickle(tmp_path):
    layer = thermonn.TEL(8, 16, entropy="gate", diagnostics=False).eval()
    x = torch.randn(4, 8)
    exported = torch.export.export(layer, (x,))
    torch.testing.assert_close(exported.module()(x), layer(x))
    torch.save(layer, tmp_path / "tel.pt")
    torch.testing.assert_close(torch.load(tmp_path / "tel.pt", weights_only=False)(x), layer(x))
