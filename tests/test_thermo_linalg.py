"""Thermodynamic linear algebra on a simulated device against digital answers: solve, inv, expnegm
and logdet within their reported standard errors (which are honest, and shrink as 1/√samples),
the device cost formula, and the pieces it rests on — Euler–Maruyama's exact stationary law
with a noise factor (scipy's discrete Lyapunov solver) and the quadratic energy's field."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate
from thermonn.linalg import DeviceCost, DeviceModel, expnegm, inv, logdet, solve

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def _spd(d, seed, low=0.5, high=2.0):
    """A random symmetric positive-definite matrix with eigenvalues evenly in [low, high]."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=F64))
    a = q @ torch.diag(torch.linspace(low, high, d, dtype=F64)) @ q.T
    return 0.5 * (a + a.T)


def _vector(d, seed):
    return torch.randn(d, generator=torch.Generator().manual_seed(100 + seed), dtype=F64)


def _gen(k):
    return torch.Generator().manual_seed(k)


def _em_stationary(a, dt, noise_covariance):
    """Euler–Maruyama's exact stationary covariance for dx = −Ax dt + √2 L dW:
    Σ = (I − ΔtA) Σ (I − ΔtA)ᵀ + 2Δt LLᵀ (numpy)."""
    step = np.eye(len(a)) - dt * a.numpy()
    return scipy.linalg.solve_discrete_lyapunov(step, 2.0 * dt * noise_covariance.numpy())


# -- the estimates against torch.linalg ------------------------------------------------------


@pytest.mark.parametrize("d", [3, 5, 8])
def test_solve_agrees_with_torch_within_its_standard_error(d):
    a, b = _spd(d, d), _vector(d, d)
    result = solve(a, b, samples=400, interval=0.5, burn_in=10.0, chains=8, generator=_gen(d))
    exact = torch.linalg.solve(a, b)
    assert result.estimate.shape == result.stderr.shape == (d,)
    assert bool((result.stderr > 0).all())
    assert bool(((result.estimate - exact).abs() <= 4 * result.stderr).all())
    # the default step is 0.02 / λ_max rounded down to whole steps per readout interval
    lam = float(torch.linalg.eigvalsh(a).max())
    every = 0.5 / result.dt
    assert every == pytest.approx(round(every), abs=1e-9)
    target = 0.02 / lam
    assert 0.5 / (0.5 / target + 1) * (1 - 1e-9) <= result.dt <= target * (1 + 1e-9)


@pytest.mark.parametrize("d", [3, 5, 8])
def test_inv_agrees_with_torch_within_its_standard_error_and_documented_bias(d):
    a = _spd(d, 10 + d)
    result = inv(a, samples=400, interval=0.5, burn_in=10.0, chains=8, generator=_gen(d))
    exact = torch.linalg.inv(a)
    # the documented Euler–Maruyama law (A − ΔtA²/2)⁻¹, which is also the discrete Lyapunov one
    h = result.dt
    biased = torch.linalg.inv(a - h * a @ a / 2)
    torch.testing.assert_close(biased, torch.from_numpy(_em_stationary(a, h, torch.eye(d))))
    assert bool(((result.estimate - biased).abs() <= 4 * result.stderr).all())
    bias = (biased - exact).abs()
    assert float(bias.max()) <= 0.011 * float(exact.abs().max())  # "1% of the stiffest mode"
    assert bool(((result.estimate - exact).abs() <= 4 * result.stderr + bias).all())
    torch.testing.assert_close(result.estimate, result.estimate.mT, rtol=0, atol=1e-15)


@pytest.mark.parametrize("d", [3, 5, 8])
def test_expnegm_agrees_with_matrix_exp_within_its_standard_error(d):
    a = _spd(d, 20 + d)
    result = expnegm(a, samples=400, burn_in=10.0, chains=8, dt=0.01, generator=_gen(d))
    exact = torch.linalg.matrix_exp(-a)
    # Euler–Maruyama's exact lag-1 autocovariance with noise 2A: (I − ΔtA)^(1/Δt) Σ_Δt
    h = result.dt
    steps = round(1.0 / h)
    assert steps * h == pytest.approx(1.0)
    sigma = torch.from_numpy(_em_stationary(a, h, a))
    em = torch.linalg.matrix_power(torch.eye(d, dtype=F64) - h * a, steps) @ sigma
    assert bool(((result.estimate - em).abs() <= 4 * result.stderr).all())
    bias = (em - exact).abs()
    assert float(bias.max()) < 0.01
    assert bool(((result.estimate - exact).abs() <= 4 * result.stderr + bias).all())


@pytest.mark.parametrize("d", [3, 5, 8])
def test_logdet_agrees_with_torch_within_its_standard_error(d):
    a = _spd(d, 30 + d, low=0.5, high=3.0)
    result = logdet(a, chains=400, switch_time=5.0, dt=0.01, generator=_gen(d))
    exact = float(torch.logdet(a))
    assert result.estimate.shape == result.stderr.shape == ()
    assert 0 < float(result.stderr) < 0.2
    assert abs(float(result.estimate) - exact) <= 4 * float(result.stderr)


# -- the standard errors ---------------------------------------------------------------------


def test_solve_standard_errors_are_honest_across_seeds():
    a, b = _spd(3, 0), _vector(3, 0)
    exact = torch.linalg.solve(a, b)
    z = torch.stack(
        [
            (r.estimate - exact) / r.stderr
            for r in (
                solve(a, b, samples=200, interval=0.5, burn_in=5.0, chains=4, dt=0.05, generator=_gen(k))
                for k in range(20)
            )
        ]
    )  # fmt: skip
    assert 0.5 < float(z.std()) < 2.0
    assert abs(float(z.mean())) < 3 / math.sqrt(z.numel())  # no bias beyond its noise


def test_logdet_standard_errors_are_honest_across_seeds():
    a = _spd(3, 0)
    exact = float(torch.logdet(a))
    z = torch.tensor(
        [
            (float(r.estimate) - exact) / float(r.stderr)
            for r in (
                logdet(a, chains=200, switch_time=5.0, dt=0.02, generator=_gen(k))
                for k in range(20)
            )
        ]
    )
    assert 0.5 < float(z.std()) < 2.0


def test_solve_error_shrinks_as_one_over_root_samples():
    a, b = _spd(6, 1), _vector(6, 1)
    exact = torch.linalg.solve(a, b)
    sizes = [64, 256, 1024, 4096]
    rms = []
    for samples in sizes:
        errors = torch.stack(
            [
                solve(a, b, samples=samples, interval=0.5, burn_in=10.0, chains=4, dt=0.1,
                      generator=_gen(1000 * k + samples)).estimate - exact
                for k in range(6)
            ]
        )  # fmt: skip
        rms.append(float(errors.square().mean().sqrt()))
    slope = np.polyfit(np.log(sizes), np.log(rms), 1)[0]
    assert -0.65 < slope < -0.35, (slope, rms)


# -- the device cost -------------------------------------------------------------------------


def _energy(model, *, d, c, time, samples):
    """E = t·τ·(d·P_cell + c·P_coupling) + samples·d·E_ADC."""
    return (
        time * model.tau_seconds * (d * model.cell_watts + c * model.coupling_watts)
        + samples * d * model.adc_joules
    )


def test_device_model_cost_is_the_documented_formula():
    model = DeviceModel(tau_seconds=2e-6, cell_watts=3e-3, coupling_watts=7e-5, adc_joules=5e-12)
    cost = model.cost(dim=5, couplings=4, time=123.0, samples=77)
    assert cost.time == 123.0
    assert cost.seconds == pytest.approx(123.0 * 2e-6, rel=1e-14)
    assert cost.samples == 77
    expected = _energy(model, d=5, c=4, time=123.0, samples=77)
    assert cost.energy_joules == pytest.approx(expected, rel=1e-14)
    assert expected == pytest.approx(123.0 * 2e-6 * (5 * 3e-3 + 4 * 7e-5) + 77 * 5 * 5e-12)
    # linear in each constant
    double = DeviceModel(tau_seconds=2e-6, cell_watts=6e-3, coupling_watts=14e-5, adc_joules=1e-11)
    assert double.cost(dim=5, couplings=4, time=123.0, samples=77).energy_joules == pytest.approx(
        2 * cost.energy_joules, rel=1e-14
    )


def _tridiagonal(d):
    a = 2.0 * torch.eye(d, dtype=F64)
    idx = torch.arange(d - 1)
    a[idx, idx + 1] = a[idx + 1, idx] = -0.5
    return a


@pytest.mark.parametrize("name", ["solve", "inv", "expnegm"])
@pytest.mark.parametrize("chains", [1, 3])
def test_sampling_algorithms_report_the_documented_cost(name, chains):
    d, samples, burn_in = 5, 40, 2.5
    a = _tridiagonal(d)  # c = d − 1 couplings
    model = DeviceModel(tau_seconds=3e-6, cell_watts=2e-3, coupling_watts=4e-5, adc_joules=2e-11)
    common = dict(samples=samples, burn_in=burn_in, chains=chains, blocks=2, dt=0.05)
    common.update(hardware=model, generator=_gen(0))
    if name == "solve":
        result, interval = solve(a, torch.ones(d, dtype=F64), interval=0.5, **common), 0.5
    elif name == "inv":
        result, interval = inv(a, interval=0.5, **common), 0.5
    else:
        result, interval = expnegm(a, **common), 1.0
    time = burn_in + samples * interval
    device = result.device
    assert isinstance(device, DeviceCost)
    assert device.time == pytest.approx(time, rel=1e-14)
    assert device.seconds == pytest.approx(time * model.tau_seconds, rel=1e-14)
    assert device.samples == samples * chains
    expected = chains * _energy(model, d=d, c=d - 1, time=time, samples=samples)
    assert device.energy_joules == pytest.approx(expected, rel=1e-12)


def test_logdet_reports_one_work_readout_per_chain():
    d, chains, switch = 4, 50, 3.0
    a = _spd(d, 2)  # dense: c = d(d − 1)/2
    result = logdet(a, chains=chains, switch_time=switch, dt=0.05, generator=_gen(0))
    model = DeviceModel()
    assert result.device.time == pytest.approx(switch)
    assert result.device.samples == chains
    c = d * (d - 1) // 2  # one scalar work readout per chain: one conversion, not d
    per_chain = switch * model.tau_seconds * (d * model.cell_watts + c * model.coupling_watts)
    expected = chains * (per_chain + model.adc_joules)
    assert result.device.energy_joules == pytest.approx(expected, rel=1e-12)


# -- the engine pieces: a noise factor, a field ----------------------------------------------


def _noise_setup():
    a = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.2, -0.3], [0.0, -0.3, 0.8]], dtype=F64)
    factor = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.5, 0.0], [-0.4, 0.3, 0.7]], dtype=F64)
    return a, factor


@pytest.mark.parametrize("path", ["affine", "callable", "masked"])
def test_a_noise_factor_gives_euler_maruyama_its_exact_stationary_covariance(path):
    a, factor = _noise_setup()
    dt, mobility, kT, chains = 0.1, 1.5, 0.7, 20_000
    energy = QuadraticEnergy(a, torch.zeros(3, dtype=F64))
    mobile = torch.ones(3, dtype=torch.bool) if path == "masked" else None
    langevin = Langevin(dt, mobility=mobility, kT=kT, mobile=mobile, noise=factor)
    stepper = EulerMaruyama((lambda _t: energy) if path == "callable" else energy, langevin)
    x0 = torch.zeros(chains, 3, dtype=F64)
    final = integrate(stepper, x0, steps=150, generator=_gen(0)).final  # 150 steps ≫ 1/(μΔtλ_min)
    # x' = (I − μΔtA) x + √(2μkTΔt) L ξ:  Σ = (I − μΔtA) Σ (I − μΔtA)ᵀ + 2μkTΔt LLᵀ
    step = np.eye(3) - mobility * dt * a.numpy()
    noise = 2 * mobility * kT * dt * (factor @ factor.T).numpy()
    sigma = torch.from_numpy(scipy.linalg.solve_discrete_lyapunov(step, noise))
    c = final - final.mean(0)
    empirical = c.T @ c / (chains - 1)
    v = torch.diagonal(sigma)
    se = ((v[:, None] * v[None, :] + sigma.square()) / chains).sqrt()
    assert bool(((empirical - sigma).abs() <= 4.5 * se).all())
    assert bool((final.mean(0).abs() <= 4.5 * (v / chains).sqrt()).all())
    # the test tells the discrete law from the continuous one, and from white noise
    continuous = scipy.linalg.solve_continuous_lyapunov(
        mobility * a.numpy(), 2 * mobility * kT * (factor @ factor.T).numpy()
    )
    assert float(((empirical - torch.from_numpy(continuous)).abs() / se).max()) > 10
    white = scipy.linalg.solve_discrete_lyapunov(step, 2 * mobility * kT * dt * np.eye(3))
    assert float(((empirical - torch.from_numpy(white)).abs() / se).max()) > 10


def test_langevin_rejects_a_bad_noise_factor():
    for bad in (torch.ones(2, 3), torch.ones(3), torch.tensor([[1.0, float("nan")], [0, 1]])):
        with pytest.raises(ValueError, match="noise"):
            Langevin(0.1, noise=bad)
    with pytest.raises((TypeError, ValueError), match="noise"):  # a list (ValueError today)
        Langevin(0.1, noise=[[1.0]])


def test_a_field_is_a_linear_term_whose_force_is_minus_the_gradient():
    a, _ = _noise_setup()
    mean = torch.tensor([0.2, -0.1, 0.4], dtype=F64)
    field = torch.tensor([0.5, -1.0, 0.25], dtype=F64)
    energy = QuadraticEnergy(a, mean, field)
    x = torch.randn(7, 3, generator=_gen(0), dtype=F64).requires_grad_()
    (gradient,) = torch.autograd.grad(energy.energy(x).sum(), x)
    torch.testing.assert_close(energy.force(x), -gradient, rtol=1e-13, atol=1e-13)
    split = energy.affine()
    torch.testing.assert_close(split(x), energy.force(x), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(split.matrix, -a)
    # the energy by hand, and the force's zero at the Boltzmann mean m + A⁻¹h
    with torch.no_grad():
        r = x - mean
        by_hand = 0.5 * torch.einsum("ni,ij,nj->n", r, a, r) - x @ field
        torch.testing.assert_close(energy.energy(x), by_hand, rtol=1e-13, atol=1e-13)
    centre = mean + torch.linalg.solve(a, field)
    torch.testing.assert_close(energy.force(centre), torch.zeros(3, dtype=F64), rtol=0, atol=1e-14)
    # no field: the old energy exactly
    plain = QuadraticEnergy(a, mean)
    torch.testing.assert_close(energy.energy(x) + x @ field, plain.energy(x), rtol=0, atol=1e-13)
    # a batch of fields (one per row of x) broadcasts
    fields = torch.randn(7, 3, generator=_gen(1), dtype=F64)
    batched = QuadraticEnergy(a, mean, fields)
    (gradient,) = torch.autograd.grad(batched.energy(x).sum(), x)
    torch.testing.assert_close(batched.force(x), -gradient, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(batched.affine()(x), batched.force(x), rtol=1e-13, atol=1e-13)


# -- bad input -------------------------------------------------------------------------------

A3 = _spd(3, 0)
B3 = torch.ones(3, dtype=F64)
FAST = dict(samples=20, blocks=2, dt=0.1)


@pytest.mark.parametrize("function", [solve, inv, expnegm, logdet])
@pytest.mark.parametrize(
    ("matrix", "error"),
    [
        (torch.tensor([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64), ValueError),
        (torch.diag(torch.tensor([1.0, -0.5, 2.0], dtype=F64)), ValueError),
        (torch.diag(torch.tensor([1.0, 0.0, 2.0], dtype=F64)), ValueError),
        (torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]], dtype=F64), ValueError),
        (torch.ones(2, 3, dtype=F64), ValueError),
        (torch.ones(3, dtype=F64), ValueError),
        (torch.eye(3, dtype=torch.int64), TypeError),
        ([[1.0, 0.0], [0.0, 1.0]], TypeError),
    ],
)
def test_a_bad_matrix_is_refused_naming_a(function, matrix, error):
    args = (matrix, torch.ones(3, dtype=F64)) if function is solve else (matrix,)
    with pytest.raises(error, match=r"^a:"):
        function(*args)


@pytest.mark.parametrize(
    "b",
    [
        torch.ones(4, dtype=F64),
        torch.ones(3, 1, dtype=F64),
        torch.ones(3, dtype=torch.float32),
        torch.tensor([1.0, float("nan"), 0.0], dtype=F64),
    ],
)
def test_a_bad_right_hand_side_is_refused_naming_b(b):
    with pytest.raises(ValueError, match=r"^b:"):
        solve(A3, b)
    with pytest.raises((TypeError, ValueError), match=r"^b:"):  # a list (ValueError today)
        solve(A3, b.tolist())


@pytest.mark.parametrize("function", [solve, inv, expnegm])
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"samples": 1}, ValueError, "samples"),
        ({"samples": 2.5}, TypeError, "samples"),
        ({"samples": 3, "blocks": 2}, ValueError, "samples"),
        ({"blocks": 1}, ValueError, "blocks"),
        ({"chains": 0}, ValueError, "chains"),
        ({"burn_in": -1.0}, ValueError, "burn_in"),
        ({"dt": 0.0}, ValueError, "dt"),
        ({"dt": float("nan")}, ValueError, "dt"),
        ({"hardware": "fast"}, TypeError, "hardware"),
    ],
)
def test_bad_run_settings_are_refused_naming_the_argument(function, kwargs, error, name):
    args = (A3, B3) if function is solve else (A3,)
    with pytest.raises(error, match=name):
        function(*args, **{**FAST, **kwargs})


@pytest.mark.parametrize("interval", [0.0, -1.0, float("inf")])
@pytest.mark.parametrize("function", [solve, inv])
def test_a_non_positive_interval_is_refused(function, interval):
    args = (A3, B3) if function is solve else (A3,)
    with pytest.raises(ValueError, match="interval"):
        function(*args, interval=interval, **FAST)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"chains": 1}, ValueError, "chains"),
        ({"switch_time": 0.0}, ValueError, "switch_time"),
        ({"dt": -0.1}, ValueError, "dt"),
        ({"hardware": object()}, TypeError, "hardware"),
    ],
)
def test_bad_logdet_settings_are_refused_naming_the_argument(kwargs, error, name):
    with pytest.raises(error, match=name):
        logdet(A3, **{"chains": 4, "switch_time": 0.5, "dt": 0.1, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tau_seconds": 0.0}, "tau_seconds"),
        ({"cell_watts": -1.0}, "cell_watts"),
        ({"coupling_watts": float("nan")}, "coupling_watts"),
        ({"adc_joules": -1e-12}, "adc_joules"),
    ],
)
def test_a_bad_device_model_is_refused_naming_the_constant(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DeviceModel(**kwargs)


def test_device_cost_arguments_are_checked():
    model = DeviceModel()
    with pytest.raises(ValueError, match="dim"):
        model.cost(dim=0, couplings=0, time=1.0, samples=1)
    with pytest.raises(ValueError, match="couplings"):
        model.cost(dim=2, couplings=-1, time=1.0, samples=1)
    with pytest.raises(ValueError, match="time"):
        model.cost(dim=2, couplings=1, time=-1.0, samples=1)
    with pytest.raises(TypeError, match="samples"):
        model.cost(dim=2, couplings=1, time=1.0, samples=1.5)


def test_an_unstable_step_is_refused_before_simulating():
    a = torch.diag(torch.tensor([0.5, 1.0, 2.5], dtype=F64))
    with pytest.raises(ValueError, match="dt"):
        solve(a, torch.ones(3, dtype=F64), samples=200, dt=1.0)
    with pytest.raises(ValueError, match="dt"):
        logdet(a, chains=10, dt=1.0)


def test_the_default_burn_in_removes_the_start_up_bias():
    """From x = 0 without burn-in the time average is pulled towards 0 by ≈ A⁻²b/T; the
    default (five slowest relaxation times) removes that bias to within the noise."""
    a = torch.diag(torch.tensor([0.2, 1.0], dtype=F64))
    b = torch.tensor([20.0, 1.0], dtype=F64)  # x* = 100 on the slow mode
    exact = torch.linalg.solve(a, b)
    cold = [solve(a, b, samples=200, burn_in=0.0, generator=_gen(s)) for s in range(8)]
    warm = [solve(a, b, samples=200, generator=_gen(s)) for s in range(8)]
    bias_cold = float(torch.stack([r.estimate[0] for r in cold]).mean() - exact[0])
    bias_warm = float(torch.stack([r.estimate[0] for r in warm]).mean() - exact[0])
    spread = float(torch.stack([r.estimate[0] for r in warm]).std()) / 8**0.5
    assert bias_cold < -4 * spread  # the transient: ≈ −x*/(λT) = −100/(0.2·200) = −2.5
    assert abs(bias_warm) < 4 * spread
    assert warm[0].device.time == pytest.approx(200 + 5 / 0.2, rel=0.05)


def test_inv_error_shrinks_as_one_over_root_samples():
    """Against Euler–Maruyama's exact stationary covariance (so the O(Δt) bias, tested above,
    does not hide the sampling error's rate)."""

    a = _spd(5, 3)
    dt = 0.1
    step = np.eye(5) - dt * a.numpy()
    exact = torch.from_numpy(scipy.linalg.solve_discrete_lyapunov(step, 2 * dt * np.eye(5)))
    sizes = [64, 256, 1024, 4096]
    rms = []
    for samples in sizes:
        errors = torch.stack(
            [
                inv(a, samples=samples, interval=0.5, burn_in=10.0, chains=4, dt=dt,
                    generator=_gen(2000 * k + samples)).estimate - exact
                for k in range(6)
            ]
        )  # fmt: skip
        rms.append(float(errors.square().mean().sqrt()))
    slope = np.polyfit(np.log(sizes), np.log(rms), 1)[0]
    assert -0.65 < slope < -0.35, (slope, rms)


def test_a_step_just_above_the_exact_stability_limit_is_refused():
    a = _spd(6, 4)
    top = float(torch.linalg.eigvalsh(a).max())
    with pytest.raises(ValueError, match="dt"):
        inv(a, samples=40, dt=2.0005 / top, interval=4.001 / top)
    inv(a, samples=40, dt=1.9 / top, interval=1.9 / top, generator=_gen(0))  # accepted
