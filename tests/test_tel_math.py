"""TEL against its oracles: gradients, monotone descent, contraction, equilibria, Lipschitz bounds."""

import math

import pytest
import scipy.special
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

import thermonn
from helpers import ALL_ENTROPIES, PRIMAL_ENTROPIES, equilibrium, fixed_tel
from thermonn.functional import LogCosh, tel_descent


class _ConstantT(torch.nn.Module):
    """Temperature rule of the functional core at a fixed T (for step sizes beyond the bound);
    with ``learn`` the temperature is a parameter the descent differentiates."""

    def __init__(self, t: float, learn: bool = False):
        super().__init__()
        self.t = torch.nn.Parameter(torch.tensor(t, dtype=torch.float64), requires_grad=learn)

    def memo(self):
        return None

    def initial(self, y, memo):
        return self.t, None

    def next(self, t, y, k, memo):
        return t, None

    def observe(self, y, k, s_hat):
        pass

    def estimate(self, y):
        return torch.zeros(*y.shape[:-1], 1, dtype=y.dtype)

    def fused_form(self, memo):
        return None


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize(
    ("temperature", "estimator"),
    [("adaptive", "gaussian"), ("adaptive", "mlp"), ("fixed", "gaussian")],
)
def test_gradcheck_float64(name, temperature, estimator):
    layer = thermonn.TEL(
        4, 5, steps=3, entropy=name, temperature=temperature, estimator=estimator,
        dtype=torch.float64,
    )  # fmt: skip
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)

    def f(x, *ps):
        return functional_call(layer, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


def test_gradcheck_nonexpansive_running_temperature():
    layer = thermonn.TEL(4, 5, steps=3, nonexpansive=True, dtype=torch.float64).eval()
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


@pytest.mark.parametrize("name", PRIMAL_ENTROPIES)
@pytest.mark.parametrize("t", [0.05, 0.5, 1.0])
def test_free_energy_decreases_monotonically_at_fixed_t(name, t):
    layer = fixed_tel(16, name, t=t, steps=12)
    with torch.no_grad():
        layer.step_logits.fill_(4.0)  # eta ~ 0.98 eta_max, the harshest allowed
        y = layer(3.0 * torch.randn(64, 16, dtype=torch.float64))
    f = layer.last_trace.free_energy
    assert torch.isfinite(y).all()
    assert (f.diff() <= 1e-6 * f.abs().max()).all(), f


def test_step_bound_is_what_makes_descent_monotone():
    """T2's boundary: monotone at eta = 1.9/L, not at 2.2/L (logcosh, T = 1, near y = 0)."""
    t, ent = 1.0, LogCosh()
    lip = ent.smoothness(t)[1]
    z = 0.05 * torch.randn(256, 8, dtype=torch.float64)

    def free_energies(eta):
        res = tel_descent(
            z, entropy=ent, temperature=_ConstantT(t), etas=torch.full((6,), eta), diagnostics=True
        )
        return res.trace.free_energy

    assert (free_energies(1.9 / lip).diff() <= 1e-12).all()
    assert (free_energies(2.2 / lip).diff() > 0).any()


@pytest.mark.parametrize("name", PRIMAL_ENTROPIES)
def test_contraction_rate_t2(name):
    """||y_K - y*|| <= q^K ||z - y*||, q = max(|1 - eta mu|, |1 - eta L|)."""
    t = 0.7
    layer = fixed_tel(10, name, t=t, steps=6)
    z = 2.0 * torch.randn(32, 10, dtype=torch.float64)
    with torch.no_grad():
        y = layer(z)
    eta = layer.step_sizes()[0].item()
    mu, lip = layer.entropy.smoothness(t)
    q = max(abs(1 - eta * mu), abs(1 - eta * lip))
    ystar = equilibrium(layer.entropy, z, t)
    err_k = torch.linalg.vector_norm(y - ystar, dim=-1)
    err_0 = torch.linalg.vector_norm(z - ystar, dim=-1)
    assert (err_k <= q**6 * err_0 + 1e-10).all()


@pytest.mark.parametrize("name", ALL_ENTROPIES)
@pytest.mark.parametrize("t", [0.3, 1.0])
def test_converges_to_equilibrium_map(name, t):
    layer = fixed_tel(12, name, t=t, steps=400)
    z = 2.0 * torch.randn(20, 12, dtype=torch.float64)
    with torch.no_grad():
        y = layer(z)
    torch.testing.assert_close(y, equilibrium(layer.entropy, z, t), rtol=1e-7, atol=1e-8)


def test_logcosh_equilibrium_solves_its_equation():
    layer = fixed_tel(8, "logcosh", t=0.8, steps=200)
    z = 3.0 * torch.randn(10, 8, dtype=torch.float64)
    with torch.no_grad():
        y = layer(z)
    torch.testing.assert_close(y + 0.8 * torch.tanh(y), z, rtol=0, atol=1e-9)


def test_shannon_equilibrium_is_lambert_w():
    t = 0.5
    layer = fixed_tel(8, "shannon", t=t, steps=60)
    z = 3.0 * torch.randn(16, 8, dtype=torch.float64)
    with torch.no_grad():
        y = layer(z)
    w = scipy.special.lambertw(torch.exp(z / t).numpy() / t).real
    torch.testing.assert_close(y, torch.from_numpy(t * w), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("spin", lambda z: z.clamp(-1, 1)),
        ("bernoulli", lambda z: z.clamp(0, 1)),
        ("shannon", lambda z: z.clamp(min=0)),
        ("logcosh", lambda z: z),
    ],
)
def test_small_temperature_limits(name, limit):
    """spin -> hardtanh, bernoulli -> hard-sigmoid, shannon -> ReLU, logcosh -> identity."""
    t = 1e-3
    layer = fixed_tel(6, name, t=t, steps=20000 if name in ("spin", "bernoulli") else 200)
    z = 2.0 * torch.randn(40, 6, dtype=torch.float64)
    with torch.no_grad():
        y = layer(z)
    # each equilibrium is within O(T log(1/T)) of its zero-temperature limit
    assert (y - limit(z)).abs().max().item() < 10 * t * math.log(1 / t)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    steps=st.integers(1, 8),
    temperature=st.sampled_from(["adaptive", "fixed"]),
    training=st.booleans(),
    scale=st.floats(0.01, 30.0),
)
def test_nonexpansive_layer_is_1_lipschitz(seed, steps, temperature, training, scale):
    """T3: with nonexpansive=True, ||y_K(z1) - y_K(z2)|| <= ||z1 - z2|| for any parameters."""
    g = torch.Generator().manual_seed(seed)
    d = 16
    layer = thermonn.TEL(
        d, d, steps=steps, temperature=temperature, nonexpansive=True, t_min=0.05, t_max=3.0,
        dtype=torch.float64,
    )  # fmt: skip
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(4.0 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        if temperature == "adaptive":
            layer.temperature.running_entropy.copy_(3.0 * torch.randn(steps + 1, generator=g))
    layer.train(training)
    x1 = scale * torch.randn(32, d, generator=g, dtype=torch.float64)
    x2 = x1 + scale * torch.rand(()).item() * torch.randn(32, d, generator=g, dtype=torch.float64)
    with torch.no_grad():
        y = layer(torch.cat([x1, x2]))  # one call: in training the running stats move after it
    y1, y2 = y.chunk(2)
    w_norm = torch.linalg.matrix_norm(layer.weight, ord=2)
    lhs = torch.linalg.vector_norm(y1 - y2, dim=-1)
    rhs = w_norm * torch.linalg.vector_norm(x1 - x2, dim=-1)
    assert (lhs <= rhs * (1 + 1e-9) + 1e-12).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 10), t=st.floats(0.01, 3.0))
def test_nonexpansive_descent_map_jacobian_norm(seed, steps, t):
    """The z -> y_K map itself: Jacobian (diagonal at fixed T) has entries in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    layer = fixed_tel(8, "logcosh", t=t, steps=steps, nonexpansive=True)
    with torch.no_grad():
        layer.step_logits.copy_(6.0 * torch.randn(steps, generator=g, dtype=torch.float64))
    z = 3.0 * torch.randn(8, dtype=torch.float64, generator=g)
    jac = torch.autograd.functional.jacobian(layer, z)
    assert torch.linalg.matrix_norm(jac, ord=2).item() <= 1 + 1e-12


@pytest.mark.parametrize("steps", [1, 5, 40])
def test_bounded_gradients_t4(steps):
    """||dy_K/dz|| <= 1/mu independent of K (gate: non-concave, mu < 1)."""
    t = 2.5
    layer = fixed_tel(6, "gate", t=t, steps=steps)
    with torch.no_grad():
        layer.entropy.alpha.fill_(30.0)  # slope at a_max: the largest positive curvature
        layer.step_logits.fill_(5.0)
    mu = layer.entropy.smoothness(t)[0]
    worst = 0.0
    for _ in range(20):
        z = torch.empty(6, dtype=torch.float64).uniform_(-3, 3)
        jac = torch.autograd.functional.jacobian(layer, z)
        worst = max(worst, torch.linalg.matrix_norm(jac, ord=2).item())
    assert 1.0 < worst <= 1 / mu + 1e-9  # exceeds 1 (gate expands) but never 1/mu


def test_lipschitz_bound_fails_beyond_the_step_bound():
    """Negative control for T3: eta = 1.5 > min(1, 2/L) expands (so the tests above have teeth)."""
    z = torch.zeros(4, dtype=torch.float64)

    def jac_max(eta):
        def run(z_):
            etas = torch.full((2,), eta, dtype=torch.float64)
            return tel_descent(z_, entropy=LogCosh(), temperature=_ConstantT(1.0), etas=etas).output

        return torch.autograd.functional.jacobian(run, z).abs().max().item()

    assert jac_max(1.0) <= 1.0
    assert jac_max(1.5) > 2.0


@pytest.mark.parametrize("name", PRIMAL_ENTROPIES)
@pytest.mark.parametrize("steps", [1, 6, 30])
def test_temperature_sensitivity_bounded_t4(name, steps):
    """|dy_K/dT| <= sup|phi| / mu elementwise, independent of K."""
    ent = fixed_tel(1, name).entropy
    if isinstance(ent, thermonn.Gate):
        with torch.no_grad():
            ent.alpha.fill_(30.0)
    t_max = 2.0 if name == "gate" else 1.0
    mu = ent.smoothness(t_max)[0]
    eta = ent.step_bound(t_max, t_max)
    grid = torch.linspace(-50, 50, 200001, dtype=torch.float64)
    sup_phi = ent.phi(grid).abs().max().item()
    z = 4.0 * torch.randn(256, 1, dtype=torch.float64)
    rule = _ConstantT(t_max, learn=True)
    t = rule.t
    y = tel_descent(z, entropy=ent, temperature=rule, etas=torch.full((steps,), eta)).output
    grads = torch.stack(
        [torch.autograd.grad(yi, t, retain_graph=True)[0] for yi in y.flatten()[:64]]
    )
    assert grads.abs().max().item() <= sup_phi / mu + 1e-9


def test_spectral_norm_makes_nonexpansive_layer_1_lipschitz_in_x():
    """T3 composes with torch's spectral_norm: ||W||_2 = 1 gives a 1-Lipschitz layer in x."""
    layer = thermonn.TEL(12, 20, steps=5, nonexpansive=True, dtype=torch.float64)
    layer = torch.nn.utils.parametrizations.spectral_norm(layer, n_power_iterations=50).eval()
    x1 = 3.0 * torch.randn(256, 12, dtype=torch.float64)
    x2 = x1 + 0.5 * torch.randn(256, 12, dtype=torch.float64)
    with torch.no_grad():
        ratio = torch.linalg.vector_norm(layer(x1) - layer(x2), dim=-1) / torch.linalg.vector_norm(
            x1 - x2, dim=-1
        )
    assert ratio.max().item() <= 1.0 + 1e-6
    assert ratio.max().item() > 0.3  # not vacuous
