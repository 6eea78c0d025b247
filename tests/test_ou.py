"""The exact Ornstein–Uhlenbeck process dx = −A(x − b)dt + N(0, D dt) against independent oracles:
scipy's matrix exponential, quadrature of Q(h) = ∫₀ʰ e^{−As} D e^{−Aᵀs} ds and its Lyapunov
solver; KS and moment tests of the sampler against the exact conditional law; scipy's Gaussian
density for the path likelihood; gradcheck; a maximum-likelihood fit of a known drift."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.stats
import torch

from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate
from thermonn.dynamics.ou import ExactOU, OUProcess, ou_log_prob, ou_transition, psd_sqrt

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _normal_drift():
    """A symmetric (so normal) positive-definite 3×3 drift with a full-rank diffusion."""
    g = torch.Generator().manual_seed(11)
    m = torch.randn(3, 3, generator=g, dtype=F64)
    drift = m @ m.T / 3 + 0.4 * torch.eye(3, dtype=F64)
    b = torch.randn(3, 3, generator=g, dtype=F64)
    return drift, b @ b.T + 0.2 * torch.eye(3, dtype=F64)


def _non_normal_drift():
    """A random non-normal 4×4 drift shifted to min Re λ = 0.5, with a rank-3 (singular) D."""
    g = torch.Generator().manual_seed(7)
    m = torch.randn(4, 4, generator=g, dtype=F64)
    low = float(torch.linalg.eigvals(m).real.min())
    drift = m + (0.5 - low) * torch.eye(4, dtype=F64)
    b = torch.randn(4, 3, generator=g, dtype=F64)
    return drift, b @ b.T


DRIFTS = {"normal": _normal_drift, "non-normal": _non_normal_drift}


def _process(kind, mean_seed=3):
    drift, diffusion = DRIFTS[kind]()
    d = drift.shape[-1]
    mean = torch.randn(d, generator=torch.Generator().manual_seed(mean_seed), dtype=F64)
    return OUProcess(drift=drift, mean=mean, diffusion=diffusion)


def _q_by_quadrature(a, d, h):
    a, d = a.numpy(), d.numpy()

    def integrand(s):
        e = scipy.linalg.expm(-a * s)
        return e @ d @ e.T

    q, _ = scipy.integrate.quad_vec(integrand, 0.0, h, epsrel=1e-12, epsabs=1e-16)
    return torch.from_numpy(q)


def _q_by_lyapunov(a, d, h):
    """Q(h) = Σ − e^{−Ah} Σ e^{−Aᵀh} with AΣ + ΣAᵀ = D (numpy, for the likelihood oracle)."""
    sigma = scipy.linalg.solve_continuous_lyapunov(a, d)
    e = scipy.linalg.expm(-a * h)
    return sigma - e @ sigma @ e.T


def test_the_drift_fixtures_are_what_they_claim():
    normal, _ = _normal_drift()
    skew, diffusion = _non_normal_drift()
    torch.testing.assert_close(normal @ normal.T, normal.T @ normal)
    assert float((skew @ skew.T - skew.T @ skew).abs().max()) > 1.0  # far from normal
    assert float(torch.linalg.eigvals(skew).real.min()) == pytest.approx(0.5, abs=1e-12)
    assert int(torch.linalg.matrix_rank(diffusion)) == 3


@pytest.mark.parametrize("dt", [1e-4, 0.1, 1.0, 50.0])
@pytest.mark.parametrize("kind", ["normal", "non-normal"])
def test_transition_matches_expm_and_quadrature(kind, dt):
    drift, diffusion = DRIFTS[kind]()
    propagator, covariance = ou_transition(drift, diffusion, dt)
    expected = torch.from_numpy(scipy.linalg.expm(-drift.numpy() * dt))
    torch.testing.assert_close(propagator, expected, rtol=1e-11, atol=1e-13)
    q = _q_by_quadrature(drift, diffusion, dt)
    scale = float(q.abs().max())
    torch.testing.assert_close(covariance, q, rtol=1e-10, atol=1e-11 * scale)
    torch.testing.assert_close(covariance, covariance.mT, rtol=0, atol=0)  # symmetric exactly
    # the process validates and forwards to the same kernel
    process = _process(kind)
    torch.testing.assert_close(process.transition(dt).covariance, covariance, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["normal", "non-normal"])
def test_stationary_covariance_solves_the_lyapunov_equation(kind):
    process = _process(kind)
    law = process.stationary()
    sigma = scipy.linalg.solve_continuous_lyapunov(process.drift.numpy(), process.diffusion.numpy())
    torch.testing.assert_close(law.covariance, torch.from_numpy(sigma), rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(law.mean, process.mean, rtol=0, atol=0)
    # Q(t) → Σ: after 60 slowest relaxation times the transition covariance is Σ
    far = process.transition(60.0 * process.relaxation_time).covariance
    torch.testing.assert_close(far, law.covariance, rtol=1e-11, atol=1e-12)
    rate = float(np.linalg.eigvals(process.drift.numpy()).real.min())
    assert process.relaxation_time == pytest.approx(1.0 / rate, rel=1e-12)


@pytest.mark.parametrize("kind", ["normal", "non-normal"])
def test_a_times_tensor_batches_the_scalar_transitions(kind):
    drift, diffusion = DRIFTS[kind]()
    times = torch.tensor([0.0, 1e-3, 0.25, 1.0, 7.5, 40.0], dtype=F64)
    batched = ou_transition(drift, diffusion, times)
    assert batched.propagator.shape == (6, *drift.shape)
    for k, t in enumerate(times.tolist()):
        single = ou_transition(drift, diffusion, t)
        torch.testing.assert_close(batched.propagator[k], single.propagator, rtol=1e-12, atol=1e-14)
        scale = float(single.covariance.abs().max()) + 1e-300
        torch.testing.assert_close(
            batched.covariance[k], single.covariance, rtol=1e-11, atol=1e-13 * scale
        )
    torch.testing.assert_close(batched.propagator[0], torch.eye(len(drift), dtype=F64))
    torch.testing.assert_close(batched.covariance[0], torch.zeros_like(drift))
    # conditional at a times tensor: a leading time dimension on the mean
    process = _process(kind)
    x0 = torch.linspace(-1.0, 2.0, len(drift), dtype=F64)
    law = process.conditional(x0, times)
    for k, t in enumerate(times.tolist()):
        one = process.conditional(x0, t)
        torch.testing.assert_close(law.mean[k], one.mean, rtol=1e-12, atol=1e-12)


def test_a_batch_of_drifts_agrees_with_one_by_one():
    g = torch.Generator().manual_seed(5)
    drifts, means = [], []
    for _ in range(3):
        m = torch.randn(3, 3, generator=g, dtype=F64)
        drifts.append(m + (0.3 - float(torch.linalg.eigvals(m).real.min())) * torch.eye(3))
        means.append(torch.randn(3, generator=g, dtype=F64))
    drift, mean = torch.stack(drifts), torch.stack(means)
    diffusion = torch.tensor([[1.0, 0.3, 0.0], [0.3, 0.8, 0.1], [0.0, 0.1, 0.5]], dtype=F64)
    batched = OUProcess(drift=drift, mean=mean, diffusion=diffusion)
    x0 = torch.randn(3, 3, generator=g, dtype=F64)  # one start per process
    grid = torch.linspace(0.0, 2.0, 9, dtype=F64)
    uneven = torch.tensor([0.0, 0.1, 0.15, 0.6, 1.4, 2.0], dtype=F64)
    path = batched.sample(grid, x0, generator=torch.Generator().manual_seed(1)).states
    uneven_path = batched.sample(uneven, x0, generator=torch.Generator().manual_seed(2)).states
    assert path.shape == (9, 3, 3) and uneven_path.shape == (6, 3, 3)
    transition, stationary = batched.transition(0.7), batched.stationary()
    conditional = batched.conditional(x0, 1.3)
    log_prob = batched.log_prob(grid, path)
    uneven_log_prob = batched.log_prob(uneven, uneven_path)
    for i in range(3):
        one = OUProcess(drift=drift[i], mean=mean[i], diffusion=diffusion)
        single = one.transition(0.7)
        torch.testing.assert_close(transition.propagator[i], single.propagator, rtol=1e-12, atol=0)
        torch.testing.assert_close(transition.covariance[i], single.covariance, rtol=1e-12, atol=0)
        torch.testing.assert_close(
            stationary.covariance[i], one.stationary().covariance, rtol=1e-11, atol=1e-13
        )
        torch.testing.assert_close(conditional.mean[i], one.conditional(x0[i], 1.3).mean)
        torch.testing.assert_close(
            conditional.covariance[i], one.conditional(x0[i], 1.3).covariance
        )
        torch.testing.assert_close(log_prob[i], one.log_prob(grid, path[:, i]), rtol=1e-12, atol=0)
        torch.testing.assert_close(
            uneven_log_prob[i], one.log_prob(uneven, uneven_path[:, i]), rtol=1e-12, atol=0
        )


@pytest.mark.parametrize("kind", ["normal", "non-normal"])
def test_float32_agrees_with_float64(kind):
    process = _process(kind)
    single = OUProcess(
        drift=process.drift.float(), mean=process.mean.float(), diffusion=process.diffusion.float()
    )
    for dt in (0.01, 1.0, 20.0):
        hi, lo = process.transition(dt), single.transition(dt)
        assert lo.propagator.dtype == torch.float32
        # the propagator starts at I: its error is measured against 1 (a decayed e^{−Ah} has
        # float32's relative error times the log2(‖A‖h) squarings that formed it)
        torch.testing.assert_close(lo.propagator.double(), hi.propagator, rtol=0, atol=1e-5)
        scale = float(hi.covariance.abs().max())
        torch.testing.assert_close(lo.covariance.double(), hi.covariance, rtol=0, atol=1e-5 * scale)
    sigma_hi, sigma_lo = process.stationary().covariance, single.stationary().covariance
    scale = float(sigma_hi.abs().max())
    torch.testing.assert_close(sigma_lo.double(), sigma_hi, rtol=0, atol=1e-5 * scale)


def test_a_singular_diffusion_samples_its_degenerate_law():
    """D = diag(1, 0) with a decoupled drift: the second coordinate is deterministic, exactly."""
    drift = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=F64)
    mean = torch.tensor([0.5, -1.0], dtype=F64)
    diffusion = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=F64)
    process = OUProcess(drift=drift, mean=mean, diffusion=diffusion)
    x0 = torch.tensor([2.0, 3.0], dtype=F64).expand(20_000, 2)
    grid = torch.linspace(0.0, 1.0, 11, dtype=F64)
    path = process.sample(grid, x0, generator=torch.Generator().manual_seed(0)).states
    deterministic = -1.0 + 4.0 * torch.exp(-2.0 * grid)
    torch.testing.assert_close(
        path[:, :, 1], deterministic[:, None].expand(11, 20_000), rtol=0, atol=1e-12
    )
    # the noisy coordinate: N(0.5 + 1.5 e^{-t}, (1 − e^{-2t}) / 2) at t = 1
    final = path[-1, :, 0]
    var = (1.0 - math.exp(-2.0)) / 2.0
    se = math.sqrt(var / len(final))
    assert abs(float(final.mean()) - (0.5 + 1.5 * math.exp(-1.0))) < 4 * se
    assert abs(float(final.var()) - var) < 4 * var * math.sqrt(2.0 / len(final))
    # a singular Q has a square root but no density
    q = process.transition(0.5).covariance
    factor = psd_sqrt(q)
    torch.testing.assert_close(factor @ factor.mT, q, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="diffusion"):
        process.log_prob(grid, path[:, 0])


def _standardised_projection(law, states, direction):
    """u·(x − m) / √(uᵀQu) for a fixed direction u: N(0, 1) under the exact law."""
    spread = float(direction @ law.covariance @ direction)
    return ((states - law.mean) @ direction / math.sqrt(spread)).numpy()


@pytest.mark.parametrize("grid", ["uniform", "non-uniform"])
def test_sampled_marginals_pass_a_ks_test_against_the_conditional_law(grid):
    process = _process("non-normal")
    chains = 20_000
    x0 = torch.tensor([1.5, -2.0, 0.5, 3.0], dtype=F64)
    if grid == "uniform":
        times = torch.linspace(0.0, 2.0, 21, dtype=F64)
    else:
        inner = torch.rand(19, generator=torch.Generator().manual_seed(4), dtype=F64) * 2.0
        times = torch.cat([torch.zeros(1, dtype=F64), inner.sort().values, torch.tensor([2.0])])
    path = process.sample(times, x0.expand(chains, 4), generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(path.times, times, rtol=0, atol=0)
    direction = torch.tensor([0.3, -0.5, 0.7, 0.4], dtype=F64)
    for k in (1, 10, 20):
        law = process.conditional(x0, float(times[k]))
        z = _standardised_projection(law, path.states[k], direction)
        assert scipy.stats.kstest(z, "norm").pvalue > 1e-3, (grid, k)
    # the whole final state, whitened by the exact Cholesky factor: d·chains i.i.d. N(0, 1)
    law = process.conditional(x0, 2.0)
    white = torch.linalg.solve_triangular(
        torch.linalg.cholesky(law.covariance), (path.final - law.mean).mT, upper=False
    )
    assert scipy.stats.kstest(white.flatten().numpy(), "norm").pvalue > 1e-3


def test_the_ks_check_rejects_a_wrong_law():
    """The KS check above can fail: a path of the same process at a 10% faster clock."""
    process = _process("non-normal")
    x0 = torch.tensor([1.5, -2.0, 0.5, 3.0], dtype=F64)
    times = torch.linspace(0.0, 2.0, 21, dtype=F64)
    path = process.sample(
        times * 1.1, x0.expand(20_000, 4), generator=torch.Generator().manual_seed(9)
    )
    direction = torch.tensor([0.3, -0.5, 0.7, 0.4], dtype=F64)
    z = _standardised_projection(process.conditional(x0, 0.2), path.states[2], direction)
    assert scipy.stats.kstest(z, "norm").pvalue < 1e-6


def _assert_moments(states, law, *, sigmas=4.5):
    """Sample mean and covariance of ``states`` (n, d) within ``sigmas`` standard errors."""
    n = len(states)
    q = law.covariance
    mean_se = (torch.diagonal(q) / n).sqrt()
    assert bool(((states.mean(0) - law.mean).abs() <= sigmas * mean_se).all())
    c = states - states.mean(0)
    empirical = c.T @ c / (n - 1)
    variances = torch.diagonal(q)
    cov_se = ((variances[:, None] * variances[None, :] + q.square()) / n).sqrt()
    assert bool(((empirical - q).abs() <= sigmas * cov_se).all())


@pytest.mark.parametrize("kind", ["normal", "non-normal"])
def test_final_moments_match_the_exact_mean_and_q(kind):
    process = _process(kind)
    d = process.dim
    x0 = torch.linspace(2.0, -1.0, d, dtype=F64)
    times = torch.linspace(0.0, 1.5, 31, dtype=F64)
    path = process.sample(times, x0.expand(20_000, d), generator=torch.Generator().manual_seed(3))
    propagator, q = process.transition(1.5)
    expected_mean = process.mean + propagator @ (x0 - process.mean)
    law = process.conditional(x0, 1.5)
    torch.testing.assert_close(law.mean, expected_mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(law.covariance, q, rtol=0, atol=0)
    _assert_moments(path.final, law)


def test_a_non_uniform_grid_gives_the_same_law():
    process = _process("non-normal")
    x0 = torch.tensor([2.0, 0.0, -1.0, 1.0], dtype=F64)
    inner = torch.rand(40, generator=torch.Generator().manual_seed(6), dtype=F64) * 3.0
    times = torch.cat([torch.zeros(1, dtype=F64), inner.sort().values, torch.tensor([3.0])])
    path = process.sample(times, x0.expand(20_000, 4), generator=torch.Generator().manual_seed(8))
    _assert_moments(path.final, process.conditional(x0, 3.0))
    _assert_moments(path.states[20], process.conditional(x0, float(times[20])))
    # the same grid through the driver directly, on a grid stepper
    direct = integrate(
        ExactOU(process, None), x0.expand(20_000, 4), times=times,
        generator=torch.Generator().manual_seed(8),
    )  # fmt: skip
    torch.testing.assert_close(direct.states, path.states, rtol=0, atol=0)


def _scipy_log_prob(process, times, path):
    a, d, b = process.drift.numpy(), process.diffusion.numpy(), process.mean.numpy()
    total = 0.0
    for k in range(len(times) - 1):
        h = float(times[k + 1] - times[k])
        mean = b + scipy.linalg.expm(-a * h) @ (path[k].numpy() - b)
        total += scipy.stats.multivariate_normal.logpdf(
            path[k + 1].numpy(), mean, _q_by_lyapunov(a, d, h)
        )
    return total


@pytest.mark.parametrize("grid", ["uniform", "non-uniform"])
def test_log_prob_matches_scipy_gaussian_transitions(grid):
    process = _process("normal")
    if grid == "uniform":
        times = torch.linspace(0.0, 3.0, 31, dtype=F64)
    else:
        inner = torch.rand(29, generator=torch.Generator().manual_seed(2), dtype=F64) * 3.0
        times = torch.cat([torch.zeros(1, dtype=F64), inner.sort().values, torch.tensor([3.0])])
    x0 = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
    path = process.sample(times, x0, generator=torch.Generator().manual_seed(0)).states
    expected = _scipy_log_prob(process, times, path)
    assert float(process.log_prob(times, path)) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # the unvalidated kernel is the same number; the stationary start adds ln N(x0; b, Σ)
    kernel = ou_log_prob(process.drift, process.mean, process.diffusion, times, path)
    assert float(kernel) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    sigma = scipy.linalg.solve_continuous_lyapunov(process.drift.numpy(), process.diffusion.numpy())
    start = scipy.stats.multivariate_normal.logpdf(x0.numpy(), process.mean.numpy(), sigma)
    got = float(process.stationary().log_prob(x0))
    assert got == pytest.approx(start, rel=1e-10, abs=1e-10)


def test_log_prob_of_a_batch_of_paths_on_a_uniform_grid_is_per_path():
    process = _process("non-normal")
    times = torch.linspace(0.0, 1.0, 6, dtype=F64)
    x0 = torch.randn(5, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    # a non-degenerate diffusion so every transition has a density
    full = OUProcess(drift=process.drift, mean=process.mean, diffusion=torch.eye(4, dtype=F64))
    path = full.sample(times, x0, generator=torch.Generator().manual_seed(2)).states
    batched = full.log_prob(times, path)
    assert batched.shape == (5,)
    for i in range(5):
        assert float(batched[i]) == pytest.approx(
            _scipy_log_prob(full, times, path[:, i]), rel=1e-9
        )


def test_log_prob_of_a_batch_of_paths_on_a_non_uniform_grid_is_per_path():
    process = OUProcess(
        drift=torch.tensor([[1.0, 2.0], [0.0, 1.5]], dtype=F64),
        mean=torch.tensor([0.5, -1.0], dtype=F64),
        diffusion=torch.eye(2, dtype=F64),
    )
    times = torch.tensor([0.0, 0.3, 0.5, 1.2, 2.0], dtype=F64)  # 4 distinct steps
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=F64)  # 4 paths
    path = process.sample(times, x0, generator=torch.Generator().manual_seed(1)).states
    batched = process.log_prob(times, path)
    for i in range(4):
        assert float(batched[i]) == pytest.approx(
            _scipy_log_prob(process, times, path[:, i]), rel=1e-9
        )


def test_conditional_at_a_times_tensor_for_a_batch_of_starts():
    process = _process("normal")
    x0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    times = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=F64)
    law = process.conditional(x0, times)
    expected = torch.stack([process.conditional(x0, t).mean for t in times.tolist()])
    torch.testing.assert_close(law.mean, expected)


@pytest.mark.parametrize("grid", ["uniform", "non-uniform"])
def test_log_prob_gradients_pass_gradcheck(grid):
    times = (
        torch.linspace(0.0, 1.0, 6, dtype=F64)
        if grid == "uniform"
        else torch.tensor([0.0, 0.1, 0.35, 0.4, 0.9, 1.0], dtype=F64)
    )
    drift = torch.tensor([[1.2, 0.7], [-0.4, 0.9]], dtype=F64, requires_grad=True)
    mean = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)
    factor = torch.tensor([[1.0, 0.0], [0.4, 0.6]], dtype=F64, requires_grad=True)
    process = OUProcess(
        drift=drift.detach(), mean=mean.detach(), diffusion=(factor @ factor.T).detach()
    )
    path = process.sample(
        times, torch.tensor([1.0, -1.0], dtype=F64), generator=torch.Generator().manual_seed(0)
    ).states

    def log_prob(a, b, ell):
        return ou_log_prob(a, b, ell @ ell.T, times, path)

    assert torch.autograd.gradcheck(log_prob, (drift, mean, factor))


def test_maximum_likelihood_recovers_a_non_normal_drift():
    drift = torch.tensor([[1.0, 2.0], [0.0, 0.5]], dtype=F64)  # eigenvalues 1, 0.5; non-normal
    mean = torch.tensor([0.5, -0.3], dtype=F64)
    diffusion = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=F64)
    process = OUProcess(drift=drift, mean=mean, diffusion=diffusion)
    n, dt = 20_000, 0.05
    times = torch.arange(n + 1, dtype=F64) * dt
    g = torch.Generator().manual_seed(0)
    stationary = process.stationary()
    x0 = stationary.mean + torch.linalg.cholesky(stationary.covariance) @ torch.randn(
        2, generator=g, dtype=F64
    )
    path = process.sample(times, x0, generator=g).states

    perturbation = torch.tensor([[0.3, -0.4], [0.2, 0.25]], dtype=F64)
    a = (drift + perturbation).requires_grad_()
    b = torch.zeros(2, dtype=F64, requires_grad=True)
    raw = torch.zeros(3, dtype=F64, requires_grad=True)  # D = LLᵀ, L lower with log diagonal

    def diffusion_of(raw):
        ell = torch.stack(
            [torch.stack([raw[0].exp(), raw.new_zeros(())]), torch.stack([raw[1], raw[2].exp()])]
        )
        return ell @ ell.T

    optimiser = torch.optim.LBFGS(
        [a, b, raw], max_iter=300, tolerance_grad=1e-10, tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure():
        optimiser.zero_grad()
        loss = -ou_log_prob(a, b, diffusion_of(raw), times, path) / n
        loss.backward()
        return loss

    optimiser.step(closure)
    fitted = -float(closure().detach()) * n  # closure() also leaves the final gradients
    truth = float(process.log_prob(times, path))
    assert fitted >= truth  # the maximum is at least the true parameters' likelihood
    assert max(float(p.grad.abs().max()) for p in (a, b, raw)) < 1e-5  # converged
    # asymptotic standard errors over the observed time T = n·dt (continuous observation):
    # Cov(Â_ij, Â_kl) = D_ik (Σ⁻¹)_jl / T, Cov(b̂) = A⁻¹ D A⁻ᵀ / T, Var(D̂_ij) = (D_ii D_jj + D_ij²)/n
    horizon = n * dt
    precision = torch.linalg.inv(stationary.covariance)
    se_a = (
        torch.diagonal(diffusion)[:, None] * torch.diagonal(precision)[None, :] / horizon
    ).sqrt()
    inv_a = torch.linalg.inv(drift)
    se_b = (torch.diagonal(inv_a @ diffusion @ inv_a.T) / horizon).sqrt()
    var = torch.diagonal(diffusion)
    se_d = ((var[:, None] * var[None, :] + diffusion.square()) / n).sqrt()
    with torch.no_grad():
        assert bool(((a - drift).abs() <= 4 * se_a).all()), (a, se_a)
        assert bool(((b - mean).abs() <= 4 * se_b).all()), (b, se_b)
        assert bool(((diffusion_of(raw) - diffusion).abs() <= 4 * se_d).all())
        # and the start was far outside those bounds: the fit moved A, it did not start there
        assert float((perturbation.abs() / se_a).min()) > 4


# -- bad input --------------------------------------------------------------------------------

EYE2 = torch.eye(2, dtype=F64)
ZERO2 = torch.zeros(2, dtype=F64)
NAN2 = torch.tensor([[1.0, float("nan")], [0.0, 1.0]], dtype=F64)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"drift": torch.tensor([[1.0, 0.0], [0.0, -0.1]], dtype=F64)}, ValueError, "drift"),
        ({"drift": torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=F64)}, ValueError, "drift"),
        ({"drift": torch.zeros(2, 2, dtype=F64)}, ValueError, "drift"),
        ({"drift": NAN2}, ValueError, "drift"),
        ({"drift": torch.ones(2, 3, dtype=F64)}, ValueError, "drift"),
        ({"drift": [[1.0, 0.0], [0.0, 1.0]]}, TypeError, "drift"),
        ({"drift": torch.eye(2, dtype=torch.int64)}, TypeError, "drift"),
        (
            {"diffusion": torch.tensor([[1.0, 0.0], [0.0, -0.5]], dtype=F64)},
            ValueError,
            "diffusion",
        ),
        ({"diffusion": torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=F64)}, ValueError, "diffusion"),
        ({"diffusion": NAN2}, ValueError, "diffusion"),
        ({"diffusion": torch.eye(3, dtype=F64)}, ValueError, "diffusion"),
        ({"diffusion": EYE2.float()}, ValueError, "diffusion"),
        ({"mean": torch.tensor([0.0, float("nan")], dtype=F64)}, ValueError, "mean"),
        ({"mean": torch.zeros(3, dtype=F64)}, ValueError, "mean"),
        ({"mean": torch.zeros(2)}, ValueError, "mean"),
        ({"mean": [0.0, 0.0]}, TypeError, "mean"),
        ({"drift": EYE2.expand(3, 2, 2), "mean": torch.zeros(4, 2, dtype=F64)}, ValueError, "mean"),
    ],
)
def test_bad_process_arguments_raise_naming_the_argument(kwargs, error, name):
    arguments = {"drift": EYE2, "mean": ZERO2, "diffusion": EYE2, **kwargs}
    with pytest.raises(error, match=name):
        OUProcess(**arguments)


def test_bad_times_and_states_raise_naming_the_argument():
    process = OUProcess(drift=EYE2 + 0.5, mean=ZERO2, diffusion=EYE2)
    grid = torch.linspace(0.0, 1.0, 5, dtype=F64)
    x0 = torch.zeros(2, dtype=F64)
    for dt in (-0.1, float("nan"), torch.tensor([0.1, -0.1]), torch.ones(2, 2)):
        with pytest.raises(ValueError, match="dt"):
            process.transition(dt)
    for times in (
        torch.tensor([0.0, 0.5, 0.5, 1.0], dtype=F64),
        torch.tensor([0.0, 1.0, 0.5], dtype=F64),
        torch.tensor([0.0, float("nan")], dtype=F64),
        torch.zeros(2, 3, dtype=F64),
        torch.zeros(0, dtype=F64),
    ):
        with pytest.raises(ValueError, match="times"):
            process.sample(times, x0)
        with pytest.raises(ValueError, match="times"):
            process.log_prob(times, torch.zeros(len(times), 2, dtype=F64))
    with pytest.raises(TypeError, match="times"):
        process.sample([0.0, 1.0], x0)
    for bad in (torch.zeros(3, dtype=F64), torch.zeros(2), torch.tensor([0.0, float("inf")])):
        with pytest.raises(ValueError, match="x0"):
            process.sample(grid, bad)
        with pytest.raises(ValueError, match="x0"):
            process.conditional(bad, 1.0)
    with pytest.raises(TypeError, match="x0"):
        process.sample(grid, [0.0, 0.0])
    for path in (torch.zeros(4, 2, dtype=F64), torch.zeros(5, 3, dtype=F64), torch.zeros(5)):
        with pytest.raises(ValueError, match="path"):
            process.log_prob(grid, path)


def test_the_grid_driver_needs_a_stepper_with_step_to():
    energy = QuadraticEnergy(EYE2, ZERO2)
    stepper = EulerMaruyama(energy, Langevin(0.01))
    grid = torch.linspace(0.0, 1.0, 5, dtype=F64)
    with pytest.raises(TypeError, match="stepper"):
        integrate(stepper, torch.zeros(3, 2, dtype=F64), times=grid)
    process = OUProcess(drift=EYE2, mean=ZERO2, diffusion=EYE2)
    x0 = torch.zeros(2, dtype=F64)
    with pytest.raises(ValueError, match="times"):
        integrate(ExactOU(process, None), x0, times=grid, steps=4)
    with pytest.raises(ValueError, match="times"):
        integrate(ExactOU(process, None), x0, times=grid.flip(0))
    with pytest.raises(TypeError, match="steps"):
        integrate(ExactOU(process, 0.1), x0)
    with pytest.raises(ValueError, match="dt"):
        integrate(ExactOU(process, None), x0, steps=3)
    with pytest.raises(TypeError, match="process"):
        ExactOU("not a process", 0.1)
    # a fixed-step ExactOU on the step driver is the same exact law: its final moments
    path = integrate(
        ExactOU(process, 0.25), x0.expand(20_000, 2), steps=4,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    _assert_moments(path.final, process.conditional(x0, 1.0))


def test_a_grid_with_a_start_time_and_a_bad_block_are_refused():
    process = _process("normal")
    x0 = torch.zeros(process.dim, dtype=F64)
    grid = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    with pytest.raises(ValueError, match="t0"):
        integrate(ExactOU(process, None), x0, times=grid, t0=1.0)
    with pytest.raises(ValueError, match="block"):
        ExactOU(process, 0.1, block=0)
