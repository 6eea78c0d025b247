"""``thermonn thermal check``: the consistency study passes where the law holds, every control
fails, the monitors meet their exact answers, the numbers are the committed audit's, and a bad
machine folder is refused before anything is written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from thermonn.cli.main import main
from thermonn.experiments.consistency import (
    PLOT,
    ConsistencyConfig,
    ConsistencyReport,
    run_consistency,
    study_count,
)

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ROOT / "benchmarks" / "results" / "thermocomputer" / "digits"
AUDIT = ROOT / "benchmarks" / "results" / "consistency_audit.json"
LN2 = math.log(2.0)  # ΔF = ½ kT ln(4/1) of the squeezed trap


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[ConsistencyReport, list[int]]:
    """The quick study without a machine, run once for the module (about 10 s, one thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ticks: list[int] = []
    try:
        report = run_consistency(
            ConsistencyConfig(quick=True), tmp_path_factory.mktemp("check") / "run",
            progress=ticks.append,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return report, ticks


def _row(report: ConsistencyReport, section: str, system: str, check: str, dt: float):
    (row,) = [
        r
        for r in report.rows
        if (r.section, r.check, r.dt) == (section, check, dt) and r.system.startswith(system)
    ]
    return row


def test_quick_study_writes_its_folder_and_ticks_once_per_study(quick) -> None:
    report, ticks = quick
    folder = report.run_dir
    results = json.loads((folder / "results.json").read_text())
    assert len(results["checks"]) == len(report.rows) == 23
    assert results["config"] == {"machine": None, "quick": True, "seed": 0}
    assert results["findings"] == [] and results["machine"] is None
    text = (folder / "report.md").read_text()
    assert text.count("| A |") == 14 and text.count("| C |") == 9 and "| B |" not in text
    assert f"![consistency checks]({PLOT})" in text
    assert "None: every law holds where it should and every control fails." in text
    assert (folder / PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ticks == [1] * study_count(ConsistencyConfig(quick=True))


def test_every_control_fails_and_the_swirl_keeps_equipartition(quick) -> None:
    report, _ = quick
    controls = [r for r in report.rows if r.section == "C"]
    must_fail = [r for r in controls if r.expect == "fail"]
    assert len(must_fail) == 8 and not any(r.passed for r in must_fail)
    hot = _row(report, "C", "harmonic 2-D, bath at 1.3 kT", "equipartition", 0.005)
    assert hot.measured == pytest.approx(1.3, abs=4 * hot.error)  # the bath's temperature
    swirl = _row(report, "C", "isotropic trap + swirl", "equipartition", 0.005)
    assert swirl.passed and swirl.as_expected  # the swirl keeps the Boltzmann law …
    fdt = _row(report, "C", "isotropic trap + swirl", "fluctuation-dissipation", 0.005)
    assert not fdt.passed  # … but breaks detailed balance
    second = _row(report, "C", "harmonic 2-D relaxing", "entropy production", 0.005)
    assert second.measured < -second.tolerance  # ⟨Δs_tot⟩ < 0 by the wrong books


def test_engine_rows_at_the_fine_step_meet_their_laws(quick) -> None:
    report, _ = quick
    for system, check, dt in [
        ("harmonic 2-D (coupled)", "equipartition", 0.005),
        ("harmonic 2-D (coupled)", "fluctuation-dissipation", 0.005),
        ("double well", "equipartition", 0.001),
        ("double well", "fluctuation-dissipation", 0.005),
    ]:
        row = _row(report, "A", system, check, dt)
        assert row.passed, row
    squeezed = "squeezed trap k 1→4"
    for check in ("Jarzynski", "BAR"):
        row = _row(report, "A", squeezed, check, 1e-3)
        assert row.expected == pytest.approx(LN2, rel=1e-15)
        assert abs(row.measured - LN2) <= row.tolerance
    crooks = _row(report, "A", squeezed, "Crooks", 1e-3)
    assert abs(crooks.measured - 1.0) <= crooks.tolerance  # slope · kT of ln P_F/P_R
    for system in ("dragged trap", squeezed):
        law = _row(report, "A", system, "first law", 1e-3)
        assert abs(law.measured) < 1e-14  # Simpson's heat is exact for a quadratic
        second = _row(report, "A", system, "entropy production", 1e-3)
        assert second.passed and second.measured > 0
    assert report.findings == ()


def test_the_squeezed_trap_works_straddle_delta_f(quick) -> None:
    works = quick[0].works
    assert works.delta_f == pytest.approx(LN2) and works.forward.shape == (4000,)
    # the second law both ways: ⟨W_F⟩ ≥ ΔF ≥ −⟨W_R⟩
    assert float(works.forward.mean()) > LN2 > -float(works.reverse.mean())


def test_monitors_meet_their_exact_answers(quick) -> None:
    report, _ = quick
    free, heat, ising = report.monitors
    assert free.exact == pytest.approx(-0.5 * math.log(math.pi))  # −½ ln(2π/k), k = 2
    assert abs(free.measured - free.exact) <= 4 * free.error
    assert report.free_energy_exact == free.exact
    rises = report.free_energy.free_energy.diff() / report.free_energy.error[1:]
    assert float(rises.max()) < 1.0  # F(t) never rises beyond noise
    assert heat.measured == pytest.approx(0.75, rel=1e-8)  # 1/τ = Dκ(1/C₁ + 1/C₂)
    assert ising.exact == pytest.approx(0.956857, abs=1e-6)  # Yang, kT = 1.8
    assert abs(ising.measured - ising.exact) <= 4 * ising.error


def test_quick_rows_are_the_committed_audits(quick) -> None:
    report, _ = quick
    committed = {
        (r["section"], r["system"], r["check"], r["dt"], r["note"]): r
        for r in json.loads(AUDIT.read_text())["checks"]
    }
    for row in report.rows:
        old = committed[(row.section, row.system, row.check, row.dt, row.note)]
        assert old["passed"] == row.passed, row
        # the same streams: equal up to the last bits of floating point
        assert abs(old["measured"] - row.measured) <= 1e-6 * row.tolerance + 1e-12, row


def test_cli_check_quick_writes_its_folder(tmp_path, capsys) -> None:
    out = tmp_path / "check"
    assert main(["thermal", "check", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "23 of 23 checks as expected" in printed and "8 of 8 controls failed" in printed
    assert f"run folder: {out}" in printed
    assert (out / "command.txt").read_text().startswith("thermonn thermal check --quick")
    assert json.loads((out / "results.json").read_text())["config"]["quick"] is True
    assert (out / "report.md").exists() and (out / PLOT).stat().st_size > 0


@pytest.mark.parametrize("kind", ["missing", "file", "empty folder", "no machine file"])
def test_cli_refuses_a_bad_machine_before_writing(tmp_path, capsys, kind: str) -> None:
    machine = tmp_path / "machine"
    if kind == "file":
        machine.write_text("not a run")
    elif kind == "empty folder":
        machine.mkdir()
    elif kind == "no machine file":
        machine.mkdir()
        (machine / "config.json").write_text("{}")
        (machine / "teacher.safetensors").write_bytes(b"")
    out = tmp_path / "check"
    argv = ["thermal", "check", "--machine", str(machine), "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "machine:" in err and "thermonn computer train" in err
    assert not out.exists()


def test_an_unreadable_run_folder_is_refused_before_writing(tmp_path) -> None:
    machine = tmp_path / "machine"
    machine.mkdir()
    (machine / "config.json").write_text('{"dataset": "digits"}')
    for name in ("teacher.safetensors", "machine.safetensors"):
        (machine / name).write_bytes(b"not safetensors")
    config = ConsistencyConfig(machine=str(machine))  # the files are there …
    with pytest.raises(ValueError, match="machine: .* not a readable trained run folder"):
        run_consistency(config, tmp_path / "run")  # … but cannot be loaded
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "kwargs,error,field",
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 2**32}, ValueError, "seed"),
        ({"quick": "yes"}, TypeError, "quick"),
        ({"machine": 3}, TypeError, "machine"),
    ],
)
def test_config_names_the_bad_field(kwargs, error, field) -> None:
    with pytest.raises(error, match=f"^{field}:"):
        ConsistencyConfig(**kwargs)


@pytest.mark.slow
def test_machine_section_on_the_committed_digits_machine(tmp_path) -> None:
    """The committed machine at its own Δt (about 30 s): its heat books close by Simpson's
    rule, the midpoint rule and Euler–Maruyama's stationary law show O(Δt) findings, and the
    field switch from the split input #0 fails Jarzynski and Crooks."""
    config = ConsistencyConfig(machine=str(MACHINE), quick=True)
    report = run_consistency(config, tmp_path / "run")
    assert report.machine is not None
    assert report.machine["basins_from_x0"] == {"0": [187, 113], "1": [300]}
    run = "digits machine, classification run (float64)"
    assert abs(_row(report, "B", run, "first law", 1e-3).measured) < 1e-9
    assert not _row(report, "B", run, "first law (midpoint rule)", 1e-3).passed
    equilibrium = "digits machine, equilibrium at test input #1"
    centred = [r for r in report.rows if r.system == equilibrium and r.check == "equipartition"]
    assert centred[0].extra["mean_T"] == pytest.approx(centred[0].extra["em_prediction"], abs=0.01)
    single = "digits machine #1, field switch"
    assert all(r.passed for r in report.rows if r.system.startswith(single))
    split = "digits machine #0, field switch"
    assert not _row(report, "B", split, "Jarzynski", 1e-3).passed
    assert not _row(report, "B", split, "Crooks", 1e-3).passed
    assert "Broken ergodicity" in (tmp_path / "run" / "report.md").read_text()
