"""``thermonn thermal heat | check | rl``: the thermodynamic networks' experiments.

``heat`` runs heat flow on a plate, a ring, a rod between baths and coupled nodes against their
closed forms; ``check`` runs the consistency checks on the Langevin engine and the
thermodynamic computer; ``rl`` trains the maximum-entropy agents over seeds. Each writes a run folder
(``command.txt``, ``results.json``, ``report.md``, plots) and shows a progress bar.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from thermonn.cli.args import (
    add_config_arguments,
    add_run_folder_options,
    boolean,
    check_out_folder,
    config_from_args,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed,
)

__all__ = ["add_thermal", "thermal"]


def add_thermal(sub: Any) -> None:
    from thermonn.experiments.heat import HeatConfig

    thermal = sub.add_parser(
        "thermal",
        help="thermodynamic networks: heat-flow demo, consistency checks, max-entropy RL",
        description="Experiments of the thermodynamic-networks toolkit.",
    )
    actions = thermal.add_subparsers(dest="action", required=True, metavar="ACTION")
    heat = actions.add_parser(
        "heat",
        help="heat flow on a plate, ring, rod and coupled nodes vs closed forms (plots)",
        description="Heat flow by exact (matrix exponential), implicit (backward Euler) or "
        "explicit (forward Euler, sparse; refused above its stable dt) steps: Fourier-mode "
        "decay on a periodic plate and a ring graph, the linear profile and Fourier current of "
        "a rod between two baths, thermally coupled nodes relaxing to their layer temperature.",
    )
    add_config_arguments(
        heat,
        HeatConfig,
        {
            "side": "plate side L",
            "spacing": "grid spacing h",
            "diffusivity": "diffusivity D",
            "dt": "time step",
            "steps": "steps",
            "method": "stepping method",
            "mode": "Fourier mode m",
            "ring": "ring nodes",
            "rod": "rod nodes between the baths",
            "nodes": "coupled nodes",
            "coupling": "node coupling J",
            "bath_coupling": "node-bath coupling γ",
        },
        types={
            "side": positive_int,
            "spacing": positive_float,
            "diffusivity": positive_float,
            "dt": positive_float,
            "steps": positive_int,
            "mode": positive_int,
            "ring": positive_int,
            "rod": positive_int,
            "nodes": positive_int,
            "coupling": nonnegative_float,
            "bath_coupling": positive_float,
        },
        choices={"method": ["exact", "implicit", "explicit"]},
    )
    add_run_folder_options(heat, "heat")
    _add_check(actions)
    _add_rl(actions)


def _add_check(actions: Any) -> None:
    from thermonn.experiments.consistency import ConsistencyConfig

    check = actions.add_parser(
        "check",
        help="consistency checks (first and second law, equipartition, FDT, Jarzynski, Crooks, "
        "BAR, monitors) on the Langevin engine, a trained machine and broken controls",
        description="Run every physical-consistency check of thermonn.estimators on the "
        "library's Langevin engine (harmonic and double wells, dragged and squeezed traps, at a "
        "fine and a coarse step), on the thermodynamic computer of a `thermonn computer train` "
        "run folder (--machine), and on deliberately broken controls that must fail; the "
        "monitors against exact answers. Findings are the verdicts physics does not demand.",
    )
    add_config_arguments(
        check,
        ConsistencyConfig,
        {
            "machine": "a `thermonn computer train` run folder whose machine is audited "
            "(section B; without one it is skipped)",
            "seed": "seed of every random stream (0: the committed audit's numbers)",
        },
        types={"seed": seed},
    )
    check.add_argument(
        "--quick",
        action="store_true",
        help="one time step per system (the engine's fine step, the machine's own) instead of "
        "the step comparisons",
    )
    add_run_folder_options(check, "check")


def _add_rl(actions: Any) -> None:
    from thermonn.experiments.rl import RLConfig

    rl = actions.add_parser(
        "rl",
        help="maximum-entropy RL (SAC, soft PPO) with an auto-tuned temperature, over seeds",
        description="Train the entropy-regularised agents on a gymnasium task (the [rl] extra): "
        "SAC for continuous actions (Pendulum-v1), soft PPO for discrete ones (CartPole-v1); "
        "the temperature alpha tracks a target entropy unless --fixed-alpha. One run folder "
        "per seed with checkpoints (a rerun resumes exactly), learning curves and a summary.",
    )
    add_config_arguments(
        rl,
        RLConfig,
        {
            "env": "gymnasium environment id",
            "algo": "algorithm (auto: by the action space)",
            "steps": "environment steps per seed (0: 50000 soft-ppo, 20000 sac)",
            "seeds": "seeds",
            "eval_every": "environment steps between evaluations",
            "eval_episodes": "episodes per evaluation",
            "checkpoint_every": "environment steps between checkpoints",
            "alpha": "initial temperature alpha (default: the algorithm's)",
            "fixed_alpha": "keep alpha fixed (no entropy target)",
        },
        types={
            "steps": nonnegative_int,
            "seeds": seed,
            "eval_every": positive_int,
            "eval_episodes": positive_int,
            "checkpoint_every": positive_int,
            "alpha": positive_float,
            "fixed_alpha": boolean,
        },
        choices={"algo": ["auto", "sac", "soft-ppo"]},
    )
    add_run_folder_options(rl, "rl")


def _heat(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.heat import HeatConfig, run_heat

    config = config_from_args(HeatConfig, args)
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("heat-%Y%m%d-%H%M%S"))
    with tqdm(total=4, desc="heat", unit="study", disable=args.no_progress) as bar:
        p = run_heat(config, run_dir, progress=bar.update, command=args.argv)
    print(f"plate mode decay: max error {p['plate']['max_error']:.2e} vs e^(-D lambda t)")
    print(f"ring mode decay: max error {p['ring']['max_error']:.2e}")
    print(
        f"rod: profile error {p['rod']['profile_error']:.2e}, "
        f"current error {p['rod']['current_error']:.2e}"
    )
    print(
        f"coupled nodes: equilibrated at t = {p['nodes']['equilibration_time']:.4g}, "
        f"slowest time constant {p['nodes']['relaxation_time']:.4g} "
        f"(1/gamma = {p['nodes']['predicted_relaxation_time']:.4g})"
    )
    print(f"run folder: {run_dir}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.consistency import (
        ConsistencyConfig,
        findings_lines,
        run_consistency,
        study_count,
    )

    config = config_from_args(ConsistencyConfig, args)  # a bad --machine is refused here
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("check-%Y%m%d-%H%M%S"))
    with tqdm(
        total=study_count(config), desc="check", unit="study", disable=args.no_progress
    ) as bar:
        report = run_consistency(config, run_dir, progress=bar.update, command=args.argv)
    rows = report.rows
    laws = [r for r in rows if r.expect == "pass"]
    controls = [r for r in rows if r.expect == "fail"]
    print(
        f"{len(rows) - len(report.findings)} of {len(rows)} checks as expected: "
        f"{sum(r.passed for r in laws)} of {len(laws)} passed where the law holds, "
        f"{sum(not r.passed for r in controls)} of {len(controls)} controls failed"
    )
    for line in findings_lines(report):
        print(f"finding: {line}")
    print(
        f"{len(report.monitors)} monitors against exact answers (report.md); {report.seconds:.0f} s"
    )
    print(f"run folder: {run_dir}")
    return 0


def _rl(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.rl import RLConfig, resolve, run_rl

    config = config_from_args(RLConfig, args)
    algo, steps, _ = resolve(config)  # an unknown env or a missing gymnasium fails here
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("rl-%Y%m%d-%H%M%S"))
    total = steps * len(config.seeds)
    with tqdm(total=total, desc=f"rl {algo}", unit="step", disable=args.no_progress) as bar:
        payload = run_rl(config, run_dir, progress=bar.update, command=args.argv)
    for s, r in payload["seeds"].items():
        print(
            f"seed {s}: final return {r['final_mean']:.1f} ± {r['final_std']:.1f}, alpha {r['alpha']:.4g}"
        )
    print(
        f"{config.env} {algo}, {steps} steps: {payload['final_mean']:.1f} ± "
        f"{payload['final_std']:.1f} over {len(config.seeds)} seed(s)"
    )
    print(f"run folder: {run_dir}")
    return 0


def thermal(args: argparse.Namespace) -> int:
    """Dispatch ``thermonn thermal ACTION``."""
    return {"heat": _heat, "check": _check, "rl": _rl}[args.action](args)
