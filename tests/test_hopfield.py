"""The modern Hopfield layer: its update against the formula and against its energy's gradient."""

import math

import pytest
import torch

from helpers import chi2_pvalue
from thermonn.dynamics import BlockGibbs, boltzmann, integrate
from thermonn.estimators import kuramoto_order
from thermonn.functional import hopfield_energy, hopfield_update
from thermonn.machines import hebbian, overlaps, synchronous_update
from thermonn.nn import ModernHopfield


def _data(n=20, d=16, batch=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    xi = torch.randn(batch, d, generator=g, dtype=torch.float64)
    return x, xi


def test_update_is_the_formula_and_the_energy_descent_step():
    x, xi = _data()
    beta = 0.7
    expected = torch.stack([x.T @ torch.softmax(beta * (x @ q), 0) for q in xi])
    torch.testing.assert_close(hopfield_update(xi, x, beta), expected)
    # ξ_new = ξ − ∇E(ξ): the concave-convex step (the quadratic term's gradient is ξ)
    leaf = xi.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(hopfield_energy(leaf, x, beta).sum(), leaf)
    torch.testing.assert_close(hopfield_update(xi, x, beta), xi - grad)


@pytest.mark.parametrize("beta", [0.1, 1.0, 8.0])
def test_the_energy_never_increases_along_updates(beta):
    x, xi = _data(seed=1)
    energies = [hopfield_energy(xi, x, beta)]
    for _ in range(15):
        xi = hopfield_update(xi, x, beta)
        energies.append(hopfield_energy(xi, x, beta))
    steps = torch.stack(energies)
    assert (steps[1:] <= steps[:-1] + 1e-12).all()
    assert (steps >= -1e-9).all()  # E ≥ 0 for this normalisation (Ramsauer et al., lemma A1)


def test_one_update_retrieves_a_stored_pattern_from_a_noisy_query():
    g = torch.Generator().manual_seed(2)
    d, n = 64, 200
    x = torch.randn(n, d, generator=g)
    x = x / x.norm(dim=1, keepdim=True)
    query = x[:10] + 0.3 * torch.randn(10, d, generator=g) / math.sqrt(d)
    out = hopfield_update(query, x, 16.0)
    cos = torch.nn.functional.cosine_similarity(out, x[:10], dim=-1)
    assert (cos > 0.99).all()


def test_module_etiquette_and_gradients():
    layer = ModernHopfield(8, 5, beta=2.0, steps=2, dtype=torch.float64)
    assert layer.patterns.dtype == torch.float64 and "num_patterns=5" in repr(layer)
    xi = torch.randn(3, 4, 8, dtype=torch.float64)
    out = layer(xi)
    twice = hopfield_update(hopfield_update(xi, layer.patterns, 2.0), layer.patterns, 2.0)
    torch.testing.assert_close(out, twice)
    out.sum().backward()
    assert layer.patterns.grad is not None and torch.isfinite(layer.patterns.grad).all()
    torch.testing.assert_close(layer.energy(xi), hopfield_energy(xi, layer.patterns, 2.0))
    with pytest.raises(ValueError, match="beta"):
        ModernHopfield(8, 5, beta=0.0)
    with pytest.raises(ValueError, match="same d"):
        layer(torch.zeros(2, 7, dtype=torch.float64))


def test_kuramoto_order_parameter():
    n = 12
    assert float(kuramoto_order(torch.full((n,), 0.4))) == pytest.approx(1.0)
    spaced = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    assert float(kuramoto_order(spaced)) == pytest.approx(0.0, abs=1e-12)
    random = torch.rand(2000, 400, generator=torch.Generator().manual_seed(3)) * 2 * math.pi
    # |mean of N unit phasors|² has expectation 1/N for independent uniform phases
    assert float(kuramoto_order(random).square().mean()) == pytest.approx(1 / 400, rel=0.1)


def _patterns(p, n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (p, n), generator=g).double() * 2 - 1


def _corrupt(x, fraction, seed):
    g = torch.Generator().manual_seed(seed)
    flip = torch.rand(x.shape, generator=g, dtype=x.dtype) < fraction
    return torch.where(flip, -x, x)


def test_hebbian_couplings_and_energy():

    xi = _patterns(3, 10, 4)
    model = hebbian(xi)
    j = sum(torch.outer(p, p) for p in xi) / 10
    j.fill_diagonal_(0)
    torch.testing.assert_close(model.couplings, j)
    s = _patterns(5, 10, 5)
    torch.testing.assert_close(model.energy(s), -0.5 * ((s @ j) * s).sum(-1))


def test_asynchronous_zero_temperature_updates_never_raise_the_energy():

    xi = _patterns(12, 60, 6)
    model = hebbian(xi)
    start = _corrupt(xi, 0.3, 7)
    out = integrate(BlockGibbs(model, 1e-9), start, steps=8, save_every=1,
                    generator=torch.Generator().manual_seed(8))  # fmt: skip
    energies = model.energy(out.states)  # (steps + 1, chains)
    assert (energies[1:] <= energies[:-1] + 1e-9).all()


def test_recall_below_and_above_the_capacity_limit():
    # α = P/N = 0.05 retrieves from 10% flipped bits; α = 0.3 (beyond ≈ 0.138) does not

    n = 200
    recalled = {}
    for alpha in (0.05, 0.3):
        xi = _patterns(int(alpha * n), n, 9)
        model = hebbian(xi)
        out = integrate(BlockGibbs(model, 1e-9), _corrupt(xi, 0.1, 10), steps=10,
                        generator=torch.Generator().manual_seed(11))  # fmt: skip
        recalled[alpha] = float(overlaps(out.final, xi).diagonal().mean())
    assert recalled[0.05] > 0.99 and recalled[0.3] < 0.8


def test_synchronous_update_keeps_stored_patterns_at_low_load():

    xi = _patterns(4, 100, 12)
    model = hebbian(xi)
    torch.testing.assert_close(synchronous_update(model, xi), xi)
    s = _corrupt(xi, 0.1, 13)
    expected = torch.where(s @ model.couplings == 0, s, torch.sign(s @ model.couplings))
    torch.testing.assert_close(synchronous_update(model, s), expected)
    with pytest.raises(ValueError, match="-1 or \\+1"):
        hebbian(torch.zeros(2, 5))


def test_the_network_at_temperature_samples_its_boltzmann_law():
    g = torch.Generator().manual_seed(11)
    patterns = 2.0 * torch.randint(0, 2, (2, 8), generator=g).double() - 1.0
    model, kT = hebbian(patterns), 0.5
    _, p = boltzmann(model, kT)
    out = integrate(
        BlockGibbs(model, kT), torch.ones(20000, 8, dtype=torch.float64), steps=60, generator=g
    )
    codes = ((out.final > 0).long() << torch.arange(8)).sum(-1)
    assert chi2_pvalue(codes, p) > 1e-3
