"""TEL at its boundary: wrong types, empty and non-finite batches, function transforms."""

import math

import numpy as np
import pytest
import torch

import thermonn


def test_an_empty_training_batch_leaves_the_running_statistics_alone():
    layer = thermonn.TEL(4, 6, nonexpansive=True)
    before = layer.temperature.running_entropy.clone()
    out = layer(torch.randn(0, 4))
    assert out.shape == (0, 6) and layer.last_trace is None
    torch.testing.assert_close(layer.temperature.running_entropy, before, rtol=0, atol=0)
    assert layer(torch.randn(3, 4)).isfinite().all()


def test_a_nan_sample_never_enters_the_running_statistics():
    layer = thermonn.TEL(4, 6, nonexpansive=True)
    x = torch.randn(5, 4)
    x[1] = math.nan
    y = layer(x)
    assert y[1].isnan().all() and y[[0, 2, 3, 4]].isfinite().all()  # NaN rows stay NaN rows
    assert layer.temperature.running_entropy.isfinite().all()
    # the running mean moved by the finite samples only: oracle from a clean twin layer
    twin = thermonn.TEL(4, 6, nonexpansive=True)
    twin.load_state_dict({**layer.state_dict(), "temperature.running_entropy": torch.full(
        (layer.steps + 1,), 0.5 * math.log(2 * math.pi * math.e))})  # fmt: skip
    twin(x[[0, 2, 3, 4]])
    torch.testing.assert_close(layer.temperature.running_entropy, twin.temperature.running_entropy)
    x[:] = math.nan  # a batch with no finite sample changes nothing
    before = layer.temperature.running_entropy.clone()
    layer(x)
    torch.testing.assert_close(layer.temperature.running_entropy, before, rtol=0, atol=0)
    assert layer(torch.randn(2, 4)).isfinite().all()


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 4), dtype=np.float32), "expected a torch.Tensor, got ndarray"),
        ([[0.0] * 4], "expected a torch.Tensor, got list"),
        (torch.zeros(2, 4, dtype=torch.int64), "expected a floating-point tensor"),
        (
            torch.zeros(2, 4, dtype=torch.float64),
            r"expected dtype torch.float32 .*got torch.float64",
        ),
    ],
)
def test_wrong_inputs_are_type_errors_like_nn_linear(x, message):
    with pytest.raises(TypeError, match=message):
        thermonn.TEL(4, 6)(x)
    with pytest.raises(TypeError, match=message):
        thermonn.TELFeedForward(4, 6)(x)


def test_shape_errors_name_the_expected_shape():
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 4\), got \(2, 5\)"):
        thermonn.TEL(4, 6)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="feature dimension dim=5 .* got shape \\(2, 4, 3\\)"):
        thermonn.TELFeedForward(4, 6, dim=5)(torch.zeros(2, 4, 3))


@pytest.mark.parametrize("dtype", ["float32", np.float32, float, torch.int32])
def test_dtype_must_be_a_floating_torch_dtype(dtype):
    with pytest.raises(TypeError, match="dtype: expected a"):
        thermonn.TEL(4, 6, dtype=dtype)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"device": "toaster"}, ValueError, "device: expected a torch device"),
        ({"device": 1.5}, TypeError, "device: expected a torch.device or str"),
        ({"bias": "no"}, TypeError, "bias: expected a bool"),
        ({"nonexpansive": 1}, TypeError, "nonexpansive: expected a bool"),
        ({"entropy": thermonn.Gate(5)}, ValueError, r"Gate.alpha of shape \(5,\)"),
    ],
)
def test_bad_constructor_arguments_name_themselves(kwargs, error, message):
    with pytest.raises(error, match=message):
        thermonn.TEL(4, 6, **kwargs)


def test_a_per_feature_entropy_of_the_right_size_is_accepted():
    layer = thermonn.TEL(4, 6, entropy=thermonn.Gate(6))
    assert layer(torch.randn(3, 4)).shape == (3, 6)


def test_vmap_records_nothing_and_leaks_nothing():
    layer = thermonn.TEL(4, 6)
    x = torch.randn(3, 5, 4)
    out = torch.func.vmap(layer)(x)
    torch.testing.assert_close(out, layer(x))  # same numbers as the batched call
    with thermonn.collect_diagnostics(layer) as log:
        torch.func.vmap(layer)(x)
        layer(x[0])
    assert len(log[""]) == 1 and log.mean()[""].temperature.shape == (layer.steps + 1,)

    def loss(w):
        return torch.func.functional_call(layer, {"weight": w}, (x,)).sum()

    g = torch.func.grad(loss)(layer.weight.detach())
    expected = torch.autograd.grad(loss(layer.weight), layer.weight)[0]
    torch.testing.assert_close(g, expected)
    torch.func.grad(loss)(layer.weight.detach())
    assert layer.last_trace is None  # nothing of the transform leaked out


def test_gate_size_must_be_a_positive_int():
    with pytest.raises(ValueError, match="features: expected an int >= 1, got -3"):
        thermonn.Gate(-3)
    with pytest.raises(TypeError, match="features: expected an int, got float"):
        thermonn.Gate(2.0)


def test_the_temperature_box_is_checked_again_in_a_new_dtype():
    layer = thermonn.TEL(3, 4, t_min=1e-15, t_max=1e-15)  # fine in float32
    assert layer(torch.randn(2, 3)).isfinite().all()
    with pytest.raises(ValueError, match="t_min: expected a temperature >= 0.000122 .*float16"):
        layer.half()(torch.randn(2, 3, dtype=torch.float16))
