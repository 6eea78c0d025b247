"""The randomness policy: explicit generators are the only source of randomness, ``None`` means
torch's default generator, and the library never changes the caller's default-generator state."""

import torch

from thermonn.bench import Cell, RunOptions, run_cell
from thermonn.dynamics import EulerMaruyama, Langevin, QuadraticEnergy, integrate
from thermonn.experiments.demo import DemoConfig, run_demo
from thermonn.experiments.thermocomputer.run import RunConfig, load_run, train_run
from thermonn.machines import MachineConfig, ThermoComputer
from thermonn.machines.thermocomputer import fit_adam

SMALL = MachineConfig(n_in=4, n_hidden=2, n_out=2, dt=1e-2, t_final=0.1)


def _untouched(call):
    """Run ``call`` and assert the default generator's state is what it was."""
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    call()
    assert torch.equal(torch.get_rng_state(), before)


def test_seeded_experiments_leave_the_callers_generator_alone(tmp_path):
    # each seeds a model's initialisation from its own seed (pykan needs the default generator),
    # always inside fork_rng
    _untouched(lambda: run_cell(Cell("wine", "kan"), RunOptions(epochs_scale=0.05, max_train=32)))
    config = DemoConfig(epochs=1, hidden=8, steps=1, entropies=("logcosh",), seeds=(0,))
    _untouched(lambda: run_demo(config, tmp_path / "demo"))
    run = RunConfig(dataset="digits", teacher_epochs=1, limit_train=64, limit_test=16)
    _untouched(lambda: train_run(run, tmp_path / "run", log=lambda _: None))
    _untouched(lambda: load_run(tmp_path / "run"))


def test_explicit_generators_are_the_only_source():
    machine = ThermoComputer(SMALL)
    u = torch.randn(5, 4)
    _untouched(lambda: machine.run(u, generator=torch.Generator().manual_seed(0)))
    a = machine.run(u, generator=torch.Generator().manual_seed(0)).final
    torch.manual_seed(99)  # the default generator's state must not matter
    b = machine.run(u, generator=torch.Generator().manual_seed(0)).final
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_none_means_the_default_generator():
    well = QuadraticEnergy(torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    stepper = EulerMaruyama(well, Langevin(0.1))
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(integrate(stepper, x0, steps=5).final)
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    torch.manual_seed(7)
    explicit = integrate(stepper, x0, steps=5, generator=torch.default_generator).final
    torch.testing.assert_close(explicit, runs[0], rtol=0, atol=0)
    # a trainer that must hold a generator seeds one from the default generator: reproducible
    # under torch.manual_seed, and not a fixed seed (two draws differ)
    u, targets = torch.randn(12, 4), torch.rand(12, 4) * 2 - 1
    fits = []
    for seed in (3, 3, 4):
        machine = ThermoComputer(SMALL)
        torch.manual_seed(seed)
        fit_adam(machine, u, targets, epochs=1, batch_size=4)
        fits.append(machine.bias.detach().clone())
    torch.testing.assert_close(fits[0], fits[1], rtol=0, atol=0)
    assert not torch.equal(fits[0], fits[2])
