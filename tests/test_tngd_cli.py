"""``thermonn tngd`` and ``thermonn linalg``: run folders, resume, summaries, refusals."""

from __future__ import annotations

import json
import math

import pytest

from thermonn.cli.main import main
from thermonn.experiments.tngd import TNGDConfig, summarise

pytestmark = pytest.mark.usefixtures("one_thread")

FRIEDMAN = ["tngd", "--task", "friedman1", "--seeds", "0", "--epochs", "1", "--eval-every", "5"]


def test_tngd_runs_every_optimiser_and_resumes_without_retraining(tmp_path):
    out = tmp_path / "run"
    argv = [*FRIEDMAN, "--optimizers", "adam", "tngd", "ngd", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    first = json.loads((out / "results.json").read_text())
    assert {r["optimizer"] for r in first["runs"]} == {"adam", "tngd", "ngd"}
    assert all(r["parameters"] == 465 for r in first["runs"])
    assert (out / "tngd_loss.png").stat().st_size > 0
    # steps: 1500 training rows / 64 per batch = 24 per epoch
    assert all(r["steps"] == 24 for r in first["runs"])
    agreement = first["summary"]["ngd_agreement"]
    assert len(agreement["start"]) == 1 and 0 <= agreement["start"][0] < 1
    stamp = (out / "runs" / "tngd-0.json").stat().st_mtime_ns
    assert main(argv) == 0  # resumes: every run is on disk
    assert (out / "runs" / "tngd-0.json").stat().st_mtime_ns == stamp
    again = json.loads((out / "results.json").read_text())
    assert again["summary"] == first["summary"]


def test_a_changed_configuration_is_refused_in_the_same_folder(tmp_path, capsys):
    out = tmp_path / "run"
    base = [*FRIEDMAN, "--optimizers", "sgd", "--out", str(out), "--no-progress"]
    assert main(base) == 0
    assert main([*base, "--damping", "0.5"]) == 2
    assert "different configuration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "cifar10"], "invalid choice"),
        (["--optimizers", "lbfgs"], "invalid choice"),
        (["--time", "-1"], "--time"),
        (["--damping", "0"], "--damping"),
    ],
)
def test_bad_tngd_arguments_are_refused_before_writing(tmp_path, capsys, extra, message):
    out = tmp_path / "never"
    assert main([*FRIEDMAN, *extra, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_summary_counts_steps_to_adams_final_loss():
    config = TNGDConfig(task="friedman1", optimizers=("adam", "tngd"), seeds=(0, 1))

    def run(name, seed, trace, steps=100):
        return {"optimizer": name, "seed": seed, "trace": trace, "steps": steps,
                "final_train_loss": trace[-1][2], "test_metric": 0.0,
                "median_step_seconds": 0.002 if name == "adam" else 0.02, "wall_seconds": 1.0,
                "ngd_agreement": {}}  # fmt: skip

    runs = [
        run("adam", 0, [(0, 0.0, 1.0), (50, 1.0, 0.5), (100, 2.0, 0.2)]),
        run("adam", 1, [(0, 0.0, 1.0), (100, 2.0, 0.3)]),
        run("tngd", 0, [(0, 0.0, 1.0), (25, 1.0, 0.19), (100, 4.0, 0.1)]),
        run("tngd", 1, [(0, 0.0, 1.0), (100, 4.0, 0.31)]),  # never reaches 0.3
    ]
    s = summarise(config, runs)["optimizers"]["tngd"]
    assert s["steps_to_adam_final_fraction"][0] == pytest.approx(0.25)
    assert math.isinf(s["steps_to_adam_final_fraction"][1])
    assert s["step_time_vs_adam"] == pytest.approx(10.0)


def test_linalg_command_writes_its_sweep(tmp_path):
    out = tmp_path / "la"
    argv = ["linalg", "--dim", "4", "--samples", "200", "800", "--seeds", "0", "1",
            "--functions", "solve", "inv", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    r = json.loads((out / "results.json").read_text())
    rows = {(row["function"], row["samples"]): row for row in r["rows"]}
    assert set(rows) == {("solve", 200), ("solve", 800), ("inv", 200), ("inv", 800)}
    for row in rows.values():
        assert row["device_time_tau"] >= row["samples"]  # readouts one τ apart, plus burn-in 0
        assert 0 < row["error"] < 1
    assert (out / "linalg_accuracy.png").stat().st_size > 0
    assert main(["linalg", "--samples", "5", "--out", str(tmp_path / "never")]) == 2
