"""Consistency checks pass where the law holds and fail on deliberately broken systems."""

import math

import pytest
import torch

from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate
from thermonn.estimators import check_equipartition, check_jarzynski, protocol_work

pytestmark = pytest.mark.usefixtures("one_thread")


def _well(stiffness, centre=0.0, n=2):
    return QuadraticEnergy(
        torch.diag(torch.tensor(stiffness, dtype=torch.float64).expand(n)),
        torch.full((n,), centre, dtype=torch.float64),
    )


def _equilibrium_samples(kT_run, chains=4000, seed=0):
    well = QuadraticEnergy(
        torch.tensor([[1.0, 0.3], [0.3, 2.0]], dtype=torch.float64),
        torch.zeros(2, dtype=torch.float64),
    )
    out = integrate(
        EulerMaruyama(well, Langevin(0.005, kT=kT_run)),
        torch.zeros(chains, 2, dtype=torch.float64),
        steps=1500,
        generator=torch.Generator().manual_seed(seed),
    )
    return well, out.final


def test_equipartition_holds_in_equilibrium_and_fails_with_the_wrong_noise():
    well, x = _equilibrium_samples(1.0)
    good = check_equipartition(x, well, 1.0, slack=0.02)  # slack: Euler–Maruyama's O(dt) bias
    assert good.passed, str(good)
    # the same check at the temperature the run did not have, and a run with a wrong noise amplitude
    assert not check_equipartition(x, well, 1.3, slack=0.02).passed
    _, hot = _equilibrium_samples(1.3, seed=1)
    bad = check_equipartition(hot, well, 1.0, slack=0.02)
    assert not bad.passed and "FAIL" in str(bad)


def _dragged_works(kT_run, protocol, chains=3000, seed=2, t_final=1.0, dt=2e-3):
    energy_at = protocol
    g = torch.Generator().manual_seed(seed)
    k0 = energy_at(0.0)
    x0 = (
        torch.randn(chains, 1, generator=g, dtype=torch.float64)
        * torch.sqrt(1.0 / torch.diag(k0.precision))[None]
        + k0.mean
    )
    steps = round(t_final / dt)
    path = integrate(
        EulerMaruyama(energy_at, Langevin(dt, kT=kT_run)),
        x0,
        steps=steps,
        save_every=1,
        generator=g,
    )
    return protocol_work(path.states, path.times, energy_at)


def test_jarzynski_recovers_the_exact_free_energy_of_a_squeezed_trap():
    # k: 1 → 4 linearly in t ∈ [0, 1]: ΔF = ½ kT ln(k₁/k₀) = ln 2 at kT = 1
    squeeze = lambda t: _well(1.0 + 3.0 * min(t, 1.0), n=1)  # noqa: E731
    work = _dragged_works(1.0, squeeze)
    result = check_jarzynski(work, 1.0, 0.5 * math.log(4.0), slack=0.02)
    assert result.passed, str(result)
    assert float(work.mean()) > 0.5 * math.log(4.0)  # the second law: ⟨W⟩ ≥ ΔF
    # a dragged trap has ΔF = 0 although work is dissipated
    drag = lambda t: _well(2.0, centre=1.5 * min(t, 1.0), n=1)  # noqa: E731
    dragged = _dragged_works(1.0, drag, seed=3)
    assert check_jarzynski(dragged, 1.0, 0.0, slack=0.02).passed
    assert float(dragged.mean()) > 0.1


def test_jarzynski_fails_with_the_wrong_noise_amplitude():
    squeeze = lambda t: _well(1.0 + 3.0 * min(t, 1.0), n=1)  # noqa: E731
    work = _dragged_works(2.0, squeeze, seed=4)  # equilibrium start at kT = 1, bath at kT = 2
    assert not check_jarzynski(work, 1.0, 0.5 * math.log(4.0), slack=0.02).passed


class _Swirl:
    """A force −∇V plus a rotation: not the gradient of any energy."""

    def __init__(self, energy, strength):
        self.energy, self.strength = energy, strength

    def __call__(self, x):
        rotation = torch.stack([-x[..., 1], x[..., 0]], -1)
        return self.energy.force(x) + self.strength * rotation


def test_the_first_law_holds_for_a_conservative_force_and_fails_for_a_swirl():
    from thermonn.dynamics import Energy
    from thermonn.estimators import check_first_law

    drag = lambda t: _well(1.5, centre=min(t, 1.0), n=2)  # noqa: E731  a trap dragged diagonally
    g = torch.Generator().manual_seed(5)
    x0 = torch.randn(500, 2, generator=g, dtype=torch.float64) / 1.5**0.5
    honest = integrate(
        EulerMaruyama(drag, Langevin(1e-3, kT=1.0)), x0, steps=1000, save_every=1, generator=g
    )
    good = check_first_law(honest.states, honest.times, drag, slack=0.01)
    assert good.passed, str(good)

    class Swirled(Energy):  # the dynamics feel the swirl; the books are kept in V
        def __init__(self, t):
            self.base = drag(t)

        def energy(self, x):
            return self.base.energy(x)

        def force(self, x):
            return _Swirl(self.base, 1.0)(x)

    swirled = integrate(
        EulerMaruyama(Swirled, Langevin(1e-3, kT=1.0)), x0, steps=1000, save_every=1, generator=g
    )
    bad = check_first_law(
        swirled.states, swirled.times, drag, lambda t: _Swirl(drag(t), 1.0), slack=0.01
    )
    assert not bad.passed, str(bad)
    assert abs(bad.measured) > 3 * bad.tolerance  # the swirl's work is heat no energy accounts for
    assert abs(good.measured) < 0.2 * bad.tolerance


def test_protocol_work_of_an_instantaneous_quench_is_the_energy_jump():
    # one step: W = V_1(x_0) − V_0(x_0) exactly
    energy_at = lambda t: _well(1.0 if t < 0.5 else 3.0, n=1)  # noqa: E731
    x = torch.tensor([[[0.5]], [[0.7]]], dtype=torch.float64)  # (2 records, 1 chain, 1 dof)
    w = protocol_work(x, torch.tensor([0.0, 1.0]), energy_at)
    assert float(w) == pytest.approx(0.5 * 3.0 * 0.25 - 0.5 * 1.0 * 0.25)


def test_bad_input_names_the_argument():
    well = _well(1.0)
    with pytest.raises(ValueError, match="samples"):
        check_equipartition(torch.zeros(1, 2, dtype=torch.float64), well, 1.0)
    with pytest.raises(ValueError, match="kT"):
        check_equipartition(torch.zeros(5, 2, dtype=torch.float64), well, 0.0)
    with pytest.raises(ValueError, match="work"):
        check_jarzynski(torch.zeros(1), 1.0, 0.0)
    with pytest.raises(ValueError, match="trajectory"):
        protocol_work(torch.zeros(3, 2), torch.zeros(3), lambda t: well)


def test_centred_equipartition_is_quieter_for_a_displaced_well_and_blind_to_a_missing_force():
    # samples of ½k(x − m)² at kT: the plain virial x k(x − m) has std ≈ m √(k kT), the centred
    # (x − x̄) k(x − m) has std √2 kT
    k, m, n = 4.0, 20.0, 4000
    g = torch.Generator().manual_seed(7)
    displaced = _well(k, centre=m, n=1)
    x = m + torch.randn(n, 1, generator=g, dtype=torch.float64) / k**0.5
    plain = check_equipartition(x, displaced, 1.0)
    centred = check_equipartition(x, displaced, 1.0, centred=True)
    assert plain.passed and centred.passed
    assert plain.error == pytest.approx(m * k**0.5 / n**0.5, rel=0.05)
    assert centred.error == pytest.approx(2**0.5 / n**0.5, rel=0.1)
    assert not check_equipartition(1.2 * (x - m) + m, displaced, 1.0, centred=True).passed  # hot
    # a constant force 0.5 the books do not hold shifts the mean by 0.5/k: ⟨∂V/∂x⟩ = −0.5
    pushed = x + 0.5 / k
    assert not check_equipartition(pushed, displaced, 1.0).passed
    assert check_equipartition(pushed, displaced, 1.0, centred=True).passed


class _DoubleWell:
    """V = (x² − 1)²: quartic, so the midpoint heat is off by V‴Δx³/24 per step."""

    @staticmethod
    def energy(x):
        return (x.square() - 1).square().sum(-1)

    @staticmethod
    def force(x):
        return -4 * x * (x.square() - 1)


def test_simpson_heat_is_exact_for_a_quartic_and_the_midpoint_rule_is_first_order():
    from thermonn.dynamics import Energy
    from thermonn.estimators import check_first_law, cumulative_work, stochastic_heat

    class DoubleWell(Energy):
        energy = staticmethod(_DoubleWell.energy)
        force = staticmethod(_DoubleWell.force)

    well = DoubleWell()
    residuals = []
    for dt in (0.01, 0.005):
        # from the barrier top, out of equilibrium: in equilibrium the O(Δt) term of the midpoint
        # error, Σ x̄Δx³ ≈ 6(⟨xF⟩ + kT)Δt per unit time, cancels by equipartition
        g = torch.Generator().manual_seed(8)
        x0 = torch.zeros(2000, 1, dtype=torch.float64)
        path = integrate(
            EulerMaruyama(well, Langevin(dt)), x0, steps=round(0.5 / dt), save_every=1, generator=g
        )
        delta_u = well.energy(path.states[-1]) - well.energy(path.states[0])
        simpson = stochastic_heat(path.states, path.times, lambda t: well)
        torch.testing.assert_close(simpson, delta_u, atol=1e-11, rtol=0)  # W = 0: ΔU = Q exactly
        assert check_first_law(path.states, path.times, lambda t: well).passed
        midpoint = check_first_law(path.states, path.times, lambda t: well, rule="midpoint")
        residuals.append(midpoint.measured)
        assert not midpoint.passed
        assert float(cumulative_work(path.states, path.times, lambda t: well).abs().max()) == 0.0
    assert residuals[0] / residuals[1] == pytest.approx(2.0, rel=0.15)  # O(Δt)
    with pytest.raises(ValueError, match="rule"):
        stochastic_heat(path.states, path.times, lambda t: well, rule="trapezoid")


def test_cumulative_work_ends_at_the_protocol_work():
    from thermonn.estimators import cumulative_work

    energy_at = lambda t: _well(1.0 + t, n=1)  # noqa: E731
    g = torch.Generator().manual_seed(9)
    path = integrate(
        EulerMaruyama(energy_at, Langevin(0.01)),
        torch.randn(50, 1, generator=g, dtype=torch.float64),
        steps=100,
        save_every=1,
        generator=g,
    )
    running = cumulative_work(path.states, path.times, energy_at)
    assert running.shape == (101, 50) and float(running[0].abs().max()) == 0.0
    torch.testing.assert_close(running[-1], protocol_work(path.states, path.times, energy_at))
    # dW = ½ x² dk with dk/dt = 1: the increments are the energy's change at fixed x
    torch.testing.assert_close(running.diff(dim=0), 0.5 * 0.01 * path.states[:-1, :, 0] ** 2)
