"""``thermonn thermal rl``: the maximum-entropy agents over several seeds.

Each seed trains in its own run folder ``OUT/seed-S`` through :func:`thermonn.rl.train`
(checkpoints, exact resume, its own learning curve); the parent folder gets the learning curves
of every seed in one plot (``curves.png``), ``results.json`` and ``report.md`` with the final
evaluation's mean ± std across seeds, the final temperatures α and the wall-clock. A rerun on
the same folder resumes every unfinished seed and reuses the finished ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from thermonn._io import atomic_write_json, atomic_write_text
from thermonn._validation import check_bool, check_float, check_int, check_seed
from thermonn.train import RunFolder

__all__ = ["DEFAULT_STEPS", "RLConfig", "resolve", "run_rl"]

DEFAULT_STEPS = {"soft-ppo": 50_000, "sac": 20_000}
"""Environment steps when none are given: the stable-baselines3 comparison's budgets."""


@dataclass(frozen=True)
class RLConfig:
    """The environment, the algorithm (``"auto"``: ``soft-ppo`` for discrete actions, ``sac``
    for continuous ones), environment steps per seed (0: :data:`DEFAULT_STEPS`), the seeds,
    evaluation cadence and episodes, checkpoint cadence, the initial temperature α (None: the
    algorithm's default) and whether α stays fixed instead of tracking the target entropy."""

    env: str = "CartPole-v1"
    algo: str = "auto"
    steps: int = 0
    seeds: tuple[int, ...] = (0,)
    eval_every: int = 5_000
    eval_episodes: int = 10
    checkpoint_every: int = 5_000
    alpha: float | None = None
    fixed_alpha: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ValueError(f"env: expected a gymnasium environment id, got {self.env!r}")
        if self.algo not in ("auto", "sac", "soft-ppo"):
            raise ValueError(f"algo: expected 'auto', 'sac' or 'soft-ppo', got {self.algo!r}")
        check_int("steps", self.steps, minimum=0)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: expected distinct seeds, got {self.seeds!r}")
        for s in self.seeds:
            check_seed("seeds", s)
        check_int("eval_every", self.eval_every, minimum=1)
        check_int("eval_episodes", self.eval_episodes, minimum=1)
        check_int("checkpoint_every", self.checkpoint_every, minimum=1)
        if self.alpha is not None:
            check_float("alpha", self.alpha, above=0.0)
        check_bool("fixed_alpha", self.fixed_alpha)


def resolve(config: RLConfig) -> tuple[str, int, Any]:
    """The algorithm, the steps and the agent configuration ``config`` stands for (builds the
    environment once to read its action space).

    Raises:
        ValueError: an unknown environment, or an algorithm that does not fit its actions.
        ImportError: gymnasium is not installed.
    """
    from thermonn.rl import ALGORITHMS, make_env

    env, spec = make_env(config.env)
    env.close()
    algo = config.algo if config.algo != "auto" else ("soft-ppo" if spec.discrete else "sac")
    if (algo == "sac") == spec.discrete:
        kind = "discrete" if spec.discrete else "continuous"
        raise ValueError(f"algo: {algo!r} does not handle the {kind} actions of {config.env}")
    steps = config.steps or DEFAULT_STEPS[algo]
    agent = ALGORITHMS[algo]()
    changes: dict[str, Any] = {}
    if config.alpha is not None:
        changes["alpha"] = config.alpha
    if config.fixed_alpha:
        changes["auto_alpha"] = False
    return algo, steps, replace(agent, **changes)


def run_rl(
    config: RLConfig,
    run_dir: Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train every seed (resuming where a folder holds a checkpoint) and write the summary.
    ``progress`` is called with the environment steps of each finished episode."""
    from thermonn.rl import RLResult, plot_learning_curve, run_settings, train

    algo, steps, agent_config = resolve(config)
    run_dir = Path(run_dir)

    def check() -> None:  # every seed's folder, before command.txt is written
        for seed in config.seeds:
            RunFolder(run_dir / f"seed-{seed}").check_config(
                run_settings(
                    config.env,
                    algo,
                    steps,
                    seed,
                    agent_config,
                    config.eval_every,
                    config.eval_episodes,
                )
            )

    results: dict[int, RLResult] = {}
    with RunFolder(run_dir).writing(check=check, command=command):
        for seed in config.seeds:
            last = [0]

            def tick(record: Any, last: list[int] = last) -> None:
                if progress is not None:
                    progress(record.steps - last[0])
                last[0] = record.steps

            results[seed] = train(
                config.env, algo, steps, seed, run_dir / f"seed-{seed}", config=agent_config,
                eval_every=config.eval_every, eval_episodes=config.eval_episodes,
                checkpoint_every=config.checkpoint_every, on_episode=tick, command=command,
            )  # fmt: skip
            if progress is not None:
                progress(steps - last[0])
        plot_learning_curve(
            {f"seed {s}": r for s, r in results.items()}, run_dir / "curves.png",
            title=f"{config.env}: {algo}",
        )  # fmt: skip
        finals = [r.final_mean for r in results.values()]
        payload = {
            "config": asdict(config),
            "algo": algo,
            "steps": steps,
            "agent_config": asdict(agent_config),
            "final_mean": statistics.fmean(finals),
            "final_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "seeds": {str(s): r.summary() for s, r in results.items()},
        }
        atomic_write_json(run_dir / "results.json", payload)
        atomic_write_text(run_dir / "report.md", _report(payload, results))
    return payload


def _report(payload: dict[str, Any], results: dict[int, Any]) -> str:
    c = payload["config"]
    lines = [
        f"# Maximum-entropy RL: {payload['algo']} on {c['env']}",
        "",
        f"{payload['steps']} environment steps per seed, seeds {c['seeds']}; the final "
        f"evaluation is {c['eval_episodes']} episodes of the deterministic policy. Across "
        f"seeds: **{payload['final_mean']:.1f} ± {payload['final_std']:.1f}** (sample std).",
        "",
        "![learning curves](curves.png)",
        "",
        "| seed | final return (mean ± std over episodes) | final α | train s | resumed from |",
        "|---|---|---|---|---|",
    ]
    for seed, r in results.items():
        lines.append(
            f"| {seed} | {r.final_mean:.1f} ± {r.final_std:.1f} | {r.alpha:.4g} "
            f"| {r.train_seconds:.1f} | {r.resumed_from} |"
        )
    lines += [
        "",
        "Each seed's run folder (`seed-S/`) holds its checkpoint, trained networks, learning "
        "curve and results; rerunning the command resumes unfinished seeds exactly.",
    ]
    return "\n".join(lines) + "\n"
