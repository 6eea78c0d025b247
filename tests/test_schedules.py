"""Cooling schedules: their formulas, their validation, and their use by the engine."""

import itertools
import math

import pytest
import torch

from thermonn.dynamics import Metropolis, integrate
from thermonn.machines import IsingModel
from thermonn.schedules import ExponentialCooling, LinearCooling, PowerLawCooling


def test_formulas_and_end_points():
    exp = ExponentialCooling(4.0, 0.25, 100.0)
    assert (
        exp(0.0) == 4.0 and exp(100.0) == pytest.approx(0.25) and exp(500.0) == pytest.approx(0.25)
    )
    assert exp(50.0) == pytest.approx(1.0)  # the geometric mean half-way
    lin = LinearCooling(3.0, 1.0, 10.0)
    assert lin(5.0) == pytest.approx(2.0) and lin(20.0) == pytest.approx(1.0)
    power = PowerLawCooling(2.0, tau=5.0, power=2.0)
    assert power(5.0) == pytest.approx(0.5) and power(0.0) == 2.0
    ts = [0.0, 1.0, 7.0, 30.0, 99.0]
    for schedule in (exp, lin, power):
        values = [schedule(t) for t in ts]
        assert all(b <= a for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ExponentialCooling(1.0, 2.0, 10.0), "end"),
        (lambda: LinearCooling(1.0, 0.5, 0.0), "duration"),
        (lambda: ExponentialCooling(0.0, 0.0, 1.0), "start"),
        (lambda: PowerLawCooling(1.0, tau=-1.0), "tau"),
        (lambda: PowerLawCooling(1.0, tau=1.0, power=math.inf), "power"),
    ],
)
def test_schedules_that_cannot_cool_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_a_schedule_drives_an_annealing_run_to_the_ground_state():
    model = IsingModel.lattice((8, 8))
    out = integrate(
        Metropolis(model, ExponentialCooling(3.0, 0.05, 300.0)),
        torch.randint(0, 2, (32, 64), generator=torch.Generator().manual_seed(0)) * 2.0 - 1,
        steps=400,
        generator=torch.Generator().manual_seed(1),
    )
    e = model.energy(out.final) / 64
    # the ferromagnet's ground state is −2 per spin; slow cooling reaches it in most reads
    assert float(e.min()) == -2.0 and float((e == -2.0).double().mean()) > 0.5
    with pytest.raises(ValueError, match="t"):
        LinearCooling(1.0, 0.5, 1.0)(-1.0)
