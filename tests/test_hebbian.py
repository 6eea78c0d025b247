"""The thermal Hebbian rule: its fixed point C/λ and its stationary weight fluctuations."""

import pytest
import torch

from thermonn.optim import ThermalHebbian


def _activity(g, batch=1024):
    x = torch.randn(batch, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[1.0, 0.0, 0.5], [0.0, -2.0, 0.0]], dtype=torch.float64).T
    return x, y  # E[y xᵀ] = the mixing matrix (unit-variance inputs)


def test_noiseless_rule_converges_to_the_correlations_over_the_decay():
    g = torch.Generator().manual_seed(0)
    w = torch.zeros(2, 3, dtype=torch.float64)
    rule = ThermalHebbian(w, lr=0.05, decay=0.5, generator=g)
    for _ in range(4000):
        rule.step(*_activity(g))
    target = torch.tensor([[1.0, 0.0, 0.5], [0.0, -2.0, 0.0]], dtype=torch.float64) / 0.5
    torch.testing.assert_close(w, target, atol=0.08, rtol=0)


def test_weight_fluctuations_match_the_stationary_variance():
    lr, decay, kT = 0.01, 1.0, 0.2
    g = torch.Generator().manual_seed(1)
    weights = torch.zeros(200, 50, dtype=torch.float64)  # 10000 independent weights, no activity
    rule = ThermalHebbian(weights, lr=lr, decay=decay, kT=kT, generator=g)
    zeros_x, zeros_y = (
        torch.zeros(1, 50, dtype=torch.float64),
        torch.zeros(1, 200, dtype=torch.float64),
    )
    for _ in range(1500):
        rule.step(zeros_x, zeros_y)
    a = 1 - lr * decay
    expected = 2 * lr * kT * (1 - a**3000) / (1 - a**2)
    assert float(weights.var()) == pytest.approx(expected, rel=0.04)
    assert expected == pytest.approx(kT / decay, rel=0.01)  # → kT/λ as η → 0


def test_bad_input_names_the_argument():
    w = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="lr"):
        ThermalHebbian(w, lr=2.0, decay=1.0)
    with pytest.raises(ValueError, match="kT"):
        ThermalHebbian(w, kT=-1.0)
    with pytest.raises(ValueError, match="weight"):
        ThermalHebbian(torch.zeros(3))
    with pytest.raises(ValueError, match="x, y"):
        ThermalHebbian(w).step(torch.zeros(4, 2), torch.zeros(4, 2))
