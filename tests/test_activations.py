"""Thermal activations against their formulas, gradchecks, temperature clamps and schedules."""

import math

import pytest
import torch
from scipy import integrate as quad

from thermonn.functional import activations as A
from thermonn.nn import (
    Boltzmann,
    FermiDirac,
    MaxwellBoltzmann,
    ThermalReLU,
    temperature_penalty,
)
from thermonn.schedules import ExponentialCooling, TemperatureScheduler

X = torch.linspace(-3, 3, 13, dtype=torch.float64)


def test_each_activation_is_its_formula():
    x = torch.tensor([[0.0, 1.0, 3.0], [2.0, -1.0, 0.5]], dtype=torch.float64)
    b = A.boltzmann(x, 0.5, dim=-1)
    z = torch.exp(-x / 0.5)
    torch.testing.assert_close(b, z / z.sum(-1, keepdim=True))
    torch.testing.assert_close(A.boltzmann(x, 2.0, dim=0), torch.softmax(-x / 2.0, 0))
    torch.testing.assert_close(A.fermi_dirac(X, 0.3, 0.7), 1 / (1 + torch.exp((X - 0.3) / 0.7)))
    torch.testing.assert_close(
        A.thermal_relu(X, 1.2), torch.where(X > 1.2, X - 1.2, torch.zeros_like(X))
    )
    t = 0.8
    expected = math.sqrt(2 / (math.pi * t**3)) * X**2 * torch.exp(-(X**2) / (2 * t))
    torch.testing.assert_close(A.maxwell_boltzmann(X, t), expected)


def test_limits_and_normalisation():
    x = torch.tensor([0.3, 0.1, 0.7], dtype=torch.float64)
    assert int(A.boltzmann(x, 1e-4).argmax()) == 1  # kT → 0: all mass on the lowest energy
    torch.testing.assert_close(
        A.boltzmann(x, 1e6), torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-6, rtol=0
    )
    assert float(A.fermi_dirac(torch.tensor(0.3), 0.3, 0.5)) == pytest.approx(
        0.5
    )  # half filled at μ
    # Maxwell–Boltzmann integrates to 1 over [0, ∞) and has mean √(8kT/π)
    for kT in (0.5, 2.0):
        f = lambda v, kT=kT: float(A.maxwell_boltzmann(torch.tensor(v, dtype=torch.float64), kT))  # noqa: E731
        assert quad.quad(f, 0, math.inf)[0] == pytest.approx(1.0, rel=1e-8)
        assert quad.quad(lambda v, f=f: v * f(v), 0, math.inf)[0] == pytest.approx(
            math.sqrt(8 * kT / math.pi), rel=1e-8
        )


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, t: A.boltzmann(x, t),
        lambda x, t: A.fermi_dirac(x, 0.2, t),
        lambda x, t: A.thermal_relu(x, t),
        lambda x, t: A.maxwell_boltzmann(x, t),
    ],
)
def test_gradients_in_input_and_temperature(fn):
    x = (torch.randn(4, 5, dtype=torch.float64) + 0.01).requires_grad_(True)
    t = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x, t))


def test_modules_learn_their_temperature_and_stay_in_the_clamp():
    act = FermiDirac(
        mu=0.0, temperature=1.0, learnable=True, min_temperature=0.5, max_temperature=2.0
    )
    target = torch.sigmoid(-X / 0.25)  # wants kT = 0.25, below the clamp
    opt = torch.optim.Adam(act.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        (act(X.float()) - target.float()).square().mean().backward()
        opt.step()
    assert float(act.temperature.detach()) == pytest.approx(0.5)  # held at the clamp
    relu = ThermalReLU(temperature=0.5)
    assert not list(relu.parameters()) and "temperature" in repr(relu)
    softmax = Boltzmann(dim=0, temperature=2.0)
    torch.testing.assert_close(softmax(X), torch.softmax(-X / 2.0, 0))


def test_a_scheduler_drives_fixed_temperatures_like_an_lr_scheduler():
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 3),
        ThermalReLU(temperature=2.0),
        MaxwellBoltzmann(temperature=2.0),
        FermiDirac(learnable=True),
    )
    schedule = ExponentialCooling(2.0, 0.2, 10)
    scheduler = TemperatureScheduler(model, schedule)
    temps = [scheduler.get_last_temperature()]
    for _ in range(10):
        scheduler.step()
        temps.append(scheduler.get_last_temperature())
    assert temps == pytest.approx([schedule(t) for t in range(11)], rel=1e-6)
    assert float(model[2].temperature) == pytest.approx(0.2, rel=1e-6)
    assert float(model[3].temperature.detach()) == pytest.approx(1.0)  # learnable: left alone
    state = scheduler.state_dict()
    again = TemperatureScheduler(model, schedule)
    again.load_state_dict(state)
    assert again.get_last_temperature() == pytest.approx(0.2, rel=1e-6)


def test_temperature_penalty_is_the_sum_of_distances():
    model = torch.nn.Sequential(
        ThermalReLU(temperature=1.0, learnable=True), Boltzmann(temperature=3.0)
    )
    penalty = temperature_penalty(model, target=2.0, weight=0.1)
    assert float(penalty.detach()) == pytest.approx(0.1 * (1.0 + 1.0))
    penalty.backward()
    assert float(model[0].log_temperature.grad) < 0  # raising kT towards the target lowers it


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="temperature"):
        ThermalReLU(temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        ThermalReLU(temperature=5.0, max_temperature=2.0)
    with pytest.raises(ValueError, match="max_temperature"):
        ThermalReLU(min_temperature=2.0, max_temperature=1.0)
    with pytest.raises(ValueError, match="temperature"):
        ThermalReLU().set_temperature(-1.0)
    with pytest.raises(ValueError, match="module"):
        TemperatureScheduler(torch.nn.Linear(2, 2), lambda t: 1.0)
    with pytest.raises(TypeError, match="schedule"):
        TemperatureScheduler(ThermalReLU(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model"):
        temperature_penalty(torch.nn.Linear(2, 2), 1.0)
