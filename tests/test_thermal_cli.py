"""``thermonn thermal``: the heat-flow study meets its closed forms, writes its run folder, and
refuses bad input before writing anything."""

from __future__ import annotations

import json

import pytest

from thermonn.cli.main import main

SMALL = [
    "--side",
    "8",
    "--ring",
    "12",
    "--mode",
    "1",
    "--steps",
    "20",
    "--rod",
    "4",
    "--nodes",
    "3",
]


@pytest.mark.parametrize("method", ["exact", "implicit", "explicit"])
def test_heat_study_meets_its_closed_forms(tmp_path, method: str) -> None:
    out = tmp_path / method
    dt = ["--dt", "0.2"] if method == "explicit" else []  # forward Euler: dt ≤ 2/8 on the plate
    argv = ["thermal", "heat", *SMALL, *dt, "--method", method, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    r = json.loads((out / "results.json").read_text())
    for study in ("plate", "ring"):
        assert r[study]["step_law_error"] < 1e-10
        if method == "exact":
            assert r[study]["max_error"] < 1e-10
        else:  # first order in dt: visibly off the continuous-time law, but not far
            assert 1e-5 < r[study]["max_error"] < 0.1
    assert r["plate"]["conservation_error"] < 1e-9
    assert r["rod"]["profile_error"] < 1e-8 and r["rod"]["current_error"] < 1e-8
    assert r["nodes"]["converged"]
    assert r["nodes"]["relaxation_time"] == pytest.approx(1 / r["config"]["bath_coupling"])
    assert r["nodes"]["mean_error"] < 1e-5
    assert (out / "heat_flow.png").stat().st_size > 0 and (out / "report.md").exists()
    assert (out / "command.txt").read_text().startswith("thermonn thermal heat")


def test_explicit_steps_at_the_stable_limit_are_accepted(tmp_path) -> None:
    out = tmp_path / "limit"
    argv = ["thermal", "heat", "--side", "10", "--ring", "12", "--mode", "1", "--steps", "4",
            "--dt", "0.25", "--method", "explicit", "--rod", "3", "--nodes", "2"]  # fmt: skip
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dt", "0"], "--dt"),
        (["--coupling", "-1"], "--coupling"),
        (["--method", "euler"], "--method"),
        (["--mode", "16"], "mode"),
        (["--side", "2"], "side"),
        (["--method", "explicit"], "dt <= 2/lambda_max = 0.25"),
    ],
)
def test_heat_bad_input_is_refused_before_writing(tmp_path, capsys, argv, message) -> None:
    out = tmp_path / "run"
    assert main(["thermal", "heat", *argv, "--out", str(out), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
