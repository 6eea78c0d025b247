"""The README demo path, on a tiny budget."""

import json

import pytest

from thermonn.cli.main import main
from thermonn.demo import DemoConfig, build_mlp, count_parameters, matched_mlp_width


def test_demo_cli_writes_report_and_beats_chance(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "demo",
            "--epochs",
            "3",
            "--seeds",
            "0",
            "1",
            "--hidden",
            "32",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| TEL net (h=32, K=4) |" in printed and f"run folder: {out}" in printed
    for name in ("report.md", "results.json", "trajectories.png"):
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    tel, mlp = results["models"]
    assert len(tel["accuracies"]) == 2
    assert tel["accuracy_mean"] > 0.8 and mlp["accuracy_mean"] > 0.8  # chance is 0.1
    assert abs(tel["parameters"] - mlp["parameters"]) / tel["parameters"] < 0.02
    assert len(results["trajectories"]["0"]["temperature"]) == 5
    assert "![trajectories](trajectories.png)" in (out / "report.md").read_text()


def test_matched_width_is_closest():
    for target in (500, 8982, 40000):
        w = matched_mlp_width(64, 10, target)
        counts = {v: count_parameters(build_mlp(64, v, 10)) for v in (w - 1, w, w + 1)}
        assert min(counts, key=lambda v: abs(counts[v] - target)) == w


def test_demo_config_and_cli_reject_bad_values(capsys):
    with pytest.raises(ValueError, match="epochs: expected an int >= 1, got 0"):
        DemoConfig(epochs=0)
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])
    assert "expected an integer >= 1, got 0" in capsys.readouterr().err
