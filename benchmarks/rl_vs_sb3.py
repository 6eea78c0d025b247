"""thermonn.rl against stable-baselines3 at equal environment steps: SAC on Pendulum-v1, and
soft PPO against PPO on CartPole-v1.

Same tasks and budgets on both sides — Pendulum-v1 for ``--sac-steps`` (20000) environment
steps, CartPole-v1 for ``--ppo-steps`` (50000) — and ``--seeds`` (5) seeds each. stable-baselines3
runs with its defaults (``SAC("MlpPolicy", env, seed=s)``, ``PPO("MlpPolicy", env, seed=s)``;
PPO's fixed rollouts of 2048 steps make it take ``ceil(steps / 2048) · 2048`` steps, 51200 for
50000, reported beside it); thermonn runs ``thermonn.rl.train(env_id, "sac" | "soft-ppo",
steps, seed)`` with its defaults. Every trained policy is scored the same way: 10 episodes of
the deterministic policy (sb3 ``predict(obs, deterministic=True)``), episode ``i`` reset with
seed ``thermonn.rl.eval_seed(seed, i)`` on a fresh ``gymnasium.make(env_id)``. Wall-clock is the
training alone (``model.learn``; thermonn's ``RLResult.train_seconds``, which excludes its
learning-curve evaluations every ``--curve-every`` steps).

Each run is its own process, pinned to one core with one torch thread; the two libraries'
runs alternate seed by seed so that load on the machine falls on both alike.

    /work/main/.venv-anchors/bin/python benchmarks/rl_vs_sb3.py           # full benchmark
    /work/main/.venv-anchors/bin/python benchmarks/rl_vs_sb3.py --quick --out /tmp/rl_quick

Writes benchmarks/results/rl_vs_sb3.{json,md,png}. Needs the [anchors] extra
(stable-baselines3, gymnasium). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, git_state, package_versions, pin_one_core, summary

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

TASKS = {
    "pendulum": {"env_id": "Pendulum-v1", "thermonn": "sac", "sb3": "SAC"},
    "cartpole": {"env_id": "CartPole-v1", "thermonn": "soft-ppo", "sb3": "PPO"},
}
EVAL_EPISODES = 10


def _evaluate(act, env_id: str, seed: int) -> list[float]:
    """Returns of the deterministic policy ``act(obs) -> env action`` on the shared seeds."""
    import gymnasium as gym

    from thermonn.rl import eval_seed

    env = gym.make(env_id)
    returns = []
    for i in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=eval_seed(seed, i))
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def run_thermonn(task: str, seed: int, steps: int, curve_every: int) -> dict:
    import torch

    from thermonn.rl import make_env, train

    spec = TASKS[task]
    result = train(spec["env_id"], spec["thermonn"], steps, seed, eval_every=curve_every)
    agent = result.agent
    env_spec = make_env(spec["env_id"])[1]

    def act(obs):
        action = agent.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True)
        return env_spec.to_env(action)

    returns = _evaluate(act, spec["env_id"], seed)
    if returns != result.final_returns:
        raise RuntimeError(f"the shared evaluator gave {returns}, train() {result.final_returns}")
    return {
        "returns": returns,
        "train_seconds": result.train_seconds,
        "env_steps": result.steps,
        "alpha": result.alpha,
        "curve": [vars(p) for p in result.curve],
    }


def run_sb3(task: str, seed: int, steps: int) -> dict:
    import gymnasium as gym
    import stable_baselines3

    spec = TASKS[task]
    cls = getattr(stable_baselines3, spec["sb3"])
    model = cls("MlpPolicy", gym.make(spec["env_id"]), seed=seed, verbose=0, device="cpu")
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    seconds = time.perf_counter() - start

    def act(obs):
        action, _ = model.predict(obs, deterministic=True)
        return int(action) if task == "cartpole" else action

    return {
        "returns": _evaluate(act, spec["env_id"], seed),
        "train_seconds": seconds,
        "env_steps": int(model.num_timesteps),
    }


def worker(library: str, task: str, seed: int, steps: int, curve_every: int) -> None:
    affinity = pin_one_core()
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if library == "thermonn":
        out = run_thermonn(task, seed, steps, curve_every)
    else:
        out = run_sb3(task, seed, steps)
    out.update(library=library, task=task, seed=seed, affinity=affinity,
               threads=torch.get_num_threads())  # fmt: skip
    print(json.dumps(out))


def _launch(library: str, task: str, seed: int, steps: int, curve_every: int) -> dict:
    command = [sys.executable, __file__, "--worker", library, task, str(seed), str(steps),
               str(curve_every)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        library, task, seed, steps, curve_every = sys.argv[2:7]
        worker(library, task, int(seed), int(steps), int(curve_every))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets, for a smoke test")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--sac-steps", type=int, default=20_000)
    parser.add_argument("--ppo-steps", type=int, default=50_000)
    parser.add_argument("--curve-every", type=int, default=None,
                        help="thermonn's learning-curve evaluations (default: steps / 10)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="only rewrite the .md and .png of an earlier run's JSON")  # fmt: skip
    parser.add_argument("--note", default=None,
                        help="a remark on the run (e.g. other load on the machine), recorded")  # fmt: skip
    args = parser.parse_args()
    if args.render is not None:
        result = json.loads(args.render.read_text())
        if args.note is not None:
            result["note"] = args.note
            args.render.write_text(json.dumps(result, indent=2) + "\n")
        write_markdown(result, args.render.with_suffix(".md"))
        plot(result, args.render.with_suffix(".png"))
        return
    if args.quick:
        args.seeds, args.sac_steps, args.ppo_steps = [0], 600, 4096
    from thermonn._host import host_info

    start = time.time()
    result = {
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "host": host_info()._asdict(),
        "versions": package_versions(
            ("thermonn", "torch", "numpy", "gymnasium", "stable-baselines3")
        ),
        "git": git_state(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "eval_episodes": EVAL_EPISODES,
        "note": args.note,
        "rows": [],
    }
    for task in args.tasks:
        steps = args.sac_steps if task == "pendulum" else args.ppo_steps
        curve_every = args.curve_every or max(1, steps // 10)
        for seed in args.seeds:
            for library in ("thermonn", "sb3"):
                row = _launch(library, task, seed, steps, curve_every)
                row["final_mean"] = sum(row["returns"]) / len(row["returns"])
                result["rows"].append(row)
                print(f"{task:9s} {library:8s} seed {seed}: eval {row['final_mean']:9.2f}  "
                      f"{row['env_steps']} steps  {row['train_seconds']:.1f} s", flush=True)  # fmt: skip
    result["seconds"] = time.time() - start
    out = args.out or RESULTS / ("rl_vs_sb3_quick" if args.quick else "rl_vs_sb3")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, out.with_suffix(".md"))
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')}, .md and .png")


def _groups(result: dict) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in result["rows"]:
        groups.setdefault((r["task"], r["library"]), []).append(r)
    return groups


def write_markdown(result: dict, path: Path) -> None:
    v, s = result["versions"], result["settings"]
    lines = [
        "# Maximum-entropy RL: thermonn.rl vs stable-baselines3",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['host'].get('cpu')} ({result['host'].get('cores')} cores), each run "
        f"its own process pinned to one core, one torch thread; versions: thermonn "
        f"{v['thermonn']}, stable-baselines3 {v['stable-baselines3']}, gymnasium {v['gymnasium']}, "
        f"torch {v['torch']}; git {result['git']['head']}"
        f"{' (uncommitted changes)' if result['git']['dirty'] else ''}; total "
        f"{result['seconds']:.0f} s.",
        "",
        f"Seeds {s['seeds']}. Final score: mean return of {result['eval_episodes']} episodes of "
        "the deterministic policy, the same evaluation seeds for both libraries; mean ± std "
        "(sample std) over seeds. Wall-clock: training alone, per run. sb3 runs its defaults; "
        "thermonn its defaults (SAC: stable-baselines3's hyper-parameters; soft PPO: "
        "thermonn.rl.discrete).",
        "",
        *([f"Note: {result['note']}", ""] if result.get("note") else []),
        "| task | library | algorithm | env steps | final return | per seed | wall-clock / run (s), mean ± std | median | per seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, library), rows in _groups(result).items():
        spec = TASKS[task]
        ret = summary([r["final_mean"] for r in rows])
        secs = summary([r["train_seconds"] for r in rows])
        algo = spec["thermonn"] if library == "thermonn" else spec["sb3"]
        steps = sorted({r["env_steps"] for r in rows})
        lines.append(
            f"| {spec['env_id']} | {library} | {algo} | {', '.join(map(str, steps))} | "
            f"{ret['mean']:.1f} ± {ret['std']:.1f} | "
            f"{', '.join(f'{x:.1f}' for x in ret['values'])} | {secs['mean']:.1f} ± {secs['std']:.1f} | "
            f"{statistics.median(secs['values']):.1f} | {', '.join(f'{x:.0f}' for x in secs['values'])} |"
        )
    lines += ["", "## Verdict", ""]
    groups = _groups(result)
    for task in dict.fromkeys(r["task"] for r in result["rows"]):
        if (task, "thermonn") not in groups or (task, "sb3") not in groups:
            continue
        ours = summary([r["final_mean"] for r in groups[(task, "thermonn")]])
        theirs = summary([r["final_mean"] for r in groups[(task, "sb3")]])
        n = len(ours["values"])
        noise = math.sqrt((ours["std"] ** 2 + theirs["std"] ** 2) / max(n, 1))
        diff = ours["mean"] - theirs["mean"]
        word = ("within noise of" if abs(diff) <= 2 * noise
                else "better than" if diff > 0 else "worse than")  # fmt: skip
        t_ours = statistics.median(r["train_seconds"] for r in groups[(task, "thermonn")])
        t_theirs = statistics.median(r["train_seconds"] for r in groups[(task, "sb3")])
        lines.append(
            f"- {TASKS[task]['env_id']}: thermonn {ours['mean']:.1f} vs sb3 {theirs['mean']:.1f} "
            f"(difference {diff:+.1f}, two standard errors {2 * noise:.1f}): thermonn is {word} "
            f"sb3; median training wall-clock {t_ours:.1f} s vs {t_theirs:.1f} s per run (sb3 / "
            f"thermonn = {t_theirs / t_ours:.2f})."
        )
    lines += ["", "![learning curves](" + path.with_suffix(".png").name + ")"]
    path.write_text("\n".join(lines) + "\n")


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(result)
    tasks = list(dict.fromkeys(r["task"] for r in result["rows"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, row in enumerate(groups.get((task, "thermonn"), [])):
            x = [p["steps"] for p in row["curve"]]
            ax.plot(x, [p["mean"] for p in row["curve"]], "-", color="C0", alpha=0.6,
                    label="thermonn (eval curve per seed)" if i == 0 else None)  # fmt: skip
        for i, row in enumerate(groups.get((task, "sb3"), [])):
            ax.plot([row["env_steps"]], [row["final_mean"]], "s", color="C1",
                    label="sb3 (final, per seed)" if i == 0 else None)  # fmt: skip
        ax.set_title(TASKS[task]["env_id"])
        ax.set_xlabel("environment steps")
        ax.set_ylabel("deterministic return")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
