"""Fuzzing the public surface: any constructor argument and any input either works — finite
output for finite input — or raises a ValueError/TypeError that names the argument."""

import math
import os
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import thermonn

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
_NUMBERS = st.sampled_from(
    [-1.0, 0.0, 1e-15, 1e-6, 0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 10.0, 1e30, 3.4e38, math.inf, math.nan]
)
_SIZES = st.sampled_from([-1, 0, 1, 2, 3, 5, 2.0, True, "3"])


def _entropies():
    return st.one_of(
        st.sampled_from(["logcosh", "gate", "bernoulli", "spin", "shannon", "heat", 3]),
        st.builds(thermonn.Gate, st.sampled_from([None, 1, 3, 5])),
        st.just(thermonn.CustomEntropy(lambda y: -y / (1 + y.abs()), m_minus=1.0, m_plus=0.0)),
    )


TEL_KWARGS = st.fixed_dictionaries(
    {},
    optional={
        "steps": st.sampled_from([-1, 0, 1, 2, 4, 2.0, None]),
        "entropy": _entropies(),
        "t_min": _NUMBERS,
        "t_max": _NUMBERS,
        "beta": st.sampled_from([-1.0, 0.0, 0.3, 1.0, 2.0, math.nan]),
        "temperature": st.sampled_from(["adaptive", "fixed", "hot"]),
        "estimator": st.sampled_from(["gaussian", "mlp", "oracle"]),
        "nonexpansive": st.sampled_from([False, True, "yes"]),
        "bias": st.sampled_from([True, False, 0]),
        "diagnostics": st.sampled_from([True, False]),
        "dtype": st.sampled_from([*FLOATS, None, "float32", np.float32, float, torch.int32]),
    },
)


def _names_an_argument(err: Exception, names) -> bool:
    text = str(err)
    return any(n in text for n in names)


def _build(factory, in_features, out_features, kwargs):
    """The layer, or None after checking the refusal names an argument."""
    try:
        return factory(in_features, out_features, **kwargs)
    except (ValueError, TypeError) as err:
        names = [*kwargs, "in_features", "out_features", "d_model", "d_hidden", "Entropy"]
        assert _names_an_argument(err, names), f"{err!r} names no argument of {kwargs}"
        return None


def _check_forward(layer, in_features, batch, scale, nan_row, dtype):
    x = torch.randn(batch, in_features, dtype=torch.float64)
    # scale inputs so that W x stays finite in the dtype (|W| <= 1/sqrt(in) at init)
    x = (x * min(scale, torch.finfo(dtype).max / (10 * in_features))).to(dtype)
    if nan_row and batch:
        x[0] = math.nan
    out = layer(x)
    assert out.dtype == dtype and out.shape[:-1] == (batch,)
    finite_rows = slice(1, None) if nan_row else slice(None)
    assert out[finite_rows].isfinite().all(), f"non-finite output at scale {scale:g}"
    if nan_row and batch:
        assert out[0].isnan().all()
    return out


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 300)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    kwargs=TEL_KWARGS,
    in_features=_SIZES,
    out_features=_SIZES,
    batch=st.sampled_from([0, 1, 3]),
    scale=st.sampled_from([1.0, 1e4, 1e20, 1e300]),
    nan_row=st.booleans(),
    training=st.booleans(),
)
def test_fuzz_tel(kwargs, in_features, out_features, batch, scale, nan_row, training):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = _build(thermonn.TEL, in_features, out_features, kwargs)
        if layer is None:
            return
        layer.train(training)
        dtype = layer.weight.dtype
        out = _check_forward(layer, in_features, batch, scale, nan_row, dtype)
        if batch and not nan_row and scale <= 1e4:
            # a sum: upstream gradients of size 1, so the weight gradient (upstream x input, as
            # in nn.Linear) stays within the dtype
            out.float().sum().backward()
            for name, p in layer.named_parameters():
                assert p.grad is None or p.grad.isfinite().all(), name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kwargs=TEL_KWARGS,
    dim=st.sampled_from([-1, 1, 3, -4, 1.0]),
    shape=st.sampled_from([(2, 3), (2, 3, 4), (0, 3, 4), (2, 3, 2, 2)]),
)
def test_fuzz_tel_feed_forward(kwargs, dim, shape):
    kwargs = {k: v for k, v in kwargs.items() if k != "bias"}
    try:
        block = thermonn.TELFeedForward(3, 4, dim=dim, **kwargs)
    except (ValueError, TypeError) as err:
        assert _names_an_argument(err, [*kwargs, "dim", "Entropy"]), repr(err)
        return
    x = torch.randn(*shape, dtype=block.tel.weight.dtype)
    try:
        out = block(x)
    except (ValueError, TypeError) as err:
        assert "TELFeedForward input" in str(err) or "TEL input" in str(err), repr(err)
        return
    assert out.shape == x.shape and out.isfinite().all()


@settings(max_examples=40, deadline=None)
@given(
    phi=st.sampled_from(
        [
            lambda y: -torch.tanh(y),
            lambda y: -torch.sqrt(y),
            lambda y: torch.zeros_like(y),
            lambda y: -y.detach(),
            lambda y: y**3,
            lambda y: "phi",
        ]
    ),
    m_minus=_NUMBERS,
    m_plus=st.sampled_from([0.0, 0.1, -1.0, math.nan]),
    check_range=st.sampled_from([8.0, 0.0, 1.0, -1.0, math.nan, math.inf]),
)
def test_fuzz_custom_entropy(phi, m_minus, m_plus, check_range):
    try:
        entropy = thermonn.CustomEntropy(
            phi, m_minus=m_minus, m_plus=m_plus, check_range=check_range
        )
    except (ValueError, TypeError) as err:
        assert _names_an_argument(
            err, ["phi", "m_minus", "m_plus", "check_range", "CustomEntropy"]
        ), repr(err)
        return
    try:
        layer = thermonn.TEL(3, 4, entropy=entropy)
    except (ValueError, TypeError) as err:
        assert _names_an_argument(err, ["entropy", "t_max", "CustomEntropy"]), repr(err)
        return
    if check_range and check_range > 0:  # a checked phi behaves
        assert layer(torch.randn(5, 3)).isfinite().all()


@settings(max_examples=40, deadline=None)
@given(
    kwargs=TEL_KWARGS,
    model=st.sampled_from(
        [
            lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()),
            lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 2)),
            lambda: nn.Linear(4, 2),
            lambda: nn.TransformerEncoderLayer(4, 2, 8, batch_first=True),
        ]
    ),
    first_only=st.booleans(),
    bogus=st.sampled_from([{}, {"stepz": 3}, {"in_features": 2}]),
)
def test_fuzz_convert(kwargs, model, first_only, bogus):
    kwargs = {k: v for k, v in kwargs.items() if k not in ("bias", "dtype")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            converted, _ = thermonn.convert(model(), first_only=first_only, **kwargs, **bogus)
        except (ValueError, TypeError) as err:
            assert _names_an_argument(err, [*kwargs, *bogus, "Entropy", "TEL option", "Linear"]), (
                repr(err)
            )
            return
    assert not bogus
    x = torch.randn(3, 5, 4)
    assert converted(x).isfinite().all()
