"""The thermodynamic computer's machine: potential, blocks, readout, idealised trajectories."""

import pytest
import torch

from thermonn.machines import MachineConfig, QuarticEnergy, ThermoComputer, idealised_trajectory

SMALL = MachineConfig(n_in=6, n_hidden=3, n_out=2, dt=1e-2, t_final=0.5)


def _random(machine: ThermoComputer, seed: int = 0) -> ThermoComputer:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in machine.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return machine.double()


def test_force_is_minus_the_gradient_of_the_full_potential():
    # the clamped-input machine is the quartic potential over (inputs, mobile) with the
    # input-input bonds irrelevant: its mobile-spin gradient must equal -force
    m = _random(ThermoComputer(SMALL))
    u = torch.randn(4, 6, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    n_in, n = 6, 11
    coupling = torch.zeros(n, n, dtype=torch.float64)
    w = (m.weight * m.in_mask).detach()
    coupling[:n_in, n_in:], coupling[n_in:, :n_in] = w, w.T
    coupling[n_in:, n_in:] = m.coupling().detach()
    bias = torch.cat([torch.zeros(n_in, dtype=torch.float64), m.bias.detach()])
    full = torch.cat([u, x], -1)
    v = QuarticEnergy(1.0, 1.0, bias, coupling).energy(full)
    (grad,) = torch.autograd.grad(v.sum(), x)
    # the inputs' own on-site terms do not depend on x, so only the mobile block matters
    torch.testing.assert_close(m.energy(m.fields(u)).force(x), -grad)


def test_blocks_left_out_stay_zero():
    config = MachineConfig(n_in=6, n_hidden=3, n_out=2, blocks=("in-hidden", "hidden-out"))
    m = _random(ThermoComputer(config))
    j = m.coupling()
    assert (j[:3, :3] == 0).all() and (j[3:, 3:] == 0).all() and (j[:3, 3:] != 0).all()
    w = m.weight * m.in_mask
    assert (w[:, 3:] == 0).all() and (w[:, :3] != 0).all()
    torch.testing.assert_close(j, j.T)


def test_zero_machine_at_zero_temperature_stays_at_zero_and_noise_follows_the_generator():
    m = ThermoComputer(SMALL)
    u = torch.randn(3, 6)
    assert (m.run(u, kT=0.0).states == 0).all()
    a = m(u, generator=torch.Generator().manual_seed(1))
    b = m(u, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert m(u, trajectories=4, generator=torch.Generator().manual_seed(1)).shape == (3, 2)


def test_exact_guide_relaxes_to_the_targets_and_kappa_guide_is_monotone():
    config = MachineConfig(n_in=1, n_hidden=2, n_out=1, dt=1e-2, t_final=20.0)
    s = torch.tensor([[-0.9, 0.2, 0.7]], dtype=torch.float64)
    path = idealised_trajectory(s, config, kappa=None)
    torch.testing.assert_close(path[-1], s, atol=1e-6, rtol=0)
    short = MachineConfig(n_in=1, n_hidden=2, n_out=1)  # the paper's t_f = 0.2, dt = 1e-3
    grid = torch.linspace(-1, 1, 21, dtype=torch.float64).reshape(7, 3)
    final = idealised_trajectory(grid, short, kappa=100.0)[-1].flatten()
    assert (final.diff() > 0).all() and path.shape == (2001, 1, 3)


def test_bad_input_names_what_was_expected():
    m = ThermoComputer(SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 6\)"):
        m(torch.zeros(2, 7))
    with pytest.raises(ValueError, match="finite"):
        m(torch.full((2, 6), float("nan")))
    with pytest.raises(ValueError, match="kT"):
        MachineConfig(kT=0.0)
    with pytest.raises(ValueError, match="dt"):
        MachineConfig(dt=-1e-3)
    with pytest.raises(ValueError, match="t_final"):
        MachineConfig(t_final=0.0)
    with pytest.raises(ValueError, match="blocks"):
        MachineConfig(blocks=("in-hidden", "hidden-input"))
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        idealised_trajectory(torch.zeros(2, 4), SMALL)


def test_module_etiquette_factory_kwargs_reset_and_repr():
    m = ThermoComputer(SMALL, dtype=torch.float64)
    assert m.dtype == torch.float64 and m.device == torch.device("cpu")
    assert m.in_mask.dtype == torch.float64
    _random(m)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    twin = ThermoComputer(SMALL, dtype=torch.float64)
    twin.load_state_dict(state)
    u = torch.randn(3, 6, dtype=torch.float64)
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    torch.testing.assert_close(twin(u, generator=g()), m(u, generator=g()), rtol=0, atol=0)
    m.reset_parameters()
    assert all((p == 0).all() for p in m.parameters())
    assert "n_hidden=3" in repr(m) and "t_final=0.5" in repr(m)
    paper = ThermoComputer()  # the paper's preset: 200 steps of 1e-3, 784 → 64 + 10 spins
    assert paper.config.steps == 200 and paper.weight.shape == (784, 74)
