"""TEL's analytic backward against autograd through the unrolled loop, and its memory."""

import copy
import math

import pytest
import torch

import thermonn
from helpers import ALL_ENTROPIES
from thermonn.functional import tel_descent, unrolled_descent
from thermonn.functional.tel_adjoint import StepwiseProgram, select_program
from thermonn.functional.tel_fused import fast_tanh
from thermonn.functional.tel_ops import FusedProgram

CONFIGS = [
    (entropy, temperature, estimator, nonexpansive)
    for entropy in ALL_ENTROPIES
    for temperature, estimator in (("adaptive", "gaussian"), ("adaptive", "mlp"), ("fixed", "gaussian"))
    for nonexpansive in (False, True)
    if not (nonexpansive and (entropy not in ("logcosh",) or estimator == "mlp" or temperature == "fixed"))
]  # fmt: skip


def _layer(entropy, temperature, estimator, nonexpansive, steps, dtype=torch.float64, **kw):
    torch.manual_seed(0)
    layer = thermonn.TEL(
        5, 7, steps=steps, entropy=entropy, temperature=temperature, estimator=estimator,
        nonexpansive=nonexpansive, dtype=dtype, diagnostics=False, **kw,
    )  # fmt: skip
    with torch.no_grad():  # move every parameter off its initial value
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return layer


def _grads(layer, x, plain):
    """Output and gradients of (input, parameters) for one random cotangent; ``plain`` runs
    autograd through the unrolled loop (the reference), else the analytic backward."""
    x = x.clone().requires_grad_()
    params = list(layer.parameters())
    if plain:
        z = torch.nn.functional.linear(x, layer.weight, layer.bias)
        y = unrolled_descent(
            z, entropy=layer.entropy, temperature=layer.temperature,
            etas=layer.step_sizes(), memo=layer.temperature.memo(),
        )  # fmt: skip
    else:
        y = layer(x)
    g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad(y, [x, *params], g, allow_unused=True)
    return y.detach(), [
        torch.zeros_like(p) if d is None else d for d, p in zip(grads, [x, *params], strict=True)
    ]


@pytest.mark.parametrize(("entropy", "temperature", "estimator", "nonexpansive"), CONFIGS)
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("training", [False, True])
def test_analytic_backward_equals_unrolled_autograd(
    entropy, temperature, estimator, nonexpansive, steps, training
):
    """Every entropy family, temperature rule and the non-expansive mode (whose running
    statistics move in training), in float64: the analytic backward (fused closed form or
    step-wise adjoints) is the unrolled loop's gradient, and the statistics move alike."""
    layer = _layer(entropy, temperature, estimator, nonexpansive, steps).train(training)
    twin = copy.deepcopy(layer)
    x = 2.0 * torch.randn(6, 4, 5, dtype=torch.float64)
    y_ref, g_ref = _grads(twin, x, plain=True)
    y, g = _grads(layer, x, plain=False)
    for a, b in zip(layer.buffers(), twin.buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)
    torch.testing.assert_close(y, y_ref, rtol=1e-13, atol=1e-13)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("entropy", ["logcosh", "gate"])
@pytest.mark.parametrize("temperature", ["adaptive", "fixed"])
def test_fused_program_is_the_one_that_runs_and_passes_gradcheck(entropy, temperature):
    layer = _layer(entropy, temperature, "gaussian", False, 3)
    program = select_program(layer.entropy, layer.temperature)
    assert isinstance(program, FusedProgram)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_other_families_run_the_stepwise_program():
    for entropy in ("bernoulli", "spin", "shannon"):
        layer = _layer(entropy, "adaptive", "gaussian", False, 2)
        assert isinstance(select_program(layer.entropy, layer.temperature), StepwiseProgram)
    layer = _layer("logcosh", "adaptive", "mlp", False, 2)
    assert isinstance(select_program(layer.entropy, layer.temperature), StepwiseProgram)


def test_running_statistics_move_identically():
    """Training-mode non-expansive TEL: the fused kernels update the running entropy estimates
    exactly as the unrolled loop's rule does (float64)."""
    a = _layer("logcosh", "adaptive", "gaussian", True, 3).train()
    b = _layer("logcosh", "adaptive", "gaussian", True, 3).train()
    x = torch.randn(16, 5, dtype=torch.float64)
    for _ in range(3):
        a(x)
        z = torch.nn.functional.linear(x, b.weight, b.bias)
        unrolled_descent(
            z, entropy=b.entropy, temperature=b.temperature, etas=b.step_sizes(),
            memo=b.temperature.memo(),
        )  # fmt: skip
    ra, rb = a.temperature.running_entropy, b.temperature.running_entropy
    torch.testing.assert_close(ra, rb, rtol=0, atol=1e-6)
    assert not torch.equal(ra[:3], torch.full_like(ra[:3], ra[0].item()))  # they did move


def _saved_bytes(layer, x):
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x).sum()
    return sum(saved.values())


@pytest.mark.parametrize(
    ("entropy", "temperature"), [("logcosh", "adaptive"), ("gate", "fixed"), ("spin", "adaptive")]
)
def test_saved_memory_is_flat_in_k(entropy, temperature):
    """What autograd keeps for backward does not grow with K beyond a few numbers per sample
    and step (the unrolled loop keeps every iterate: the control)."""
    x = torch.randn(64, 5)
    sizes = {
        k: _saved_bytes(_layer(entropy, temperature, "gaussian", False, k, dtype=torch.float32), x)
        for k in (1, 4, 16)
    }
    per_step_budget = 64 * 5 * 4  # five float32 numbers per sample and step (T, S and its terms)
    assert sizes[16] - sizes[1] <= 15 * per_step_budget + 1024  # + the K step sizes
    layer = _layer(entropy, temperature, "gaussian", False, 16, dtype=torch.float32)

    def unrolled(x):
        z = torch.nn.functional.linear(x, layer.weight, layer.bias)
        return unrolled_descent(
            z, entropy=layer.entropy, temperature=layer.temperature, etas=layer.step_sizes(),
            memo=None,
        )  # fmt: skip

    assert _saved_bytes(unrolled, x) > sizes[16] + 10 * 64 * 7 * 4  # ten iterates more, at least


def test_double_backward_is_refused():
    layer = _layer("logcosh", "adaptive", "gaussian", False, 2)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(layer(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(g.sum(), x)


def test_fast_tanh_accuracy():
    """The float32 rational tanh: within 3.8e-7 of tanh (float64 reference), odd, in [-1, 1]."""
    x = torch.linspace(-12, 12, 2_000_001, dtype=torch.float32)
    t = fast_tanh(x)
    assert (t.double() - torch.tanh(x.double())).abs().max().item() <= 3.8e-7
    assert t.abs().max().item() <= 1.0
    torch.testing.assert_close(fast_tanh(-x), -t, rtol=0, atol=0)
    x64 = torch.linspace(-3, 3, 101, dtype=torch.float64)
    assert torch.equal(fast_tanh(x64), torch.tanh(x64))


def test_huge_samples_take_the_stepwise_path_and_stay_exact():
    """A sample beyond the Gaussian estimate's rescale threshold (float32: 2.8e14) sends the
    batch to the step-wise program, whose arithmetic is the unrolled loop's."""
    layer = _layer("logcosh", "adaptive", "gaussian", False, 3, dtype=torch.float32)
    z = torch.randn(4, 7)
    z[1] *= 1e20
    etas = layer.step_sizes().detach()
    out = tel_descent(z, entropy=layer.entropy, temperature=layer.temperature, etas=etas).output
    ref = unrolled_descent(
        z, entropy=layer.entropy, temperature=layer.temperature, etas=etas, memo=None
    )
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


@pytest.mark.parametrize("entropy", ["logcosh", "gate"])
def test_fused_trace_matches_the_recorded_loop(entropy):
    layer = _layer(entropy, "adaptive", "gaussian", False, 4)
    layer.diagnostics = True
    x = torch.randn(32, 5, dtype=torch.float64)
    layer(x)
    fused = layer.last_trace
    z = torch.nn.functional.linear(x, layer.weight, layer.bias)
    ref = (
        StepwiseProgram(layer.entropy, layer.temperature)
        .unrolled(z, layer.step_sizes(), True)
        .trace
    )
    for a, b in zip(fused, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_free_energy_change_resolves_what_float32_cannot():
    """F ~ 1e9 per sample: float32 cannot show the descent in F itself; F_k - F_0, accumulated
    in float64, equals the float64 computation of the same iterates."""
    layer = _layer("logcosh", "fixed", "gaussian", False, 4, dtype=torch.float32)
    layer.diagnostics = True
    z = 3e7 * torch.randn(8, 7)  # -T S(y) = T sum log cosh y ~ T |z| d: about 1e8 per sample
    etas = layer.step_sizes().detach()
    trace = tel_descent(
        z, entropy=layer.entropy, temperature=layer.temperature, etas=etas, diagnostics=True
    ).trace
    assert trace.free_energy.abs().min().item() > 1e7
    # the float64 reference: the same float32 iterates, F evaluated in float64
    t = layer.temperature.value().double()
    y = z.clone()
    f0 = None
    changes = []
    for k in range(5):
        y64 = y.double()
        f = 0.5 * (y64 - z.double()).square().sum(-1) - t * layer.entropy.entropy(y64).sum(-1)
        f0 = f if f0 is None else f0
        changes.append((f - f0).mean().item())
        if k < 4:
            y = y - etas[k] * ((y - z) - layer.temperature.value() * (-torch.tanh(y)))
    ref = torch.tensor(changes, dtype=torch.float64)
    assert ref[-1].item() < 0  # the descent lowered F
    torch.testing.assert_close(
        trace.free_energy_change.double(), ref.double(), rtol=1e-3, atol=1e-2
    )
    assert not math.isclose(trace.free_energy_change[-1].item(), 0.0, abs_tol=1e-6)


def test_kernel_option_is_validated():
    with pytest.raises(
        ValueError, match=r"kernel: expected one of \('auto', 'compiled', 'eager'\), got 'fast'"
    ):
        thermonn.TEL(3, 4, kernel="fast")


@pytest.mark.parametrize(("entropy", "temperature"), [("logcosh", "adaptive"), ("gate", "fixed")])
def test_compiled_kernels_equal_eager_ones_across_padded_chunks(entropy, temperature):
    """``kernel="compiled"`` (torch.compile of the same arithmetic, in chunks of 4 samples at
    this width, the last one padded) gives the eager kernels' outputs and gradients."""
    x = torch.randn(6, 5, dtype=torch.float64)
    results = []
    for kernel in ("eager", "compiled"):
        torch.manual_seed(0)
        layer = thermonn.TEL(5, 1 << 15, steps=3, entropy=entropy, temperature=temperature,
                             dtype=torch.float64, diagnostics=False, kernel=kernel)  # fmt: skip
        results.append(_grads(layer, x, plain=False))
    (y0, g0), (y1, g1) = results
    torch.testing.assert_close(y1, y0, rtol=1e-12, atol=1e-12)
    for a, b in zip(g1, g0, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


class _BatchEntropyT(thermonn.nn.temperature.AdaptiveTemperature):
    """A rule that couples samples: every sample's temperature follows the batch mean entropy."""

    def estimate(self, y):
        return super().estimate(y).mean(0, keepdim=True).expand(*y.shape[:-1], 1)


def test_a_rule_that_couples_samples_is_replayed_whole():
    """The step-wise backward replays samples in chunks only for rules that declare
    ``samples_independent`` themselves; a subclass coupling samples gets the exact gradient even
    where the batch is many chunks long (here 2^17 samples, chunks of 2^15 otherwise)."""
    torch.manual_seed(0)
    ent = thermonn.functional.resolve_entropy("spin")
    rule = _BatchEntropyT(t_min=0.1, t_max=1.0, beta=0.3, steps=2, dtype=torch.float64)
    z = torch.randn(1 << 17, 8, dtype=torch.float64, requires_grad=True)
    etas = torch.tensor([0.3, 0.4], dtype=torch.float64, requires_grad=True)
    g = torch.randn(z.shape, dtype=torch.float64)
    out = tel_descent(z, entropy=ent, temperature=rule, etas=etas).output
    mine = torch.autograd.grad(out, (z, etas, rule.slope), g)
    ref_out = unrolled_descent(z, entropy=ent, temperature=rule, etas=etas, memo=None)
    ref = torch.autograd.grad(ref_out, (z, etas, rule.slope), g)
    for a, b in zip(mine, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_dataparallel_replicas_run_the_plain_loop():
    """A replica (``torch.nn.parallel.replicate``) holds parameters outside
    ``named_parameters()``; the step-wise program hands such a layer to the plain loop."""
    layer = _layer("spin", "adaptive", "gaussian", False, 2)
    layer.temperature._is_replica = True
    program = select_program(layer.entropy, layer.temperature)
    assert isinstance(program, StepwiseProgram) and program._replica()
    x = torch.randn(6, 5, dtype=torch.float64)
    _, g = _grads(layer, x, plain=False)
    _, g_ref = _grads(layer, x, plain=True)
    for a, b in zip(g, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
