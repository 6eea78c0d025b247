"""The free-energy gradient rule: one step is −η(∂U/∂w − T ∂S/∂w) by hand, and descent on
F = U − T S finds the Gibbs distribution and the Gaussian width the closed forms give."""

from __future__ import annotations

import math

import pytest
import torch

from thermonn.optim import FreeEnergyGradient


def test_one_step_is_the_hand_formula() -> None:
    w = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
    k, t, lr = 2.0, 0.5, 0.1
    opt = FreeEnergyGradient([w], lr=lr, temperature=t)
    before = w.detach().clone()
    f = opt.step(lambda: (0.5 * k * w.square().sum(), w.abs().log().sum()))
    expected = before - lr * (k * before - t / before)
    torch.testing.assert_close(w.detach(), expected)
    assert float(f) == pytest.approx(
        float(0.5 * k * before.square().sum() - t * before.abs().log().sum())
    )


def test_descent_finds_the_gibbs_distribution() -> None:
    levels = torch.tensor([0.0, 0.5, 1.0, 3.0], dtype=torch.float64)
    logits = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    t = 0.7
    opt = FreeEnergyGradient([logits], lr=0.5, temperature=t)

    def closure() -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.softmax(logits, 0)
        return (p * levels).sum(), -(p * p.log()).sum()

    for _ in range(3000):
        f = opt.step(closure)
    gibbs = torch.softmax(-levels / t, 0)
    torch.testing.assert_close(torch.softmax(logits, 0).detach(), gibbs, atol=1e-6, rtol=1e-5)
    assert float(f) == pytest.approx(-t * math.log(float(torch.exp(-levels / t).sum())), abs=1e-9)


def test_groups_keep_their_own_temperatures() -> None:
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    k = 1.0
    opt = FreeEnergyGradient(
        [{"params": [a], "temperature": 0.25}, {"params": [b], "temperature": 4.0}],
        lr=0.05,
        temperature=1.0,
    )
    for _ in range(2000):
        opt.step(lambda: (0.5 * k * (a**2 + b**2), a.abs().log() + b.abs().log()))
    assert float(a.detach()) == pytest.approx(math.sqrt(0.25 / k), rel=1e-6)  # w*² = T/k
    assert float(b.detach()) == pytest.approx(math.sqrt(4.0 / k), rel=1e-6)
    for g in opt.param_groups:  # a schedule may cool a group between steps
        g["temperature"] = 0.0
    opt.step(lambda: (0.5 * k * (a**2 + b**2), a.abs().log() + b.abs().log()))
    assert float(a.detach()) == pytest.approx(0.5 * (1 - 0.05 * k), rel=1e-9)


def test_frozen_parameters_and_constant_terms_in_the_per_group_path() -> None:
    a = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    frozen = torch.tensor(2.0, dtype=torch.float64, requires_grad=False)
    opt = FreeEnergyGradient(
        [{"params": [a, frozen], "temperature": 0.5}, {"params": [], "temperature": 2.0}],
        lr=0.1,
        temperature=1.0,
    )
    constant = torch.tensor(3.0, dtype=torch.float64)  # S independent of every parameter
    opt.step(lambda: (0.5 * a**2 + frozen, constant))
    assert float(a.detach()) == pytest.approx(1.0 - 0.1 * 1.0) and float(frozen) == 2.0


def test_bad_input_names_the_argument() -> None:
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="lr"):
        FreeEnergyGradient([w], lr=0.0, temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        FreeEnergyGradient([w], lr=0.1, temperature=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        FreeEnergyGradient([{"params": [w], "temperature": -3.0}], lr=0.1, temperature=1.0)
    with pytest.raises(ValueError, match="lr"):
        FreeEnergyGradient([{"params": [w], "lr": -3.0}], lr=0.1, temperature=1.0)
    opt = FreeEnergyGradient([w], lr=0.1, temperature=1.0)
    opt.param_groups[0]["temperature"] = -1.0  # a schedule gone wrong is refused at the step
    with pytest.raises(ValueError, match="temperature"):
        opt.step(lambda: (w.sum(), w.sum()))
    opt.param_groups[0]["temperature"] = 1.0
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="closure"):
        opt.step(lambda: w.sum())  # type: ignore[arg-type,return-value]
