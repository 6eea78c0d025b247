"""The numeric range TEL promises: finite outputs and gradients for every finite input of every
float dtype and every supported temperature box; non-finite rows confined to their row; clear
errors for temperatures a dtype cannot hold and for custom entropies that cannot be checked."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import thermonn
from helpers import ALL_ENTROPIES
from thermonn.functional import tel_descent
from thermonn.functional import temperature as ftemp

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
# (temperature, estimator, nonexpansive); nonexpansive only where TEL accepts it (logcosh).
CONFIGS = [
    ("adaptive", "gaussian", False),
    ("adaptive", "mlp", False),
    ("fixed", "gaussian", False),
    ("adaptive", "gaussian", True),
    ("fixed", "gaussian", True),
]


def _tel(d, entropy, dtype, t_min, t_max, config=CONFIGS[0], **kw):
    """A TEL with identity projection (so z = x), its box checked against ``dtype`` first."""
    temperature, estimator, nonexpansive = config
    ftemp.check_temperature_box(t_min, t_max, dtype)
    layer = thermonn.TEL(
        d, d, entropy=entropy, t_min=t_min, t_max=t_max, temperature=temperature,
        estimator=estimator, nonexpansive=nonexpansive, dtype=dtype, **kw,
    )  # fmt: skip
    with torch.no_grad():
        layer.weight.copy_(torch.eye(d, dtype=dtype))
        layer.bias.zero_()
    return layer


def _grads(layer, x, v=None):
    """Output and the gradients (vector-Jacobian product with ``v``, default ones) with respect to
    the input and every parameter of ``layer``."""
    x = x.detach().requires_grad_(True)
    y = layer(x)
    params = [p for p in layer.parameters() if p.requires_grad]
    gs = torch.autograd.grad(
        y, [x, *params], grad_outputs=torch.ones_like(y) if v is None else v, allow_unused=True
    )
    names = ["x"] + [n for n, p in layer.named_parameters() if p.requires_grad]
    return y, dict(zip(names, gs, strict=True))


def _non_finite(grads, skip=("weight",)):
    return sorted(
        n for n, g in grads.items() if g is not None and n not in skip and not g.isfinite().all()
    )


# ---- the supported temperature range ----------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_temperature_bounds_per_dtype(dtype):
    """lo = 8/max; hi = min(2^(e/4) with max < 2^e, half the spacing of the top binade)."""
    fi = torch.finfo(dtype)
    top = torch.tensor(fi.max, dtype=dtype)
    spacing = (top - torch.nextafter(top, torch.tensor(0.0, dtype=dtype))).item()
    lo, hi = ftemp.temperature_bounds(dtype)
    assert lo == 8.0 / fi.max and fi.tiny <= lo
    assert hi == min(2.0 ** (math.frexp(fi.max)[1] / 4), spacing / 2.0) and hi >= fi.max**0.25
    expected = {
        torch.float16: (1.2213e-4, 16.0),
        torch.bfloat16: (2.3602e-38, 4.2950e9),
        torch.float32: (2.3510e-38, 4.2950e9),
        torch.float64: (4.4501e-308, 1.1579e77),
    }[dtype]
    assert lo == pytest.approx(expected[0], rel=1e-4) and hi == pytest.approx(expected[1], rel=1e-4)


@pytest.mark.parametrize(
    ("t_min", "t_max", "dtype", "match"),
    [
        (0.1, 3.4e38, torch.float32, r"t_max: expected a temperature <= 4.29e\+09 \(the largest float32 supports\), got 3.4e\+38"),
        (0.1, 1e10, torch.float32, "t_max: expected a temperature <= 4.29e"),
        (1e-39, 1.0, torch.float32, r"t_min: expected a temperature >= 2.35e-38 \(the smallest float32 supports\), got 1e-39"),
        (1e-15, 1.0, torch.float16, "t_min: expected a temperature >= 0.000122 .*float16.*got 1e-15"),
        (0.1, 20.0, torch.float16, "t_max: expected a temperature <= 16 .*float16.*got 20.0"),
        (0.1, 1e300, torch.float64, "t_max: expected a temperature <= 1.16e"),
        (0.1, math.nan, torch.float32, "t_max: expected a finite float, got nan"),
        (math.inf, math.inf, torch.float32, "t_min: expected a finite float, got inf"),
    ],
)  # fmt: skip
def test_check_temperature_box_rejects_what_the_dtype_cannot_hold(t_min, t_max, dtype, match):
    with pytest.raises(ValueError, match=match):
        ftemp.check_temperature_box(t_min, t_max, dtype)


@pytest.mark.parametrize(
    ("t_min", "t_max", "dtype"),
    [(1e-15, 1e-15, torch.float32), (0.1, 1.0, torch.float16), (1e-3, 16.0, torch.float16),
     (1e-300, 1e70, torch.float64), (1e-30, 1e9, torch.bfloat16)],
)  # fmt: skip
def test_check_temperature_box_accepts_supported_boxes(t_min, t_max, dtype):
    ftemp.check_temperature_box(t_min, t_max, dtype)


def test_check_temperature_box_type_errors():
    with pytest.raises(TypeError, match="dtype: expected a floating-point torch.dtype"):
        ftemp.check_temperature_box(0.1, 1.0, torch.int32)
    with pytest.raises(TypeError, match="t_min: expected a float, got str"):
        ftemp.check_temperature_box("0.1", 1.0, torch.float32)


def test_tel_rejects_a_box_its_dtype_cannot_hold():
    """Needs ``check_temperature_box`` wired into ``TEL.__init__``."""
    with pytest.raises(ValueError, match="t_max: expected a temperature <= 4.29e"):
        thermonn.TEL(4, 4, t_max=3.4e38)
    with pytest.raises(ValueError, match="t_max: expected a temperature <= 16 .*float16"):
        thermonn.TEL(4, 4, t_max=20.0, dtype=torch.float16)
    with pytest.raises(ValueError, match="t_min: expected a temperature >= 0.000122"):
        thermonn.TEL(4, 4, t_min=1e-15, t_max=1.0, dtype=torch.float16)
    thermonn.TEL(4, 4, t_min=1e-15, t_max=1e-15)  # float32 holds it


# ---- the property: finite everywhere -----------------------------------------------------------


@st.composite
def _cases(draw):
    dtype = draw(st.sampled_from(FLOATS))
    name = draw(st.sampled_from(ALL_ENTROPIES))
    configs = CONFIGS if name == "logcosh" else [c for c in CONFIGS if not c[2]]
    if dtype == torch.float16:  # the float16 MLP needs the saturating feature cast wired in nn
        configs = [c for c in configs if c[1] != "mlp"]
    config = draw(st.sampled_from(configs))
    lo, hi = ftemp.temperature_bounds(dtype)
    if name == "gate":  # strongly convex only for t_max * 0.0803 a_max^2 < 1 (a_max = 2)
        hi = min(hi, 3.0)
    a, b = sorted(draw(st.floats(0.0, 1.0)) for _ in range(2))
    if draw(st.booleans()):
        b = a
    # log-uniform in [lo, hi], ends included exactly
    t_min, t_max = (min(max(lo * (hi / lo) ** f, lo), hi) for f in (a, b))
    top = math.log10(torch.finfo(dtype).max) - 1e-6  # 10**top itself may round past max
    rows = []
    for _ in range(3):
        mag = 10.0 ** draw(st.floats(-3.0, top))
        if draw(st.booleans()):  # constant rows: zero variance, the adaptive T's low end
            row = [mag * draw(st.sampled_from([1.0, -1.0]))] * 4
        else:
            row = [mag * draw(st.floats(-1.0, 1.0)) for _ in range(4)]
        if draw(st.integers(0, 4)) == 0:
            row[0] = draw(st.sampled_from([1.0, -1.0])) * torch.finfo(dtype).max
        rows.append(row)
    return dict(
        dtype=dtype, name=name, config=config, t_min=t_min, t_max=t_max, rows=rows,
        steps=draw(st.sampled_from([1, 4, 8])), beta=draw(st.sampled_from([0.3, 1.0])),
        logits=draw(st.floats(-8.0, 8.0)), theta=draw(st.floats(-20.0, 20.0)),
        training=draw(st.booleans()), seed=draw(st.integers(0, 2**16)),
    )  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases())
def test_finite_outputs_and_gradients_over_the_whole_range(case):
    """dtype x entropy x temperature mode/estimator x box within temperature_bounds x |z| up to
    finfo.max, both signs: the output and the gradients with respect to the input and every
    parameter (except the projection's weight, whose gradient is upstream x input as in
    nn.Linear) are finite, for upstream gradients in [-1, 1]."""
    dtype = case["dtype"]
    layer = _tel(
        4, case["name"], dtype, case["t_min"], case["t_max"], case["config"],
        steps=case["steps"], beta=case["beta"],
    )  # fmt: skip
    layer.train(case["training"])
    with torch.no_grad():
        layer.step_logits.fill_(case["logits"])
        for n, p in layer.temperature.named_parameters():
            if n in ("slope", "offset", "theta"):
                p.fill_(case["theta"])
    fmax = torch.finfo(dtype).max
    x = torch.tensor(case["rows"], dtype=torch.float64).clamp(-fmax, fmax).to(dtype)
    g = torch.Generator().manual_seed(case["seed"])
    v = (2 * torch.rand(x.shape, generator=g, dtype=torch.float64) - 1).to(dtype)
    y, grads = _grads(layer, x, v)
    assert y.dtype == dtype and y.isfinite().all(), y
    assert _non_finite(grads) == []


def test_float16_mlp_estimator_stays_finite():
    """Needs TemperatureRule.estimate to pass ``dtype=`` to moment_features (saturating cast):
    a variance above 65504 reaches the float16 MLP as inf today."""
    layer = _tel(4, "logcosh", torch.float16, 0.1, 1.0, ("adaptive", "mlp", False))
    x = torch.tensor([[1000.0, -1000.0, 500.0, -20.0], [0.5, -0.25, 0.1, 0.0]], dtype=torch.float16)
    y, grads = _grads(layer, x)
    assert y.isfinite().all() and _non_finite(grads) == []


# ---- the cases quoted in the issue, deterministic ----------------------------------------------


@pytest.mark.parametrize("value", [-1e37, -1e38])
def test_shannon_huge_negative_input_float32(value):
    """Constant rows (zero variance) put the adaptive T at its low end: u* = z/T overflowed.
    Oracle: y* = T W(e^{z/T}/T) underflows to exactly 0, and so does its gradient."""
    layer = _tel(4, "shannon", torch.float32, 0.1, 1.0)
    y, grads = _grads(layer, torch.full((2, 4), value))
    assert torch.equal(y, torch.zeros_like(y))
    assert _non_finite(grads, skip=()) == []
    assert torch.equal(grads["x"], torch.zeros_like(grads["x"]))


def test_shannon_tiny_temperature():
    """t_min = t_max = 1e-15 at z = -1e10: d(step)/dT ~ z/T^2 = 1e40 overflowed into 0 * inf."""
    layer = _tel(4, "shannon", torch.float32, 1e-15, 1e-15, ("fixed", "gaussian", False))
    x = torch.tensor([[-1e10, -1e10, -1e10, -1e10], [-1e10, 1.0, 2.0, -0.5]])
    y, grads = _grads(layer, x)
    assert torch.equal(y[0], torch.zeros(4)) and y[1, 0] == 0.0 and y[1, 3] == 0.0
    # K = 4 damped Newton steps towards ReLU (y* = z up to T log z)
    torch.testing.assert_close(y[1, 1:3], torch.tensor([1.0, 2.0]), rtol=1e-2, atol=0.0)
    assert _non_finite(grads, skip=()) == []


@pytest.mark.parametrize(("name", "low", "high"), [("bernoulli", 0.0, 1.0), ("spin", -1.0, 1.0)])
@pytest.mark.parametrize("value", [1e38, torch.finfo(torch.float32).max])
def test_bernoulli_and_spin_extreme_inputs(name, low, high, value):
    """+-1e38 and +-max: the dual iterate u ~ z/T overflowed.  Oracle: the saturated ends."""
    layer = _tel(4, name, torch.float32, 0.1, 0.1, ("fixed", "gaussian", False))
    x = torch.tensor([[value] * 4, [-value] * 4, [value, -value, 0.0, 1.0]])
    y, grads = _grads(layer, x)
    assert torch.equal(y[0], torch.full((4,), high)) and torch.equal(y[1], torch.full((4,), low))
    assert y[2, 0] == high and y[2, 1] == low and y.isfinite().all()
    assert _non_finite(grads, skip=()) == []


def test_float16_shannon_at_minus_1e3():
    layer = _tel(4, "shannon", torch.float16, 0.1, 1.0)
    y, grads = _grads(layer, torch.full((3, 4), -1e3, dtype=torch.float16))
    assert y.dtype == torch.float16 and torch.equal(y, torch.zeros_like(y))
    assert _non_finite(grads, skip=()) == []


def test_shannon_top_of_the_range():
    """z = finfo.max: u_0 = log1p(softplus(z)) rounded to log(max), whose exp is inf."""
    fmax = torch.finfo(torch.float32).max
    layer = _tel(4, "shannon", torch.float32, 0.1, 1.0)
    y, grads = _grads(layer, torch.tensor([[fmax, fmax, -fmax, 1.0]]))
    assert y.isfinite().all() and 0.9 * fmax < y[0, 0] <= fmax and y[0, 2] == 0.0
    assert _non_finite(grads) == []


@pytest.mark.parametrize(("dtype", "value"), [(torch.float16, 65504.0), (torch.float32, 3e38)])
def test_gate_near_the_dtype_max(dtype, value):
    """phi = -a u s (1 - s): the backward's a u * grad overflowed next to s (1 - s) = 0."""
    layer = _tel(4, "gate", dtype, 0.1, 1.0)
    x = torch.tensor([[-value, 2.5, 2.5, 2.5], [value, -1.0, 0.0, 1.0]], dtype=dtype)
    y, grads = _grads(layer, x, v=torch.full(x.shape, -2.75, dtype=dtype))
    assert y.isfinite().all() and _non_finite(grads) == []


def test_mlp_estimator_at_1e20_and_one_adam_step():
    """The variance feature overflowed (1e40) and 0 * inf reached the MLP's weight gradient; one
    Adam step then turned every output into NaN."""
    torch.manual_seed(0)
    layer = thermonn.TEL(4, 4, estimator="mlp")
    x = 1e20 * torch.randn(8, 4)
    layer(x).sum().backward()
    grads = {n: p.grad for n, p in layer.named_parameters()}
    assert _non_finite(grads, skip=()) == []
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    opt.step()
    assert all(p.isfinite().all() for p in layer.parameters())
    assert layer(x).isfinite().all() and layer(torch.randn(8, 4)).isfinite().all()


def test_gaussian_entropy_is_exact_beyond_the_overflow_of_the_variance():
    """Oracle: S(c y) = S(y) + log c (eps negligible).  Var(1e25 y) overflows float32; the
    estimate used to jump to the cap (50) and its gradient to read NaN at |y| = max."""
    base = torch.tensor([[1.0, -2.0, 0.5, 3.0]], dtype=torch.float64)
    for c in (1e16, 1e20, 1e22, 1e25):
        got = ftemp.gaussian_entropy((c * base).float())
        expected = (ftemp.gaussian_entropy(base, eps=0.0) + math.log(c)).clamp(
            max=ftemp.ENTROPY_CAP
        )
        torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=0.0)
    fmax = torch.finfo(torch.float32).max
    y = torch.tensor([[fmax, -fmax, 0.5 * fmax, 1.0], [5.0, 5.0, 5.0, 5.0]], requires_grad=True)
    s = ftemp.gaussian_entropy(y)
    (g,) = torch.autograd.grad(s.sum(), y)
    assert s[0, 0] == ftemp.ENTROPY_CAP and g.isfinite().all() and torch.equal(g[0], torch.zeros(4))
    torch.testing.assert_close(s[1], ftemp.gaussian_entropy(torch.zeros(1, 4))[0])


def test_moment_features_saturating_cast():
    y = torch.tensor([[1e3, -1e3, 5e2, -20.0], [1e30, -1e30, 0.0, 1.0]], requires_grad=True)
    f16 = ftemp.moment_features(y, dtype=torch.float16)
    assert f16.dtype == torch.float16 and f16.isfinite().all()
    assert f16[0, 1] == 65504.0 and f16[1, 1] == 65504.0  # variances 6.3e5 and 5e59, saturated
    (g,) = torch.autograd.grad(f16.float().sum(), y)
    assert g.isfinite().all()
    f32 = ftemp.moment_features(y)
    assert f32.dtype == torch.float32 and f32.isfinite().all()


# ---- non-finite input, empty batches ------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize("config", CONFIGS[:3])
def test_non_finite_rows_stay_in_their_row(name, config):
    """Like nn.Linear: a NaN/inf sample gives a non-finite output row and changes no other row;
    finite samples, extreme ones included, stay finite."""
    fmax = torch.finfo(torch.float32).max
    layer = _tel(4, name, torch.float32, 0.1, 1.0, config)
    good = torch.tensor(
        [[0.5, -1.0, 2.0, 0.1], [-1e38, -1e38, -1e38, -1e38], [1e38, 1e38, 1e38, 1e38],
         [fmax, -fmax, 3.0, -2.0], [1e20, -3e19, 1.0, 0.0]]
    )  # fmt: skip
    bad = torch.tensor([[math.nan, 0.0, 1.0, 2.0], [math.inf, 1.0, -1.0, 0.0]])
    with torch.no_grad():
        alone = layer(good)
        mixed = layer(torch.cat([good[:2], bad, good[2:]]))
    assert alone.isfinite().all()
    assert torch.equal(torch.cat([mixed[:2], mixed[4:]]), alone)
    assert (~mixed[2:4].isfinite()).any(dim=-1).all()


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_empty_batch(name, dtype):
    layer = thermonn.TEL(4, 3, entropy=name, dtype=dtype)
    x = torch.zeros(0, 4, dtype=dtype, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 3) and y.dtype == dtype
    y.sum().backward()
    assert x.grad.shape == (0, 4)

    class Fixed(torch.nn.Module):
        def memo(self):
            return None

        def initial(self, y, memo):
            return torch.tensor(0.5, dtype=y.dtype), None

        def next(self, t, y, k, memo):
            return t, None

        def observe(self, y, k, s_hat):
            pass

        def fused_form(self, memo):
            return None

        def estimate(self, y):
            return torch.zeros(*y.shape[:-1], 1, dtype=y.dtype)

    out = tel_descent(
        torch.zeros(0, 3, dtype=dtype), entropy=layer.entropy, temperature=Fixed(),
        etas=torch.full((2,), 0.5), diagnostics=True,
    )  # fmt: skip
    assert out.output.shape == (0, 3) and out.output.dtype == dtype


# ---- CustomEntropy: checks that cannot be fooled ------------------------------------------------


@pytest.mark.parametrize(
    ("phi", "kwargs", "err", "match"),
    [
        (lambda y: -torch.sqrt(y), {}, ValueError,
         r"phi: expected finite values and a finite derivative on the check grid \[-8.0, 8.0\], got phi\(-8\) = nan"),
        (lambda y: -torch.tanh(y), {"check_range": math.nan}, ValueError,
         "check_range: expected a finite float, got nan"),
        (lambda y: -torch.tanh(y), {"check_range": math.inf}, ValueError,
         "check_range: expected a finite float, got inf"),
        (lambda y: -torch.tanh(y), {"check_range": -1.0}, ValueError,
         r"check_range: expected a float >= 0.0, got -1.0"),
        (lambda y: torch.zeros_like(y), {}, ValueError,
         "phi: expected a function of y differentiable by torch.autograd, got an output without a gradient graph"),
        (lambda y: -y.detach(), {}, ValueError, "phi: expected a function of y differentiable"),
        (lambda y: "phi", {}, TypeError, "phi: expected a function returning a tensor, got str"),
        (lambda y: -y[:3], {}, ValueError,
         r"phi: expected an elementwise function \(output shape \(4001,\) .*got output shape \(3,\)"),
    ],
)  # fmt: skip
def test_custom_entropy_rejects_what_it_cannot_check(phi, kwargs, err, match):
    with pytest.raises(err, match=match):
        thermonn.CustomEntropy(phi, m_minus=1.0, m_plus=0.0, **kwargs)


def test_custom_entropy_checks_the_entropy_argument_too():
    with pytest.raises(ValueError, match="entropy: expected finite values"):
        thermonn.CustomEntropy(
            lambda y: -torch.tanh(y), lambda y: -torch.log(torch.cosh(y)) + torch.log(y + 9.0),
            m_minus=1.0, m_plus=0.0, check_range=10.0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="entropy: expected a function of y differentiable"):
        thermonn.CustomEntropy(
            lambda y: -torch.tanh(y), lambda y: y.detach(), m_minus=1.0, m_plus=0.0
        )
    thermonn.CustomEntropy(lambda y: 0 * y, m_minus=0.0, m_plus=0.0)  # a constant, written as 0 * y


# ---- the clips are identities inside their boxes ------------------------------------------------


@pytest.mark.parametrize("name", ["bernoulli", "spin", "shannon"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32, torch.float64])
def test_dual_steps_are_the_plain_formulas_for_ordinary_inputs(name, dtype):
    """Oracle: the plain step written out, bit for bit (|z| < 1e4, T in [1e-15, 3])."""
    ent = thermonn.functional.resolve_entropy(name)
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(64, 8, generator=g) * 10 ** (4 * torch.rand(64, 1, generator=g) - 1)).to(dtype)
    t = (10 ** (torch.rand(64, 1, generator=g) * 15.5 - 15)).to(dtype)
    eta = torch.tensor(0.7, dtype=dtype)
    u = ent.init(ent.descent_input(z))
    if name == "shannon":
        assert torch.equal(u, torch.log1p(torch.nn.functional.softplus(z)))
    else:
        assert torch.equal(u, z)
    for _ in range(3):
        if name == "shannon":
            e = torch.exp(u)
            plain = u - eta * (e + t * u - z) / (e + t)
        else:
            plain = u - eta * (ent.link(u) + t * u - z)
        u = ent.step(u, ent.descent_input(z), t, eta)
        assert torch.equal(u, plain)
