"""The README demo path, on a tiny budget."""

import json
from pathlib import Path

import pytest

from thermonn.cli.main import main
from thermonn.experiments.demo import DemoConfig, build_mlp, count_parameters, matched_mlp_width


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
    assert "| TEL logcosh (h=32, K=4) |" in printed and f"run folder: {out}" in printed
    for name in ("report.md", "results.json", "trajectories.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "command.txt").read_text() == (
        "thermonn demo --epochs 3 --seeds 0 1 --hidden 32 --out " + str(out) + " --no-progress\n"
    )
    results = json.loads((out / "results.json").read_text())
    tel, spin, mlp = results["models"]
    assert len(tel["accuracies"]) == 2
    for model in (tel, spin, mlp):
        assert model["accuracy_mean"] > 0.8  # chance is 0.1
    assert abs(tel["parameters"] - mlp["parameters"]) / tel["parameters"] < 0.02
    assert set(results["trajectories"]) == {
        f"TEL {e} layer {i}" for e in ("logcosh", "spin") for i in (0, 1)
    }
    assert len(results["trajectories"]["TEL spin layer 1"]["temperature"]) == 5
    assert "![trajectories](trajectories.png)" in (out / "report.md").read_text()


def test_matched_width_is_closest():
    for target in (500, 8982, 40000):
        w = matched_mlp_width(64, 10, target)
        counts = {v: count_parameters(build_mlp(64, v, 10)) for v in (w - 1, w, w + 1)}
        assert min(counts, key=lambda v: abs(counts[v] - target)) == w


def test_demo_config_and_cli_reject_bad_values(capsys):
    with pytest.raises(ValueError, match="epochs: expected an int >= 1, got 0"):
        DemoConfig(epochs=0)
    with pytest.raises(ValueError, match="entropies: expected names from"):
        DemoConfig(entropies=("heat",))
    assert main(["demo", "--steps", "0"]) == 2
    assert "expected an integer >= 1, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_full_demo_budget(tmp_path):
    """The README demo at its default budget: every model learns the digits well."""
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [len(m["accuracies"]) for m in results["models"]] == [3, 3, 3]
    assert all(m["accuracy_mean"] > 0.94 for m in results["models"])


def test_readme_example_runs(capsys):
    """The README's Python example, executed as written."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "| layers.0.linear1 | TransformerEncoderLayer | 64 → 256 | relu |" in out
    assert "torch.Size([2, 32, 8, 8])" in out


def test_readme_engine_example_reaches_the_exact_stationary_variance():
    """The README's second example: at the end the well is at kT = 0.1, whose Euler–Maruyama
    stationary variance is kT / (k (1 − μkΔt/2))."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("```python\n")[2].split("```", 1)[0]
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    out = scope["out"]
    exact = 0.1 / (2.0 * (1 - 2.0 * 0.01 / 2))
    assert out.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert float(out.final.var()) == pytest.approx(exact, rel=0.05)
