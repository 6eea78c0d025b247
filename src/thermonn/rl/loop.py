"""The one training loop of :mod:`thermonn.rl`: environment interaction, evaluation, the
learning curve and resumable checkpoints, for every agent.

    result = train("Pendulum-v1", "sac", 20_000, seed=0, out_dir="runs/sac")
    result.final_mean, result.curve[-1]

One environment, one episode at a time; training episode ``k`` is reset with seed
``seed + k`` (:mod:`thermonn.rl.envs`). Every ``eval_every`` environment steps the
deterministic policy plays ``eval_episodes`` evaluation episodes on a separate environment
(always the same seeds), a point of the learning curve; a final evaluation closes it.

Checkpoints are written at episode boundaries, at the first one at least ``checkpoint_every``
steps after the previous checkpoint: networks, optimiser, replay buffer or partial rollout,
log α, the torch generator's state and the loop's counters, atomically
(:func:`thermonn.train.checkpoint.save_tensors`). As the next episode's initial state depends on
its index alone and every random number comes from the saved generator, a run resumed from a
checkpoint continues bit for bit as if it had not stopped.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from thermonn._io import atomic_write_json
from thermonn._random import seeded_default_generator
from thermonn._validation import check_int, check_optional_int, check_seed
from thermonn.rl.discrete import SoftPPO, SoftPPOConfig
from thermonn.rl.envs import EnvSpec, as_tensor, eval_seed, make_env, train_seed
from thermonn.rl.sac import SAC, SACConfig
from thermonn.train import RunFolder
from thermonn.train.checkpoint import load_tensors, save_tensors

__all__ = [
    "ALGORITHMS",
    "Agent",
    "CurvePoint",
    "EpisodeRecord",
    "RLResult",
    "evaluate",
    "make_agent",
    "train",
]

CHECKPOINT = "checkpoint.safetensors"
POLICY = "agent.safetensors"

ALGORITHMS: dict[str, type[SACConfig] | type[SoftPPOConfig]] = {
    "sac": SACConfig,
    "soft-ppo": SoftPPOConfig,
}
"""Algorithm names and their configuration classes: ``sac`` (continuous actions,
:mod:`thermonn.rl.sac`), ``soft-ppo`` (discrete actions, :mod:`thermonn.rl.discrete`)."""


class Agent(Protocol):
    """What the loop drives: :class:`~thermonn.rl.sac.SAC` and
    :class:`~thermonn.rl.discrete.SoftPPO`."""

    @property
    def alpha(self) -> float: ...

    @property
    def entropy(self) -> float: ...

    def act(
        self, obs: Tensor, *, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> Tensor: ...

    def observe(
        self,
        obs: Tensor,
        action: Tensor,
        reward: float,
        next_obs: Tensor,
        terminated: bool,
        truncated: bool,
        *,
        generator: torch.Generator | None = None,
    ) -> None: ...

    def network_tensors(self) -> dict[str, Tensor]: ...

    def state_tensors(self) -> tuple[dict[str, Tensor], dict[str, Any]]: ...

    def load_state_tensors(
        self, tensors: dict[str, Tensor], meta: dict[str, Any], *, source: str
    ) -> None: ...


@dataclass(frozen=True)
class CurvePoint:
    """The deterministic policy's evaluation after ``steps`` environment steps: ``mean`` and
    ``std`` of the episode returns; the temperature ``alpha`` and the exploring policy's
    ``entropy`` (nats, on its last update's batch) then."""

    steps: int
    mean: float
    std: float
    alpha: float
    entropy: float


@dataclass(frozen=True)
class EpisodeRecord:
    """A finished training episode: its ``index``, the environment ``steps`` at its end, its
    ``length`` and undiscounted ``reward`` sum (of the exploring policy)."""

    index: int
    steps: int
    length: int
    reward: float


@dataclass
class RLResult:
    """A training run: the trained ``agent``; the learning ``curve`` (its last point the final
    evaluation) and the training ``episodes``; ``final_returns`` of the final evaluation and
    their ``final_mean``, ``final_std`` (population std); the final temperature ``alpha``;
    ``train_seconds`` (wall-clock of interaction and updates, evaluations excluded, summed over
    resumed segments) and ``eval_seconds`` (this call's evaluations); ``resumed_from``: the
    environment steps loaded from a checkpoint (0 for a fresh run); ``files``: the run
    folder's files by name (empty without one)."""

    env_id: str
    algo: str
    seed: int
    steps: int
    config: SACConfig | SoftPPOConfig
    agent: Agent
    curve: list[CurvePoint]
    episodes: list[EpisodeRecord]
    final_returns: list[float]
    final_mean: float
    final_std: float
    alpha: float
    train_seconds: float
    eval_seconds: float
    resumed_from: int = 0
    files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Everything but the agent, JSON-able."""
        out = {k: v for k, v in asdict(self).items() if k != "agent"}
        out["config"] = {"class": type(self.config).__name__, **asdict(self.config)}
        return out


def make_agent(
    algo: str,
    spec: EnvSpec,
    config: SACConfig | SoftPPOConfig | None,
    seed: int,
    *,
    total_steps: int | None = None,
) -> tuple[Agent, SACConfig | SoftPPOConfig]:
    """The agent ``algo`` for an environment of ``spec``, its weights drawn from ``seed``;
    ``total_steps`` of training (for schedules).

    Raises:
        ValueError: an unknown ``algo``, or one that does not handle this action space.
        TypeError: a ``config`` of another algorithm.
    """
    if algo not in ALGORITHMS:
        raise ValueError(f"algo: expected one of {sorted(ALGORITHMS)}, got {algo!r}")
    cls = ALGORITHMS[algo]
    if config is None:
        config = cls()
    elif not isinstance(config, cls):
        raise TypeError(
            f"config: expected a {cls.__name__} for {algo!r}, got {type(config).__name__}"
        )
    with seeded_default_generator(seed):
        if isinstance(config, SACConfig):
            if spec.discrete:
                raise ValueError(
                    "algo: 'sac' needs a continuous (Box) action space; use 'soft-ppo'"
                )
            return SAC(config, spec.obs_dim, spec.act_dim), config
        if spec.actions is None:
            raise ValueError("algo: 'soft-ppo' needs a discrete action space; use 'sac'")
        return SoftPPO(config, spec.obs_dim, spec.actions, total_steps=total_steps), config


def evaluate(agent: Agent, env: Any, spec: EnvSpec, *, seed: int, episodes: int) -> list[float]:
    """Returns of ``episodes`` episodes of the deterministic policy, episode ``i`` reset with
    :func:`~thermonn.rl.envs.eval_seed` ``(seed, i)``. Draws no random number."""
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=eval_seed(seed, i))
        total, done = 0.0, False
        while not done:
            action = agent.act(as_tensor(obs), deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(spec.to_env(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def _point(steps: int, returns: list[float], agent: Agent) -> CurvePoint:
    mean, std = statistics.fmean(returns), statistics.pstdev(returns)
    return CurvePoint(steps, mean, std, agent.alpha, agent.entropy)


def train(
    env_id: str,
    algo: str,
    steps: int,
    seed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    config: SACConfig | SoftPPOConfig | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 10,
    checkpoint_every: int = 5_000,
    progress: bool = False,
    on_episode: Callable[[EpisodeRecord], object] | None = None,
    command: Sequence[str] | None = None,
) -> RLResult:
    """Train ``algo`` on gymnasium's ``env_id`` for ``steps`` environment steps.

    With ``out_dir``, the run folder (:class:`thermonn.train.RunFolder`) gets ``config.json``,
    ``checkpoint.safetensors`` (resumed from when it exists), and at the end
    ``agent.safetensors`` (the networks and log α), ``results.json`` and ``curve.png``. A
    call on a folder whose run was interrupted, or has finished, resumes from its last
    checkpoint and ends with the same result as one uninterrupted run.

    Args:
        env_id: a registered gymnasium environment (``Pendulum-v1`` for ``sac``,
            ``CartPole-v1`` for ``soft-ppo``).
        algo: ``"sac"`` or ``"soft-ppo"`` (:data:`ALGORITHMS`).
        steps: environment steps of training. seed: weights, episodes and every draw.
        config: the algorithm's configuration (its defaults when None).
        eval_every: environment steps between learning-curve evaluations (None: only the
            final one). eval_episodes: episodes per evaluation.
        checkpoint_every: least environment steps between checkpoints (with ``out_dir``).
        progress: a tqdm bar over environment steps.
        on_episode: called after each finished episode (and its checkpoint, if any).
        command: the ``thermonn`` arguments, recorded in ``command.txt``.

    Raises:
        ValueError: an unknown ``env_id`` or ``algo``, an algorithm that does not handle the
            environment's actions, non-positive counts, a folder that holds another run.
        TypeError: arguments of the wrong type.
        ImportError: gymnasium is missing.
    """
    steps = check_int("steps", steps, minimum=1)
    seed = check_seed("seed", seed)
    eval_every = check_optional_int("eval_every", eval_every, minimum=1)
    eval_episodes = check_int("eval_episodes", eval_episodes, minimum=1)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
    if algo not in ALGORITHMS:  # before the environment is built
        raise ValueError(f"algo: expected one of {sorted(ALGORITHMS)}, got {algo!r}")
    env, spec = make_env(env_id)
    eval_env, _ = make_env(env_id)
    agent, config = make_agent(algo, spec, config, seed, total_steps=steps)
    settings = run_settings(env_id, algo, steps, seed, config, eval_every, eval_episodes)
    if out_dir is None:
        return _run(agent, env, eval_env, spec, settings, config, None, checkpoint_every,
                    progress, on_episode)  # fmt: skip
    folder = RunFolder(out_dir)
    check = _json_roundtrip(settings)  # what config.json holds
    with folder.writing(check=lambda: folder.check_config(check), command=command):
        folder.write_json("config.json", check)
        result = _run(agent, env, eval_env, spec, settings, config, folder.path,
                      checkpoint_every, progress, on_episode)  # fmt: skip
        save_tensors(folder.path / POLICY, agent.network_tensors(), {"settings": check})
        from thermonn.rl.plot import plot_learning_curve

        plot_learning_curve({f"{algo} seed {seed}": result}, folder.path / "curve.png",
                            title=env_id)  # fmt: skip
        names = ["config.json", POLICY, "results.json", "curve.png"]
        if (folder.path / CHECKPOINT).exists():
            names.append(CHECKPOINT)
        result.files = {name: str(folder.path / name) for name in names}
        atomic_write_json(folder.path / "results.json", result.summary())
        return result


def run_settings(
    env_id: str,
    algo: str,
    steps: int,
    seed: int,
    config: SACConfig | SoftPPOConfig,
    eval_every: int | None,
    eval_episodes: int,
) -> dict[str, Any]:
    """What a run folder's ``config.json`` records (as it reads back from JSON): a folder
    holding other settings is refused by :func:`train`."""
    return _json_roundtrip(
        {
            "env_id": env_id,
            "algo": algo,
            "steps": steps,
            "seed": seed,
            "eval_every": eval_every,
            "eval_episodes": eval_episodes,
            "config": asdict(config),
        }
    )


def _json_roundtrip(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it reads back from JSON (tuples become lists), for config comparisons."""
    import json

    loaded: dict[str, Any] = json.loads(json.dumps(data))
    return loaded


def _run(
    agent: Agent,
    env: Any,
    eval_env: Any,
    spec: EnvSpec,
    settings: dict[str, Any],
    config: SACConfig | SoftPPOConfig,
    folder: Path | None,
    checkpoint_every: int,
    progress: bool,
    on_episode: Callable[[EpisodeRecord], object] | None,
) -> RLResult:
    steps, seed = settings["steps"], settings["seed"]
    eval_every, eval_episodes = settings["eval_every"], settings["eval_episodes"]
    g = torch.Generator().manual_seed(seed)
    env_steps, episode, last_checkpoint, train_seconds = 0, 0, 0, 0.0
    curve: list[CurvePoint] = []
    episodes: list[EpisodeRecord] = []
    checkpoint = None if folder is None else folder / CHECKPOINT
    if checkpoint is not None and checkpoint.exists():
        tensors, meta = load_tensors(checkpoint)
        agent.load_state_tensors(tensors, meta, source=str(checkpoint))
        g.set_state(tensors["generator"])
        env_steps, episode = meta["env_steps"], meta["episode"]
        last_checkpoint, train_seconds = env_steps, meta["train_seconds"]
        curve = [CurvePoint(**p) for p in meta["curve"]]
        episodes = [EpisodeRecord(**e) for e in meta["episodes"]]
    resumed_from = env_steps
    eval_seconds = 0.0

    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=env_steps, disable=not progress, unit="step",
               desc=f"{settings['algo']} {settings['env_id']}")  # fmt: skip
    start = time.perf_counter()
    while env_steps < steps:
        obs_np, _ = env.reset(seed=train_seed(seed, episode))
        obs = as_tensor(obs_np)
        length, total, done = 0, 0.0, False
        while not done and env_steps < steps:
            action = agent.act(obs, generator=g)
            next_np, reward, terminated, truncated, _ = env.step(spec.to_env(action))
            next_obs = as_tensor(next_np)
            agent.observe(obs, action, float(reward), next_obs, bool(terminated),
                          bool(truncated), generator=g)  # fmt: skip
            env_steps += 1
            length += 1
            total += float(reward)
            done = bool(terminated or truncated)
            obs = next_obs
            if eval_every is not None and env_steps % eval_every == 0 and env_steps < steps:
                t = time.perf_counter()
                returns = evaluate(agent, eval_env, spec, seed=seed, episodes=eval_episodes)
                curve.append(_point(env_steps, returns, agent))
                eval_seconds += time.perf_counter() - t
                start += time.perf_counter() - t
        bar.update(length)
        if not done:
            break  # the budget ran out inside this episode
        record = EpisodeRecord(episode, env_steps, length, total)
        episodes.append(record)
        episode += 1
        bar.set_postfix(ret=f"{total:.1f}", alpha=f"{agent.alpha:.3g}", refresh=False)
        if (
            checkpoint is not None
            and env_steps - last_checkpoint >= checkpoint_every
            and env_steps < steps
        ):
            seconds = train_seconds + time.perf_counter() - start
            tensors, meta = agent.state_tensors()
            tensors["generator"] = g.get_state()
            meta.update(env_steps=env_steps, episode=episode, train_seconds=seconds,
                        curve=[asdict(p) for p in curve],
                        episodes=[asdict(e) for e in episodes], settings=settings)  # fmt: skip
            save_tensors(checkpoint, tensors, meta)
            last_checkpoint = env_steps
        if on_episode is not None:
            on_episode(record)
    bar.close()
    train_seconds += time.perf_counter() - start
    t = time.perf_counter()
    final = evaluate(agent, eval_env, spec, seed=seed, episodes=eval_episodes)
    eval_seconds += time.perf_counter() - t
    curve.append(_point(env_steps, final, agent))
    env.close()
    eval_env.close()
    return RLResult(
        env_id=settings["env_id"], algo=settings["algo"], seed=seed, steps=env_steps,
        config=config, agent=agent, curve=curve, episodes=episodes, final_returns=final,
        final_mean=statistics.fmean(final), final_std=statistics.pstdev(final),
        alpha=agent.alpha, train_seconds=train_seconds, eval_seconds=eval_seconds,
        resumed_from=resumed_from,
    )  # fmt: skip
