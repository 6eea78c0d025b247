"""The thermodynamic-computer experiment: exact fit, Adam resume, evaluation, energetics, CLI."""

import json

import numpy as np
import pytest
import torch

from helpers import write_idx_dir
from thermonn.cli.main import main
from thermonn.data.split import DatasetSplit
from thermonn.dynamics import onsager_machlup_action
from thermonn.experiments.thermocomputer.data import equal_norm, load_machine_data
from thermonn.experiments.thermocomputer.run import RunConfig
from thermonn.experiments.thermocomputer.teacher import (
    build_teacher,
    teacher_targets,
    train_teacher,
)
from thermonn.machines import MachineConfig, ThermoComputer
from thermonn.machines.thermocomputer import (
    fit_adam,
    fit_distill,
    fit_exact,
    idealised_paths,
    mean_action,
)
from thermonn.machines.thermocomputer.energetics import (
    BOLTZMANN,
    DigitalCost,
    count_macs,
    heat_released,
)
from thermonn.machines.thermocomputer.generative import generative_machine, sample, train_generative
from thermonn.train.checkpoint import load_module, load_tensors, save_tensors

SMALL = MachineConfig(n_in=5, n_hidden=3, n_out=2, dt=1e-2, t_final=0.2)


def _problem(config=SMALL, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, config.n_in, generator=g, dtype=torch.float64)
    targets = torch.tanh(torch.randn(n, config.n_mobile, generator=g, dtype=torch.float64))
    return u, targets


def _total_action(machine, u, targets, kappa):
    c = machine.config
    path = idealised_paths(targets, c, kappa)(torch.arange(len(u)))
    force = machine.energy(machine.fields(u)).force
    return onsager_machlup_action(path, force, c.langevin()).sum()


@pytest.mark.parametrize("blocks", [SMALL.blocks, ("in-hidden", "hidden-out")])
@pytest.mark.parametrize("kappa", [100.0, None])
def test_exact_fit_is_the_stationary_point_of_the_action(blocks, kappa):
    # U is a convex quadratic in (W, b, bonds): the exact fit must zero its gradient over the
    # symmetric parametrisation (autograd oracle) for every block pattern and guide
    config = MachineConfig(n_in=5, n_hidden=3, n_out=2, dt=1e-2, t_final=0.2, blocks=blocks)
    u, targets = _problem(config)
    machine = ThermoComputer(config).double()
    fit_exact(machine, u, targets, kappa=kappa, ridge=0.0)
    action = _total_action(machine, u, targets, kappa)
    grads = torch.autograd.grad(action, [machine.weight, machine.bias, machine.bonds])
    masks = [machine.in_mask, torch.ones_like(machine.bias), machine.bond_mask]
    scale = float(action.detach())
    for grad, mask in zip(grads, masks, strict=True):
        assert float((grad * mask).abs().max()) < 1e-7 * scale
    # the coupling stays symmetric with the left-out blocks at zero
    j = machine.coupling()
    torch.testing.assert_close(j, j.T)
    assert float((machine.bonds.detach() * (1 - machine.bond_mask)).abs().max()) == 0.0
    # and a random perturbation only raises the action (convexity)
    with torch.no_grad():
        machine.bias.add_(0.01)
    assert float(_total_action(machine, u, targets, kappa).detach()) > scale


def test_adam_approaches_the_exact_optimum():
    u, _ = _problem(n=64)
    mix = torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    targets = torch.tanh(0.5 * u @ mix)  # a learnable teacher: the optimum is far below θ = 0
    exact = ThermoComputer(SMALL).double()
    fit_exact(exact, u, targets, ridge=0.0)
    adam = ThermoComputer(SMALL).double()
    report = fit_adam(adam, u, targets, epochs=300, lr=0.5, batch_size=64)
    best = mean_action(exact, u, idealised_paths(targets, SMALL, 100.0))
    assert report.history[0] > 5 * best  # started far away (θ₀ = 0)
    assert report.action_per_unit_step == pytest.approx(best, rel=0.02)


def test_adam_resumes_exactly_from_its_checkpoint(tmp_path):
    u, targets = _problem(n=48)
    straight = ThermoComputer(SMALL).double()
    fit_adam(
        straight, u, targets, epochs=3, batch_size=16, generator=torch.Generator().manual_seed(5)
    )
    ckpt = tmp_path / "fit.safetensors"
    resumed = ThermoComputer(SMALL).double()
    fit_adam(
        resumed,
        u,
        targets,
        epochs=1,
        batch_size=16,
        generator=torch.Generator().manual_seed(5),
        checkpoint=ckpt,
    )
    fresh = ThermoComputer(SMALL).double()  # a new process: nothing but the file
    report = fit_adam(
        fresh,
        u,
        targets,
        epochs=3,
        batch_size=16,
        generator=torch.Generator().manual_seed(99),
        checkpoint=ckpt,
    )
    for a, b in zip(straight.parameters(), fresh.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(report.history) == 3
    assert not (tmp_path / "fit.safetensors.tmp").exists()


def test_parameter_files_of_the_wrong_shape_are_refused(tmp_path):
    small = ThermoComputer(SMALL)
    save_tensors(tmp_path / "m.safetensors", small.state_dict())
    tensors, _ = load_tensors(tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"has shape \(5,? ?5?\), expected \(74,?( 74)?\)"):
        load_module(ThermoComputer(), tensors, source="m.safetensors")
    with pytest.raises(ValueError, match="missing"):
        load_module(ThermoComputer(SMALL), {"bias": tensors["bias"]}, source="m.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="expected a safetensors file"):
        load_tensors(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError):
        load_tensors(tmp_path / "absent.safetensors")


def test_bad_inputs_name_what_was_expected():
    machine = ThermoComputer()
    with pytest.raises(ValueError, match=r"expected shape \(batch, 784\)"):
        machine.run(torch.zeros(3, 64))
    with pytest.raises(ValueError, match="NaN"):
        machine.run(torch.full((2, 784), float("nan")))
    for field, value in (("kT", 0.0), ("dt", -1e-3), ("t_final", 0.0)):
        with pytest.raises(ValueError, match=field):
            MachineConfig(**{field: value})
    with pytest.raises(ValueError, match="dataset"):
        RunConfig(dataset="cifar")
    with pytest.raises(ValueError, match="trainer"):
        RunConfig(trainer="lbfgs")
    with pytest.raises(ValueError, match="directory"):
        load_machine_data("mnist")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_machine_data("fashion-mnist", "/nonexistent/idx")


def test_threaded_chunks_do_not_change_the_result():
    machine = ThermoComputer(MachineConfig(n_in=6, n_hidden=4, n_out=3))
    with torch.no_grad():
        for p in machine.parameters():
            p.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    u = torch.randn(50, 6, generator=torch.Generator().manual_seed(2))
    threads = torch.get_num_threads()
    outs = []
    for n in (1, 2):
        torch.set_num_threads(n)
        with torch.no_grad():
            outs.append(
                machine.run(
                    u, chunk_size=7, trajectories=2, generator=torch.Generator().manual_seed(3)
                ).states
            )
    torch.set_num_threads(threads)
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    # and the chunked run is the same Langevin process: its kT = 0 limit is the gradient flow
    with torch.no_grad():
        cold = machine.run(u, kT=0.0, chunk_size=7).final[0]
        x = torch.zeros(50, 7)
        field, coupling = machine.bias + machine.fields(u), machine.coupling()
        for _ in range(machine.config.steps):  # −∂V/∂x written out: −(2x + 4x³ + b + h + Jx)
            x = x - machine.config.dt * (2 * x + 4 * x**3 + field + x @ coupling)
    torch.testing.assert_close(cold, x, rtol=1e-5, atol=1e-6)


def test_heat_and_digital_cost():
    machine = ThermoComputer(SMALL).double()
    with torch.no_grad():
        for p in machine.parameters():
            p.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    u, _ = _problem()
    x = torch.randn(len(u), 5, dtype=torch.float64)
    field, coupling = machine.bias + machine.fields(u), machine.coupling()
    bonds = sum(
        coupling[i, j] * x[:, i] * x[:, j] for i in range(5) for j in range(i + 1, 5)
    )  # each bond once
    v = (x**2 + x**4).sum(-1) + (field * x).sum(-1) + bonds
    torch.testing.assert_close(heat_released(machine, u, x), -v)  # V(0) = 0
    teacher = build_teacher(784)
    assert count_macs(teacher) == 784 * 32 + 32 * 32 + 32 * 10 == 26_432
    cost = DigitalCost(count_macs(teacher))
    assert cost.joules_per_mac / cost.kT_joules == pytest.approx(2.414e8, rel=1e-3)
    assert cost.energy_kT == pytest.approx(26_432e-12 / (BOLTZMANN * 300.0))
    assert cost.advantage(1e5) == pytest.approx(cost.energy_kT / 1e5)


def test_equal_norm_preprocessing():
    g = torch.Generator().manual_seed(0)
    split = DatasetSplit(
        torch.randn(20, 9, generator=g),
        torch.zeros(20),
        torch.randn(5, 9, generator=g),
        torch.zeros(5),
    )
    out, norm = equal_norm(split)
    assert norm == pytest.approx(float(split.x_train.norm(dim=1).max()))
    torch.testing.assert_close(out.x_train.norm(dim=1), torch.full((20,), norm))
    torch.testing.assert_close(out.x_test.norm(dim=1), torch.full((5,), norm))


def test_a_users_mnist_idx_directory_goes_through_the_paper_preprocessing(tmp_path):
    arrays = write_idx_dir(tmp_path)
    split = load_machine_data("mnist", tmp_path)
    train = arrays["train-images-idx3-ubyte"].reshape(6, -1) / 255.0
    test = arrays["t10k-images-idx3-ubyte"].reshape(4, -1) / 255.0
    mean, std = train.mean(), train.std()
    norm = np.linalg.norm((train - mean) / std, axis=1).max()
    for got, raw in ((split.x_train, train), (split.x_test, test)):
        z = (raw - mean) / std
        want = z * (norm / np.linalg.norm(z, axis=1, keepdims=True))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-4)
    assert split.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def _digits_student(limit_train: int, teacher_epochs: int):
    """A digits teacher and its exactly fitted 64-input machine."""
    data = load_machine_data("digits", limit_train=limit_train)
    torch.manual_seed(0)
    teacher = build_teacher(64)
    g = torch.Generator().manual_seed(0)
    train_teacher(teacher, data.x_train, data.y_train, epochs=teacher_epochs, generator=g)
    machine = ThermoComputer(MachineConfig(n_in=64))
    fit_exact(machine, data.x_train, teacher_targets(teacher, data.x_train))
    return data, teacher, machine


def test_tiny_end_to_end_train_beats_chance_by_far():
    data, _, machine = _digits_student(600, 40)
    with torch.no_grad():
        scores = machine(data.x_test, generator=torch.Generator().manual_seed(0))
    accuracy = float((scores.argmax(-1) == data.y_test).float().mean())
    assert accuracy > 0.8  # chance is 0.1


def test_generative_machine_learns_the_data_pattern():
    # one pattern p: the reversed noising paths run from noise out to p. The fitted drift
    # amplifies the pattern direction out of the noise (b + Jx is nearly odd in x, so ±p are
    # both reached): the samples must lie along p, which the noise does not
    p = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    machine = generative_machine(6)
    train_generative(machine, p.repeat(200, 1))
    drawn = sample(machine, 300, generator=torch.Generator().manual_seed(0))
    overlap = lambda x: float((x @ p).abs().mean() / (p @ p))  # noqa: E731
    assert overlap(drawn.noise) < 0.3
    assert overlap(drawn.samples) > 0.8
    assert float(drawn.heat_kT.mean()) > 0  # relaxing into the learned well releases heat
    with pytest.raises(ValueError, match="at most 128 visible"):
        train_generative(generative_machine(200), torch.zeros(3, 200))


def test_cli_train_eval_report(tmp_path, capsys):
    out = tmp_path / "run"
    args = [
        "computer",
        "train",
        "--dataset",
        "digits",
        "--limit-train",
        "300",
        "--limit-test",
        "90",
        "--teacher-epochs",
        "20",
        "--distill-epochs",
        "1",
        "--trajectories",
        "3",
        "--kappas",
        "100",
        "exact",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "teacher_top1",
        "student",
        "heat_per_classification_kT",
        "digital_cost",
        "advantage_ratio",
        "wall_seconds_eval",
    ):
        assert key in summary
    assert set(summary["student"]) == {"top1_m1", "top2_m1", "top1_m3", "top2_m3"}
    assert summary["trainer"] == "exact+distill(1)" and len(summary["distill"]["history"]) == 1
    assert (out / "machine_action.safetensors").is_file()
    assert summary["student"]["top2_m1"] >= summary["student"]["top1_m1"] > 0.5
    assert summary["advantage_ratio"] == pytest.approx(
        summary["digital_cost"]["digital_energy_kT"] / summary["heat_per_classification_kT"]["mean"]
    )
    ev = json.loads((out / "evaluation.json").read_text())
    assert [r["kappa"] for r in ev["kappa_sweep"]] == [100.0, "exact"]
    assert sum(map(sum, ev["confusion"])) == 90
    assert (out / "report.md").is_file() and (out / "plots" / "heat_histogram.png").is_file()
    # a folder holding another configuration is refused; eval/report rerun on the folder
    assert (
        main(
            [
                "computer",
                "train",
                "--dataset",
                "digits",
                "--kappa",
                "50",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "different configuration" in capsys.readouterr().err
    assert main(["computer", "report", str(out)]) == 0
    assert main(["computer", "eval", str(tmp_path / "nothing")]) == 2


def test_distillation_through_the_dynamics_moves_the_machine_towards_the_teacher(tmp_path):
    data, teacher, machine = _digits_student(400, 30)
    with torch.no_grad():
        probs = teacher(data.x_train).softmax(-1)

    def cross_entropy() -> float:
        with torch.no_grad():
            x = machine(data.x_train, trajectories=4, generator=torch.Generator().manual_seed(7))
        return float(-(probs * x.log_softmax(-1)).sum(-1).mean())

    before = cross_entropy()
    ckpt = tmp_path / "distill.safetensors"
    report = fit_distill(machine, data.x_train, probs, epochs=3, batch_size=100, checkpoint=ckpt)
    assert report.history[-1] < report.history[0]
    assert cross_entropy() < before
    # the checkpoint says which trainer wrote it: another trainer refuses it
    u, targets = data.x_train, teacher_targets(teacher, data.x_train)
    with pytest.raises(ValueError, match="checkpoint of the 'adam' trainer, got one of 'distill'"):
        fit_adam(machine, u, targets, epochs=4, checkpoint=ckpt)


def test_a_run_interrupted_before_distillation_finishes_resumes_to_the_same_machine(tmp_path):
    from thermonn.experiments.thermocomputer.run import RunConfig, train_run

    config = RunConfig(
        dataset="digits", teacher_epochs=3, distill_epochs=2, limit_train=200, limit_test=50
    )
    first = train_run(config, tmp_path, log=lambda _: None)
    straight = {k: v.clone() for k, v in first.machine.state_dict().items()}
    # crash after the action fit: the distillation never wrote anything
    (tmp_path / "machine.safetensors").unlink()
    (tmp_path / "distill_checkpoint.safetensors").unlink()
    again = train_run(config, tmp_path, log=lambda _: None)
    for name, value in again.machine.state_dict().items():
        torch.testing.assert_close(value, straight[name], rtol=0, atol=0)
