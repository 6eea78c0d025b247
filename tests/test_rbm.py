"""RBMs against brute force: partition functions, sampled laws, AIS brackets, CD gradients."""

import itertools
import math

import pytest
import torch

from helpers import chi2_pvalue
from thermonn.dynamics import boltzmann, integrate
from thermonn.estimators import (
    PartitionEstimate,
    ais,
    annealing_schedule,
    likelihood_bracket,
    reverse_ais,
)
from thermonn.machines import RBM, GaussianUnits, RBMEnergy, RBMGibbs
from thermonn.optim import ContrastiveDivergence


def _energy(n_v, n_h, scale=1.0, seed=0, units="bernoulli"):
    g = torch.Generator().manual_seed(seed)
    model = RBM(n_v, n_h, units, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(scale * torch.randn(n_v, n_h, generator=g, dtype=torch.float64))
        model.visible_bias.copy_(0.5 * torch.randn(n_v, generator=g, dtype=torch.float64))
        model.hidden_bias.copy_(0.5 * torch.randn(n_h, generator=g, dtype=torch.float64))
    return RBMEnergy(
        model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach(), model.units
    )


def _joint_log_z(e: RBMEnergy) -> float:
    """log Σ_{v,h} exp(−E(v, h)) over every joint configuration."""
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=e.n_visible)), dtype=torch.float64)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=e.n_hidden)), dtype=torch.float64)
    joint = e.joint_energy(v[:, None, :], h[None, :, :])
    return float(torch.logsumexp(-joint.flatten(), 0))


@pytest.mark.parametrize(("n_v", "n_h"), [(5, 7), (7, 5)])
def test_log_partition_matches_the_joint_sum_enumerating_either_layer(n_v, n_h):
    e = _energy(n_v, n_h)
    assert float(e.log_partition()) == pytest.approx(_joint_log_z(e), abs=1e-10)
    # the free energy is the hidden layer summed out
    v = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_v)), dtype=torch.float64)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_h)), dtype=torch.float64)
    summed = -torch.logsumexp(-e.joint_energy(v[:, None, :], h[None, :, :]), 1)
    torch.testing.assert_close(e.energy(v), summed)


def test_gaussian_log_partition_matches_quadrature():
    e = _energy(1, 3, scale=0.8, units=GaussianUnits(sigma=0.7))
    grid = torch.linspace(-12, 12, 200001, dtype=torch.float64)[:, None]
    integrand = torch.exp(-e.energy(grid))
    log_z = math.log(float(torch.trapezoid(integrand, grid[:, 0])))
    assert float(e.log_partition()) == pytest.approx(log_z, abs=1e-8)


def test_gibbs_samples_follow_the_exact_visible_law():
    e = _energy(8, 4, scale=0.8, seed=3)
    states, p = boltzmann(e, 1.0)
    chains = 20000
    g = torch.Generator().manual_seed(1)
    x0 = (torch.rand(chains, 8, generator=g) < 0.5).double()
    out = integrate(RBMGibbs(e), x0, steps=40, generator=g)
    codes = (out.final.long() << torch.arange(8)).sum(-1)
    assert chi2_pvalue(codes, p) > 1e-3
    # the enumeration's order is the binary code of each state
    torch.testing.assert_close((states.long() << torch.arange(8)).sum(-1), torch.arange(256))


def test_gaussian_gibbs_matches_the_exact_moments():
    units = GaussianUnits(sigma=0.6)
    e = _energy(2, 3, scale=0.9, seed=4, units=units)
    # exact: p(v) = Σ_h p(h) N(b + σ W h, σ²)
    h = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3)), dtype=torch.float64)
    log_ph = h @ e.hidden_bias + units.log_normaliser(h @ e.weight.T, e.visible_bias)
    ph = torch.softmax(log_ph, 0)
    means = e.visible_mean(h)
    mean = ph @ means
    second = ph @ (means.square() + 0.36)
    g = torch.Generator().manual_seed(2)
    out = integrate(RBMGibbs(e), torch.zeros(40000, 2, dtype=torch.float64), steps=30, generator=g)
    v = out.final
    torch.testing.assert_close(v.mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(v.square().mean(0), second, atol=0.03, rtol=0)


def test_ais_brackets_the_exact_log_z_of_a_20_hidden_rbm():
    e = _energy(12, 20, scale=0.5, seed=5)
    exact = float(e.log_partition())
    path = e.annealing_path()
    betas = annealing_schedule(1000)
    g = torch.Generator().manual_seed(3)
    forward, _ = ais(path, betas, chains=200, generator=g)
    states, p = boltzmann(e, 1.0)
    samples = states[torch.multinomial(p, 200, replacement=True, generator=g)]
    reverse = reverse_ais(path, betas, samples, generator=g)
    assert abs(forward.log_z - exact) < 0.05
    assert abs(reverse.log_z - exact) < 0.05
    assert forward.log_z < exact + 3 * forward.log_z_std
    assert reverse.log_z > exact - 3 * reverse.log_z_std
    data = samples[:50]
    bracket = likelihood_bracket(-e.energy(data), forward, reverse)
    true_ll = float((-e.energy(data)).mean()) - exact
    assert bracket.lower - 0.05 < true_ll < bracket.upper + 0.05
    assert bracket.upper - bracket.lower < 0.1 and bracket.consistent
    # an inverted bracket (reverse log Z below forward beyond the noise) is flagged
    fake = lambda log_z, d: PartitionEstimate(log_z, 0.01, 100.0, torch.zeros(1), d)  # noqa: E731
    assert not likelihood_bracket(
        -e.energy(data), fake(10.0, "forward"), fake(9.0, "reverse")
    ).consistent


@pytest.mark.parametrize("kind", ["linear", "sigmoid", "rbm"])
def test_annealing_schedules_run_from_zero_to_one_increasing(kind):
    betas = annealing_schedule(1450, kind)
    assert len(betas) == 1451 and float(betas[0]) == 0.0 and float(betas[-1]) == 1.0
    assert bool((betas[1:] > betas[:-1]).all())
    if kind == "rbm":  # Salakhutdinov & Murray's pieces: 50 steps to 0.5, 400 to 0.9, 1000 to 1
        assert float(betas[50]) == pytest.approx(0.5) and float(betas[450]) == pytest.approx(0.9)


def test_ais_on_a_gaussian_rbm_matches_the_exact_log_z():
    e = _energy(6, 10, scale=0.3, seed=6, units=GaussianUnits(sigma=1.0))
    g = torch.Generator().manual_seed(4)
    forward, final = ais(e.annealing_path(), annealing_schedule(500), chains=200, generator=g)
    assert abs(forward.log_z - float(e.log_partition())) < 0.05
    assert final.shape == (200, 6)


def test_cd_loss_gradient_is_the_positive_minus_negative_statistics():
    model = RBM(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    v = (torch.rand(10, 6, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    cd = ContrastiveDivergence(model, k=3, generator=torch.Generator().manual_seed(2))
    cd.loss(v).backward()
    replay = ContrastiveDivergence(model, k=3, generator=torch.Generator().manual_seed(2))
    negatives = replay._negatives(v)
    with torch.no_grad():
        p_data = torch.sigmoid(v @ model.weight + model.hidden_bias)
        p_neg = torch.sigmoid(negatives @ model.weight + model.hidden_bias)
        grad_w = -(v.T @ p_data / 10 - negatives.T @ p_neg / 10)
    torch.testing.assert_close(model.weight.grad, grad_w)
    torch.testing.assert_close(model.visible_bias.grad, -(v.mean(0) - negatives.mean(0)))
    torch.testing.assert_close(model.hidden_bias.grad, -(p_data.mean(0) - p_neg.mean(0)))


@pytest.mark.parametrize("units", ["bernoulli", GaussianUnits(sigma=0.7)])
@pytest.mark.parametrize("persistent", [False, True])
def test_closed_form_backward_equals_autograd_of_the_surrogate(units, persistent):
    gaussian = not isinstance(units, str)
    model = RBM(6, 4, units, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    v = (
        torch.randn(10, 6, generator=g, dtype=torch.float64)
        if gaussian
        else (torch.rand(10, 6, generator=g) < 0.5).double()
    )
    twin = RBM(6, 4, units, dtype=torch.float64)
    twin.load_state_dict(model.state_dict())
    fast = ContrastiveDivergence(
        model, k=2, persistent=persistent, chains=7, generator=torch.Generator().manual_seed(2)
    )
    slow = ContrastiveDivergence(
        twin, k=2, persistent=persistent, chains=7, generator=torch.Generator().manual_seed(2)
    )
    for _ in range(2):  # twice: gradients accumulate, persistent chains advance alike
        value = fast.backward(v)
        surrogate = slow.loss(v)
        surrogate.backward()
        torch.testing.assert_close(value, surrogate.detach())
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad)


def test_centred_gradient_is_the_covariance_of_centred_statistics():
    model = RBM(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.weight.mul_(50.0)  # a model whose hidden units are not all at ½
    v = (torch.rand(12, 6, generator=torch.Generator().manual_seed(1)) < 0.4).double()
    cd = ContrastiveDivergence(
        model, k=2, centered=True, generator=torch.Generator().manual_seed(2)
    )
    cd.backward(v)
    replay = ContrastiveDivergence(model, k=2, generator=torch.Generator().manual_seed(2))
    neg = replay._negatives(v)
    with torch.no_grad():
        hd = torch.sigmoid(v @ model.weight + model.hidden_bias)
        hm = torch.sigmoid(neg @ model.weight + model.hidden_bias)
        mu, lam = v.mean(0), hd.mean(0)
        # ascent directions of the centred RBM, mapped back (Melchior et al. 2016)
        w = (v - mu).T @ (hd - lam) / 12 - (neg - mu).T @ (hm - lam) / len(neg)
        b = v.mean(0) - neg.mean(0) - w @ lam
        c = hd.mean(0) - hm.mean(0) - w.T @ mu
    torch.testing.assert_close(model.weight.grad, -w)
    torch.testing.assert_close(model.visible_bias.grad, -b)
    torch.testing.assert_close(model.hidden_bias.grad, -c)
    with pytest.raises(ValueError, match="Bernoulli"):
        ContrastiveDivergence(RBM(3, 2, "gaussian"), centered=True)


def test_free_energy_change_along_the_path_is_the_difference_of_free_energies():
    e = _energy(5, 3, seed=8)
    base = torch.linspace(-1, 1, 5, dtype=torch.float64)
    path = e.annealing_path(base)
    v = (torch.rand(7, 5, generator=torch.Generator().manual_seed(3)) < 0.5).double()
    terms = path.terms(v)
    # β = 1 is the model; β = 0 the independent units with bias b_A (hidden units summed: 2^n_h)
    f_base = -(v @ base) - 3 * math.log(2.0)
    torch.testing.assert_close(path.free_energy_change(terms, 0.0, 1.0), e.energy(v) - f_base)
    # additive along the path
    total = path.free_energy_change(terms, 0.0, 0.3) + path.free_energy_change(terms, 0.3, 1.0)
    torch.testing.assert_close(total, path.free_energy_change(terms, 0.0, 1.0))


@pytest.mark.parametrize(("persistent", "lr", "epochs"), [(False, 0.1, 60), (True, 0.02, 200)])
def test_training_beats_the_independent_unit_model_in_exact_likelihood(persistent, lr, epochs):
    g = torch.Generator().manual_seed(7)
    prototypes = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 1, 1, 1, 0, 1]])
    rows = prototypes[torch.randint(0, 2, (512,), generator=g)].double()
    flip = torch.rand(rows.shape, generator=g) < 0.05
    data = torch.where(flip, 1 - rows, rows)
    mean = data.mean(0).clamp(1e-3, 1 - 1e-3)
    independent = float((data * mean.log() + (1 - data) * (1 - mean).log()).sum(-1).mean())
    model = RBM(10, 4, dtype=torch.float64, generator=g)
    model.init_visible_bias(data)
    cd = ContrastiveDivergence(model, k=1, persistent=persistent, chains=64, generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    for _ in range(epochs):
        for batch in data[torch.randperm(512, generator=g)].split(32):
            opt.zero_grad()
            cd.loss(batch).backward()
            opt.step()
    with torch.no_grad():
        e = model.energy_model()
        ll = float((-e.energy(data)).mean() - e.log_partition())
    # the two-prototype law with 5% flips has entropy 10 H(0.05) + ln 2 ≈ 2.68 nats
    entropy = 10 * -(0.05 * math.log(0.05) + 0.95 * math.log(0.95)) + math.log(2)
    assert ll > independent + 2.0
    assert ll > -entropy - 0.3
    assert cd.reconstruction_error(data) < 0.1
    if persistent:
        assert cd.negatives is not None and cd.negatives.shape == (64, 10)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="units"):
        RBM(3, 2, "ternary")
    with pytest.raises(ValueError, match="biases"):
        RBMEnergy(torch.zeros(3, 2), torch.zeros(2), torch.zeros(2), GaussianUnits())
    with pytest.raises(ValueError, match="sigma"):
        GaussianUnits(sigma=0.0)
    with pytest.raises(ValueError, match="0 or 1"):
        RBM(3, 2).free_energy(torch.full((1, 3), 0.5))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        RBM(3, 2)(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="at most 24"):
        RBM(25, 30).energy_model().log_partition()
    with pytest.raises(ValueError, match="at most 24"):
        RBM(25, 2).energy_model().states()
    assert RBM(3, 2, "gaussian").energy_model().states() is None
    with pytest.raises(ValueError, match="betas"):
        ais(_energy(3, 2).annealing_path(), torch.tensor([0.0, 0.6, 0.5, 1.0]))
    with pytest.raises(ValueError, match="kind"):
        annealing_schedule(10, "cosine")
    with pytest.raises(ValueError, match="base_bias"):
        _energy(3, 2).annealing_path(torch.zeros(4))
    with pytest.raises(TypeError, match="RBM"):
        ContrastiveDivergence(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k"):
        ContrastiveDivergence(RBM(3, 2), k=0)
