"""``thermonn linalg``: thermodynamic linear algebra's accuracy against samples (plots)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from thermonn.cli.args import (
    add_config_arguments,
    add_run_folder_options,
    check_out_folder,
    config_from_args,
    nonnegative_float,
    positive_float,
    positive_int,
    seed,
)

__all__ = ["add_linalg", "linalg"]


def add_linalg(sub: Any) -> None:
    from thermonn.experiments.linalg import FUNCTIONS, LinalgConfig

    parser = sub.add_parser(
        "linalg",
        help="thermodynamic solve / inverse / exp(-A) / log det: error vs samples and device time",
        description="Read linear-algebra answers off a simulated analog device (Euler–Maruyama "
        "on the Langevin engine, products with A only) for Wishart matrices; report the "
        "relative error against torch.linalg over seeds, the modelled device time and energy, "
        "and this computer's wall-clock (the digital solve wins here), with plots.",
    )
    add_config_arguments(
        parser,
        LinalgConfig,
        {
            "dim": "matrix size d",
            "samples": "sample counts to sweep (logdet: samples/10 switching chains)",
            "seeds": "seeds (one matrix and one device run each)",
            "functions": "functions to run",
            "interval": "readout interval in device time constants",
            "burn_in": "burn-in in device time constants",
            "switch_time": "logdet switching time in device time constants",
        },
        types={
            "dim": positive_int,
            "samples": positive_int,
            "seeds": seed,
            "interval": positive_float,
            "burn_in": nonnegative_float,
            "switch_time": positive_float,
        },
        choices={"functions": list(FUNCTIONS)},
    )
    add_run_folder_options(parser, "linalg")


def linalg(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.linalg import LinalgConfig, run_linalg

    config = config_from_args(LinalgConfig, args)
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("linalg-%Y%m%d-%H%M%S"))
    total = len(config.functions) * len(config.samples) * len(config.seeds)
    with tqdm(total=total, desc="linalg", unit="run", disable=args.no_progress) as bar:
        payload = run_linalg(config, run_dir, progress=bar.update, command=args.argv)
    for r in payload["rows"]:
        print(
            f"{r['function']:>8} samples {r['samples']:>6}: error {r['error']:.3g} ± "
            f"{r['error_std']:.2g}, device {r['device_time_tau']:.4g} tau / "
            f"{r['device_energy_joules']:.3g} J, simulated in {r['wall_seconds']:.3g} s "
            f"(torch.linalg {r['digital_seconds']:.2g} s)"
        )
    print(f"run folder: {run_dir}")
    return 0
