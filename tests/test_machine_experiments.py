"""The discrete machines' experiments and CLI: run folders, exact targets, exact resume."""

import json

import pytest
import torch

from thermonn.cli.main import main
from thermonn.data import load_binarized
from thermonn.experiments.anneal import (
    SCHEDULES,
    AnnealConfig,
    _ground_energy,
    _schedules,
    build_problem,
    run_anneal,
)
from thermonn.experiments.hopfield import HopfieldConfig, run_hopfield
from thermonn.experiments.ising import IsingConfig, run_ising
from thermonn.experiments.rbm import RBMConfig, run_rbm, train_rbm
from thermonn.machines import IsingModel


def test_ising_cli_writes_a_phase_diagram_with_a_binder_crossing(tmp_path, capsys):
    out = tmp_path / "ising"
    argv = [
        "ising",
        "--sizes",
        "8",
        "16",
        "--sweeps",
        "400",
        "--burn-in",
        "100",
        "--chains",
        "16",
        "--sampler",
        "gibbs",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    for name in ("report.md", "results.json", "phase_diagram.png", "command.txt"):
        assert (out / name).is_file()
    results = json.loads((out / "results.json").read_text())
    assert len(results["observables"]["16"]) == 21
    assert abs(results["critical_temperature"] / results["exact_critical_temperature"] - 1) < 0.05
    assert "T_c estimate" in capsys.readouterr().out
    assert (out / "command.txt").read_text().startswith("thermonn ising --sizes 8 16")


def test_ising_observables_match_the_exact_low_temperature_law(tmp_path):
    config = IsingConfig(
        sizes=(4,), kT_min=1.0, kT_max=1.5, temperatures=2, chains=64, sweeps=300, burn_in=100
    )
    result = run_ising(config, tmp_path / "i")
    model = IsingModel.lattice((4, 4), dtype=torch.float64)
    from thermonn.dynamics import boltzmann

    for kT, obs in zip((1.0, 1.5), result.observables[4], strict=True):
        states, p = boltzmann(model, kT)
        exact = float((p * model.energy(states)).sum()) / 16
        assert abs(obs.energy - exact) < 5 * obs.energy_error + 1e-3


@pytest.mark.parametrize(
    "bad", [["--sizes", "7"], ["--sizes", "16", "8"], ["--kT-min", "-1"], ["--sampler", "wolf"]]
)
def test_ising_cli_refuses_bad_input(tmp_path, bad, capsys):
    assert main(["ising", *bad, "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "thermonn: error:" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_anneal_reaches_the_certified_ground_state_and_reports_tts(tmp_path):
    config = AnnealConfig(problem="glass", size=16, sweeps=300, reads=32)
    outcomes, info = run_anneal(config, tmp_path / "a")
    model, offset, _ = build_problem(config)
    assert info["target"] == pytest.approx(_ground_energy(model) + offset)
    assert info["target_kind"].startswith("exact")
    assert {o.schedule for o in outcomes} == set(config.schedules)
    assert tuple(_schedules(2.0, 1.0, 10)) == SCHEDULES  # the names offered are the ones built
    best = max(outcomes, key=lambda o: o.success)
    assert best.success > 0.5 and best.tts < float("inf")
    assert min(min(o.energies) for o in outcomes) == pytest.approx(info["target"])
    report = (tmp_path / "a" / "report.md").read_text()
    assert "TTS 99%" in report and "exact ground state" in report


def test_anneal_qubo_energies_are_in_the_qubo_units(tmp_path):
    config = AnnealConfig(problem="qubo", size=12, sweeps=200, reads=16)
    _, info = run_anneal(config, tmp_path / "q")
    g = torch.Generator().manual_seed(config.instance_seed)
    q = torch.triu(torch.randn(12, 12, generator=g))
    x = ((torch.arange(4096)[:, None] >> torch.arange(12)) & 1).float()
    assert info["target"] == pytest.approx(float(((x @ q) * x).sum(-1).min()), rel=1e-5)


def test_hopfield_recall_collapses_above_the_classic_capacity_and_not_for_the_modern_layer(
    tmp_path,
):
    config = HopfieldConfig(
        capacity_sizes=(10, 20),
        neurons=120,
        loads=(0.03, 0.3),
        modern_loads=(3.0,),
        probes=20,
        pattern_sets=2,
        digits=3,
    )
    payload = run_hopfield(config, tmp_path / "h")
    classic = {r["load"]: r["recalled"] for r in payload["classic"]}
    modern = {r["load"]: r["recalled"] for r in payload["modern"]}
    assert classic[0.03] == 1.0 and classic[0.3] < 0.2
    assert modern[0.3] == 1.0 and modern[3.0] == 1.0
    assert all(m == 1.0 for m in payload["digits"]["modern"])
    capacity = {c["neurons"]: c["capacity"] for c in payload["modern_capacity"]}
    # exponential in N: far beyond the classic 0.138 N, and growing by more than 2^(N/4)
    assert capacity[20] >= 64 and capacity[20] >= 2 ** (10 / 4) * capacity[10]
    assert (tmp_path / "h" / "digits.png").is_file()


def test_rbm_training_resumes_bit_for_bit(tmp_path):
    data = load_binarized("digits").x_train[:200]
    config = RBMConfig(hidden=16, epochs=4, batch_size=20, chains=20)
    straight = train_rbm(config, data)
    ckpt = tmp_path / "ckpt.safetensors"
    train_rbm(RBMConfig(hidden=16, epochs=2, batch_size=20, chains=20), data, checkpoint=ckpt)
    resumed = train_rbm(config, data, checkpoint=ckpt)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [h["reconstruction_error"] for h in straight.history] == [
        h["reconstruction_error"] for h in resumed.history
    ]


def test_rbm_run_brackets_its_likelihood_and_beats_independent_pixels(tmp_path):
    config = RBMConfig(hidden=32, epochs=10, ais_steps=500, ais_runs=50, reverse_burn_in=200)
    payload = run_rbm(config, tmp_path / "r")
    for name in ("train", "test"):
        b = payload["log_likelihood"][name]
        # the bounds hold in expectation: an inversion must be within the estimates' noise
        noise = 3 * (payload["ais"]["log_z_forward_std"] + payload["ais"]["log_z_reverse_std"])
        assert b["lower"] <= b["upper"] + noise and b["upper"] - b["lower"] < 1.0
        assert b["estimate"] > payload["independent_pixels"][name] + 2.0
    with pytest.raises(ValueError, match="different configuration"):
        run_rbm(RBMConfig(hidden=8, epochs=1), tmp_path / "r")


def test_binarized_loader_and_its_errors(tmp_path):
    d = load_binarized("digits", limit_train=50)
    assert d.x_train.shape == (50, 64) and set(d.x_train.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="directory"):
        load_binarized("idx")
    with pytest.raises(FileNotFoundError):
        load_binarized("idx", directory=tmp_path)
    with pytest.raises(ValueError, match="name"):
        load_binarized("cifar")
