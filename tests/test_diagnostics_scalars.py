"""TEL diagnostics as flat ``{tag: float}`` dicts for loggers: every value against the trace."""

import math

import pytest
import torch
from torch import nn

import thermonn
from thermonn import TELTrace, trace_scalars

SUMMARIES = ("free_energy/drop", "grad_norm/ratio", "temperature/final")


def _trace(steps: int = 3, **kwargs) -> TELTrace:
    layer = thermonn.TEL(4, 6, steps=steps, **kwargs)
    layer(torch.randn(5, 4))
    return layer.last_trace


def _expected(trace: TELTrace, prefix: str) -> dict[str, float]:
    """Oracle: the trace's own entries, and the summaries computed from them in Python."""
    last = trace.temperature.shape[0] - 1
    width = len(str(last))
    out = {
        f"{prefix}{field}/k={k:0{width}d}": getattr(trace, field)[k].item()
        for field in TELTrace._fields
        for k in range(last + 1)
    }
    g = trace.grad_norm.tolist()
    out[f"{prefix}temperature/final"] = trace.temperature[-1].item()
    out[f"{prefix}free_energy/drop"] = -trace.free_energy_change[-1].item()  # float64-accumulated
    out[f"{prefix}grad_norm/ratio"] = g[-1] / g[0]
    return out


def test_trace_scalars_are_the_trace_values():
    trace = _trace(steps=3)
    got = trace_scalars(trace, "tel/fc/")
    assert got == _expected(trace, "tel/fc/")  # exact: float32 values carried over unrounded
    assert list(got) == sorted(got)
    assert all(type(v) is float for v in got.values())
    assert "tel/fc/temperature/k=3" in got and "tel/fc/grad_norm/k=0" in got
    assert got["tel/fc/free_energy/drop"] > 0  # the descent lowers the free energy
    assert 0 < got["tel/fc/grad_norm/ratio"] < 1  # ... and contracts its gradient


def test_steps_are_zero_padded_so_sorted_order_is_step_order():
    trace = _trace(steps=12)
    got = trace_scalars(trace)
    keys = [k for k in got if k.startswith("temperature/k=")]
    assert keys == [f"temperature/k={k:02d}" for k in range(13)]
    assert [got[k] for k in keys] == trace.temperature.tolist()


@pytest.mark.parametrize(
    ("steps", "ks"), [("all", [0, 1, 2]), ("ends", [0, 2]), ("last", [2]), ("none", [])]
)
@pytest.mark.parametrize("summaries", [True, False])
def test_steps_and_summaries_select_the_keys(steps, ks, summaries):
    trace = _trace(steps=2)
    got = trace_scalars(trace, "p/", steps=steps, summaries=summaries)
    expected = {f"p/{field}/k={k}" for field in TELTrace._fields for k in ks}
    if summaries:
        expected |= {f"p/{s}" for s in SUMMARIES}
    assert set(got) == expected
    full = _expected(trace, "p/")
    assert all(got[k] == full[k] for k in got)


def test_trace_scalars_of_no_trace_is_empty_and_bad_arguments_are_refused():
    assert trace_scalars(None, "tel/") == {}
    layer = thermonn.TEL(4, 6, diagnostics=False)
    layer(torch.randn(2, 4))
    assert trace_scalars(layer.last_trace) == {}
    trace = _trace()
    with pytest.raises(
        ValueError, match=r"steps: expected one of \('all', 'ends', 'last', 'none'\)"
    ):
        trace_scalars(trace, steps="first")
    with pytest.raises(TypeError, match="trace: expected a TELTrace or None, got tuple"):
        trace_scalars(tuple(trace))
    with pytest.raises(TypeError, match="prefix: expected a str, got int"):
        trace_scalars(trace, 3)
    with pytest.raises(TypeError, match="summaries: expected a bool"):
        trace_scalars(trace, summaries=1)
    stacked = TELTrace(*(torch.stack([f, f]) for f in trace))
    with pytest.raises(ValueError, match=r"all of shape \(K\+1,\), got temperature \(2, 4\)"):
        trace_scalars(stacked)


def test_non_finite_values_pass_through():
    layer = thermonn.TEL(4, 6, steps=2)
    x = torch.randn(3, 4)
    x[1, 0] = float("nan")
    layer(x)
    got = trace_scalars(layer.last_trace)
    assert got and all(type(v) is float for v in got.values())
    assert math.isnan(got["free_energy/k=0"]) and math.isnan(got["free_energy/drop"])
    trace = _trace(steps=2)
    zero_start = trace_scalars(trace._replace(grad_norm=torch.tensor([0.0, 0.5, 1.0])))
    assert zero_start["grad_norm/ratio"] == math.inf
    converged = trace_scalars(trace._replace(grad_norm=torch.zeros(3)))
    assert math.isnan(converged["grad_norm/ratio"])
    assert converged["grad_norm/k=0"] == 0.0


def _two_layer_log():
    model = nn.Sequential(
        thermonn.TEL(4, 8, steps=2), nn.Linear(8, 8), thermonn.TEL(8, 3, steps=10), nn.Tanh()
    )
    with thermonn.collect_diagnostics(model) as log:
        for _ in range(3):
            model(torch.randn(5, 4))
    return log


def test_log_scalars_mean_over_calls_per_layer():
    log = _two_layer_log()
    got = log.scalars()
    assert list(got) == sorted(got)
    assert all(type(v) is float for v in got.values())
    expected = {}
    for name in ("0", "2"):
        calls = log[name]
        # oracle: every entry averaged over the calls in Python, then the same formulas
        per_field = zip(*calls, strict=True)  # field -> its tensor in every call
        mean = TELTrace(
            *(
                torch.tensor([sum(v) / len(v) for v in zip(*(f.tolist() for f in fs), strict=True)])
                for fs in per_field
            )
        )
        expected.update(_expected(mean, f"tel/{name}/"))
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-7), key
    # layers with different K keep their own step keys
    assert "tel/0/temperature/k=2" in got and "tel/2/temperature/k=10" in got
    assert "tel/2/temperature/k=02" in got and "tel/0/temperature/k=3" not in got


def test_log_scalars_last_call_and_options():
    log = _two_layer_log()
    got = log.scalars(prefix="train/", reduce="last", steps="ends")
    expected = {}
    for name in ("0", "2"):
        expected.update(trace_scalars(log[name][-1], f"train/{name}/", steps="ends"))
    assert got == expected
    assert got["train/2/temperature/final"] == log["2"][-1].temperature[-1].item()
    assert set(log.scalars(steps="none", summaries=False)) == set()
    with pytest.raises(ValueError, match=r"reduce: expected one of \('mean', 'last'\), got 'max'"):
        log.scalars(reduce="max")


def test_log_scalars_skips_layers_without_calls():
    model = nn.ModuleDict({"a": thermonn.TEL(4, 4, steps=2), "b": thermonn.TEL(4, 4, steps=2)})
    with thermonn.collect_diagnostics(model) as log:
        pass
    assert log.scalars() == {}
    with thermonn.collect_diagnostics(model) as log:
        model["b"](torch.randn(2, 4))
    got = log.scalars()
    assert got and all(k.startswith("tel/b/") for k in got)


def test_a_model_that_is_a_tel_logs_under_the_prefix_alone():
    layer = thermonn.TEL(4, 6, steps=2)
    with thermonn.collect_diagnostics(layer) as log:
        layer(torch.randn(3, 4))
    assert log.scalars() == trace_scalars(layer.last_trace, "tel/")
    assert "tel/temperature/k=0" in log.scalars()


def test_scalars_round_trip_through_a_tensorboard_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    scalars = _two_layer_log().scalars()
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        for tag, value in scalars.items():
            writer.add_scalar(tag, value, global_step=7)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert set(events.Tags()["scalars"]) == set(scalars)
    for tag in ("tel/2/temperature/k=10", "tel/0/grad_norm/ratio"):
        (event,) = events.Scalars(tag)
        assert event.step == 7
        assert event.value == pytest.approx(scalars[tag], rel=1e-6)  # stored as float32
