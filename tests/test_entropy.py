"""Entropy families: phi = s', curvature bounds, custom entropies."""

import math

import pytest
import torch

import thermonn
from helpers import ALL_ENTROPIES, PRIMAL_ENTROPIES
from thermonn.functional import resolve_entropy


@pytest.mark.parametrize("name", ALL_ENTROPIES)
def test_phi_is_derivative_of_entropy(name):
    ent = resolve_entropy(name, features=None).double()
    if ent.coordinate == "dual":
        u = torch.linspace(-6, 4, 501, dtype=torch.float64)
        y = ent.link(u).requires_grad_(True)
        s = ent.entropy(y)
        phi = ent.phi_of_state(u)
    else:
        y = torch.linspace(-8, 8, 801, dtype=torch.float64, requires_grad=True)
        s = ent.entropy(y)
        phi = ent.phi(y)
    (ds,) = torch.autograd.grad(s.sum(), y)
    torch.testing.assert_close(ds, phi.detach(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", PRIMAL_ENTROPIES)
def test_curvature_bounds_hold_and_are_tight(name):
    ent = resolve_entropy(name, features=None).double()
    if isinstance(ent, thermonn.Gate):  # bounds are for the largest slope a_max
        with torch.no_grad():
            ent.alpha.fill_(30.0)
    y = torch.linspace(-10, 10, 200001, dtype=torch.float64, requires_grad=True)
    (dphi,) = torch.autograd.grad(ent.phi(y).sum(), y)
    m_minus, m_plus = ent.curvature_bounds()
    assert dphi.min().item() >= -m_minus - 1e-9
    assert dphi.max().item() <= m_plus + 1e-9
    # tight within 1%: the step-size bound is not needlessly conservative
    assert dphi.min().item() <= -0.99 * m_minus
    assert dphi.max().item() >= 0.99 * m_plus - 1e-7


def test_gate_slope_stays_below_a_max():
    g = thermonn.Gate(4, a_max=2.0)
    with torch.no_grad():
        g.alpha.copy_(torch.tensor([-50.0, 0.0, 5.0, 50.0]))
    assert (g.a > 0).all() and (g.a <= 2.0).all()


def test_custom_entropy_matches_builtin_logcosh():
    custom = thermonn.CustomEntropy(
        lambda y: -torch.tanh(y),
        lambda y: -torch.log(torch.cosh(y)),
        m_minus=1.0,
        m_plus=0.0,
    )
    x = torch.randn(5, 6)
    torch.manual_seed(1)
    a = thermonn.TEL(6, 7, entropy=custom)
    torch.manual_seed(1)
    b = thermonn.TEL(6, 7, entropy="logcosh")
    torch.testing.assert_close(a(x), b(x))
    assert custom.concave


def test_custom_entropy_without_s_integrates_phi():
    """s(y) = int_0^y phi by quadrature: for phi = -tanh that is -log cosh y."""
    custom = thermonn.CustomEntropy(lambda y: -torch.tanh(y), m_minus=1.0, m_plus=0.0)
    y = torch.linspace(-6, 6, 101, dtype=torch.float64)
    torch.testing.assert_close(custom.entropy(y), -torch.log(torch.cosh(y)), rtol=1e-7, atol=1e-7)
    layer = thermonn.TEL(4, 5, entropy=custom)
    layer(torch.randn(3, 4))
    assert torch.isfinite(layer.last_trace.free_energy).all()


def test_custom_entropy_rejects_wrong_bounds():
    with pytest.raises(ValueError, match=r"phi' in \[-m_minus, m_plus\]"):
        thermonn.CustomEntropy(
            lambda y: -torch.tanh(2 * y), lambda y: -0.5 * torch.log(torch.cosh(2 * y)),
            m_minus=1.0, m_plus=0.0,
        )  # fmt: skip


def test_custom_entropy_rejects_inconsistent_pair():
    with pytest.raises(ValueError, match="derivative of entropy"):
        thermonn.CustomEntropy(lambda y: -torch.tanh(y), lambda y: -(y**2), m_minus=1.0, m_plus=0.0)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"m_minus": -1.0, "m_plus": 0.0}, ValueError, "m_minus"),
        ({"m_minus": 1.0, "m_plus": math.inf}, ValueError, "m_plus"),
    ],
)
def test_custom_entropy_bad_bounds(kwargs, err, match):
    with pytest.raises(err, match=match):
        thermonn.CustomEntropy(
            lambda y: -torch.tanh(y), lambda y: -torch.log(torch.cosh(y)), **kwargs
        )


def test_unknown_entropy_lists_valid_names():
    with pytest.raises(ValueError, match=r"expected one of \['bernoulli', 'gate', 'logcosh'"):
        thermonn.TEL(3, 3, entropy="boltzmann")
    with pytest.raises(TypeError, match="entropy: expected a str"):
        thermonn.TEL(3, 3, entropy=3)
