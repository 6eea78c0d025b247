"""``thermonn tngd``: the thermodynamic natural-gradient optimiser against Adam, SGD and NGD."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from thermonn.cli.args import (
    add_config_arguments,
    add_run_folder_options,
    check_out_folder,
    config_from_args,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    seed,
)

__all__ = ["add_tngd", "tngd"]


def add_tngd(sub: Any) -> None:
    from thermonn.experiments.tngd import OPTIMIZERS, TASKS, TNGDConfig

    parser = sub.add_parser(
        "tngd",
        help="TNGD, TNGD-Adam, Adam, SGD, exact NGD: loss vs iteration and wall-clock (plots)",
        description="Train one model per optimiser and seed from the same initial weights and "
        "minibatch order: a small CNN on Fashion-MNIST (the paper's 10k images, batch 64) or an "
        "MLP on Friedman #1 regression (where exact NGD by a dense GGN runs too). Reports the "
        "final losses, the steps TNGD needs to reach Adam's final loss, its step time as a "
        "multiple of Adam's and its update against exact NGD. A rerun resumes at the next run.",
    )
    add_config_arguments(
        parser,
        TNGDConfig,
        {
            "task": "task and model",
            "optimizers": "optimisers to run",
            "seeds": "seeds",
            "epochs": "epochs (0: 5 for fashion-mnist, 40 for friedman1)",
            "batch_size": "minibatch size",
            "train_size": "Fashion-MNIST training images",
            "time": "TNGD analog time t per step (device time constants)",
            "damping": "GGN damping lambda",
            "kappa": "device noise kappa_0",
            "tol": "Krylov tolerance (relative to the update)",
            "eval_every": "steps between full training-loss evaluations",
            "lr_tngd": "TNGD learning rate (0: the task's default)",
            "lr_tngd_adam": "TNGD-Adam learning rate (0: default)",
            "lr_adam": "Adam learning rate (0: default)",
            "lr_sgd": "SGD learning rate (0: default)",
            "lr_ngd": "exact NGD learning rate (0: default)",
        },
        types={
            "seeds": seed,
            "epochs": nonnegative_int,
            "batch_size": positive_int,
            "train_size": positive_int,
            "time": positive_float,
            "damping": positive_float,
            "kappa": nonnegative_float,
            "tol": positive_float,
            "eval_every": positive_int,
            **{f"lr_{n.replace('-', '_')}": nonnegative_float for n in OPTIMIZERS},
        },
        choices={"task": list(TASKS), "optimizers": list(OPTIMIZERS)},
    )
    add_run_folder_options(parser, "tngd")


def tngd(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.tngd import TNGDConfig, run_tngd

    config = config_from_args(TNGDConfig, args)
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("tngd-%Y%m%d-%H%M%S"))
    total = len(config.optimizers) * len(config.seeds)
    with tqdm(total=total, desc=f"tngd {config.task}", unit="run", disable=args.no_progress) as bar:
        payload = run_tngd(config, run_dir, progress=bar.update, command=args.argv)
    for name, o in payload["summary"]["optimizers"].items():
        loss, metric = o["final_train_loss"], o["test_metric"]
        ratio = o.get("step_time_vs_adam")
        fractions = o.get("steps_to_adam_final_fraction")
        reach = ""
        if fractions:
            shown = ", ".join("never" if math.isinf(f) else f"{f:.2f}" for f in fractions)
            reach = f"; reaches Adam's final loss at {shown} of its steps"
        print(
            f"{name:>9}: train loss {loss['mean']:.4f} ± {loss['std']:.4f}, test "
            f"{metric['mean']:.4f}, {o['median_step_seconds'] * 1e3:.2f} ms/step"
            + ("" if ratio is None else f" ({ratio:.1f}x Adam)")
            + reach
        )
    print(f"run folder: {run_dir}")
    return 0
