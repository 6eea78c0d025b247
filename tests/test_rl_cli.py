"""``thermonn thermal rl``: one folder per seed, a summary across seeds, exact resume on rerun,
and bad input refused before anything is written."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("gymnasium")

from thermonn.cli.main import main
from thermonn.experiments.rl import RLConfig, resolve

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = [
    "--steps",
    "1000",
    "--eval-every",
    "1000",
    "--eval-episodes",
    "2",
    "--checkpoint-every",
    "600",
]


def test_rl_runs_every_seed_and_resumes_exactly(tmp_path, capsys) -> None:
    out = tmp_path / "cartpole"
    argv = [
        "thermal",
        "rl",
        "--env",
        "CartPole-v1",
        *QUICK,
        "--seeds",
        "0",
        "1",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    first = json.loads((out / "results.json").read_text())
    assert first["algo"] == "soft-ppo" and set(first["seeds"]) == {"0", "1"}
    finals = [first["seeds"][s]["final_mean"] for s in ("0", "1")]
    assert first["final_mean"] == pytest.approx(sum(finals) / 2)
    for s in ("0", "1"):
        assert (out / f"seed-{s}" / "checkpoint.safetensors").exists()
        assert [p["steps"] for p in first["seeds"][s]["curve"]][-1] == 1000
    assert (out / "curves.png").stat().st_size > 0 and "± " in (out / "report.md").read_text()
    assert main(argv) == 0  # a finished folder: resumed from its checkpoint, same result
    again = json.loads((out / "results.json").read_text())
    for s in ("0", "1"):
        assert again["seeds"][s]["resumed_from"] > 0
        assert again["seeds"][s]["final_returns"] == first["seeds"][s]["final_returns"]
    assert "over 2 seed(s)" in capsys.readouterr().out
    command = (out / "command.txt").read_text()
    other = [a if a != "1000" else "2000" for a in argv]  # another budget: refused, no trace
    assert main(other) == 2
    assert "different configuration" in capsys.readouterr().err
    assert (out / "command.txt").read_text() == command


def test_algorithm_and_budget_follow_the_action_space() -> None:
    algo, steps, config = resolve(RLConfig(env="Pendulum-v1"))
    assert algo == "sac" and steps == 20_000 and config.auto_alpha
    algo, steps, config = resolve(RLConfig(env="CartPole-v1", alpha=0.2, fixed_alpha=True))
    assert algo == "soft-ppo" and steps == 50_000 and config.alpha == 0.2 and not config.auto_alpha


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--env", "Pendulum-v1", "--algo", "soft-ppo"], "continuous actions"),
        (["--env", "CartPole-v1", "--algo", "sac"], "discrete actions"),
        (["--env", "Nope-v0"], "env_id"),
        (["--seeds", "1", "1"], "seeds"),
        (["--alpha", "0"], "--alpha"),
        (["--eval-episodes", "0"], "--eval-episodes"),
    ],
)
def test_rl_bad_input_is_refused_before_writing(tmp_path, capsys, argv, message) -> None:
    out = tmp_path / "run"
    assert main(["thermal", "rl", *argv, "--out", str(out), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
