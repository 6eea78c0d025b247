"""``thermonn ising | anneal | hopfield | rbm``: the discrete machines' experiments.

Each sub-command builds its experiment's config from the options (defaults are the config's
own), checks the run folder before any work, shows a progress bar, and writes the run folder
(``command.txt``, ``results.json``, ``report.md``, plots).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thermonn.cli.args import (
    add_config_arguments,
    add_run_folder_options,
    boolean,
    check_out_folder,
    config_from_args,
    fraction,
    nonnegative_int,
    positive_float,
    positive_int,
    seed,
)

__all__ = ["MACHINE_COMMANDS", "add_machines"]


def _probability(text: str) -> float:
    value = fraction(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value:g}")
    return value


def add_machines(sub: Any) -> None:
    from thermonn.data import BINARY_DATASETS
    from thermonn.experiments.anneal import PROBLEMS, SCHEDULES, AnnealConfig
    from thermonn.experiments.hopfield import HopfieldConfig
    from thermonn.experiments.ising import SAMPLERS, IsingConfig
    from thermonn.experiments.rbm import RBMConfig

    ising = sub.add_parser(
        "ising",
        help="2-D Ising phase diagram: energy, |m|, C, χ, Binder vs T for several L, T_c estimate",
        description="Sample periodic L x L Ising lattices over a temperature grid (all "
        "temperatures at once), then report observables, Binder crossings and a finite-size "
        "estimate of T_c against Onsager's exact solution.",
    )
    add_config_arguments(
        ising,
        IsingConfig,
        {
            "sizes": "lattice sides L (even, increasing)",
            "kT_min": "lowest kT",
            "kT_max": "highest kT",
            "temperatures": "grid points",
            "chains": "chains per temperature",
            "sweeps": "measured sweeps",
            "burn_in": "discarded sweeps",
            "thin": "measure every N sweeps",
            "sampler": "sweep rule",
            "seed": "random seed",
        },
        types={
            "sizes": positive_int,
            "kT_min": positive_float,
            "kT_max": positive_float,
            "temperatures": positive_int,
            "chains": positive_int,
            "sweeps": positive_int,
            "burn_in": nonnegative_int,
            "thin": positive_int,
            "seed": seed,
        },
        choices={"sampler": sorted(SAMPLERS)},
    )
    add_run_folder_options(ising, "ising")

    anneal = sub.add_parser(
        "anneal",
        help="simulated annealing: cooling schedules compared by energy, success, time-to-solution",
        description="Anneal one spin-glass or QUBO instance with each cooling schedule (same "
        "sweeps, reads and temperature range); report energies, success probability against "
        "the exact (n <= 24) or best-known ground state, and time-to-solution at 99%.",
    )
    add_config_arguments(
        anneal,
        AnnealConfig,
        {
            "problem": "instance kind",
            "size": "variables (lattice: side)",
            "instance_seed": "instance seed",
            "schedules": "cooling schedules to compare",
            "sweeps": "sweeps per read",
            "reads": "independent reads",
            "sweep": "sweep rule",
            "seed": "seed of the annealing runs",
        },
        types={
            "size": positive_int,
            "instance_seed": seed,
            "sweeps": positive_int,
            "reads": positive_int,
            "seed": seed,
        },
        choices={
            "problem": list(PROBLEMS),
            "schedules": list(SCHEDULES),
            "sweep": ["metropolis", "gibbs"],
        },
    )
    add_run_folder_options(anneal, "anneal")

    hopfield = sub.add_parser(
        "hopfield",
        help="Hopfield networks: recall vs load (classic ≈ 0.138 N limit, modern), digits recall",
        description="Store random patterns at increasing loads in the classic (Hebbian) and the "
        "modern Hopfield network, measure recall of noisy probes, and show both networks "
        "recalling corrupted digits.",
    )
    add_config_arguments(
        hopfield,
        HopfieldConfig,
        {
            "neurons": "N",
            "loads": "classic loads α = P/N",
            "modern_loads": "extra loads for the modern network",
            "noise": "fraction of probe bits flipped",
            "probes": "probes per pattern set",
            "pattern_sets": "pattern sets per load",
            "sweeps": "classic relaxation sweeps (max)",
            "steps": "modern updates",
            "beta": "modern β",
            "recalled": "overlap that counts as recalled",
            "digits": "digits stored in the panel",
            "digits_noise": "fraction of digit bits flipped",
            "seed": "random seed",
        },
        types={
            "neurons": positive_int,
            "loads": positive_float,
            "modern_loads": positive_float,
            "noise": float,
            "probes": positive_int,
            "pattern_sets": positive_int,
            "sweeps": positive_int,
            "steps": positive_int,
            "beta": positive_float,
            "recalled": fraction,
            "digits": positive_int,
            "digits_noise": float,
            "seed": seed,
        },
    )
    add_run_folder_options(hopfield, "hopfield")

    rbm = sub.add_parser(
        "rbm",
        help="RBM on binarized digits / Fashion-MNIST: CD or PCD, AIS log-likelihood with bounds",
        description="Train a Bernoulli RBM by CD-k or PCD-k (resumable run folder), then bracket "
        "its train and test log-likelihood by forward and reverse AIS and draw samples.",
    )
    add_config_arguments(
        rbm,
        RBMConfig,
        {
            "dataset": "binarized data set",
            "directory": "IDX folder (dataset idx, or a Fashion-MNIST copy)",
            "limit_train": "use the first N training images",
            "hidden": "hidden units",
            "rule": "learning rule",
            "centered": "centred gradient (true/false)",
            "k": "Gibbs sweeps per update",
            "chains": "PCD persistent chains",
            "epochs": "training epochs",
            "batch_size": "minibatch size",
            "lr": "SGD learning rate",
            "momentum": "SGD momentum",
            "weight_decay": "L2 weight decay",
            "ais_steps": "AIS intermediate distributions",
            "ais_runs": "AIS runs",
            "reverse_burn_in": "Gibbs sweeps before reverse AIS",
            "seed": "random seed",
        },
        types={
            "limit_train": positive_int,
            "centered": boolean,
            "hidden": positive_int,
            "k": positive_int,
            "chains": positive_int,
            "epochs": positive_int,
            "batch_size": positive_int,
            "lr": positive_float,
            "momentum": float,
            "weight_decay": float,
            "ais_steps": positive_int,
            "ais_runs": positive_int,
            "reverse_burn_in": nonnegative_int,
            "seed": seed,
        },
        choices={"dataset": list(BINARY_DATASETS), "rule": ["pcd", "cd"]},
    )
    add_run_folder_options(rbm, "rbm")


def _run(
    args: argparse.Namespace,
    config_type: type,
    runner: Callable[..., Any],
    total: Callable[[Any], int],
    unit: str,
) -> tuple[Any, Path]:
    from tqdm import tqdm

    config: Any = config_from_args(config_type, args)
    run_dir = check_out_folder(
        args.out or Path("runs") / time.strftime(f"{args.command}-%Y%m%d-%H%M%S")
    )
    with tqdm(total=total(config), desc=args.command, unit=unit, disable=args.no_progress) as bar:
        result = runner(config, run_dir, progress=bar.update, command=args.argv)
    return result, run_dir


def _ising(args: argparse.Namespace) -> int:
    from thermonn.experiments.ising import IsingConfig, run_ising

    result, run_dir = _run(
        args, IsingConfig, run_ising, lambda c: len(c.sizes) * (c.burn_in + c.sweeps), "sweep"
    )
    for c in result.crossings:
        print(f"Binder crossing L = {c['small']}/{c['large']}: kT = {c['crossing']:.4f}")
    print(f"T_c estimate {result.critical_temperature:.4f} (exact 2/ln(1+√2) = 2.2692)")
    print(f"run folder: {run_dir}")
    return 0


def _anneal(args: argparse.Namespace) -> int:
    from thermonn.experiments.anneal import AnnealConfig, run_anneal

    (outcomes, info), run_dir = _run(
        args, AnnealConfig, run_anneal, lambda c: len(c.schedules) * c.sweeps, "sweep"
    )
    print(f"{info['description']}; target {info['target']:.4f} ({info['target_kind']})")
    for o in outcomes:
        print(
            f"  {o.schedule:12s} best {min(o.energies):.4f}  success {o.success:.2f}  TTS99 {o.tts:.3g} s"
        )
    print(f"run folder: {run_dir}")
    return 0


def _hopfield(args: argparse.Namespace) -> int:
    from thermonn.experiments.hopfield import HopfieldConfig, run_hopfield

    def total(c: HopfieldConfig) -> int:
        return c.pattern_sets * (len(c.loads) + len({*c.loads, *c.modern_loads}))

    payload, run_dir = _run(args, HopfieldConfig, run_hopfield, total, "set")
    for r in payload["classic"]:
        print(f"  α = {r['load']:.3f}: classic recalled {r['recalled']:.2f}")
    print(f"run folder: {run_dir}")
    return 0


def _rbm(args: argparse.Namespace) -> int:
    from thermonn.experiments.rbm import RBMConfig, run_rbm

    payload, run_dir = _run(args, RBMConfig, run_rbm, lambda c: c.epochs, "epoch")
    for name, b in payload["log_likelihood"].items():
        flag = "" if b["consistent"] else "  (inverted: AIS has not converged, raise --ais-steps)"
        print(
            f"{name} log-likelihood {b['estimate']:.3f} nats, bracket [{b['lower']:.3f}, {b['upper']:.3f}]{flag}"
        )
    print(f"run folder: {run_dir}")
    return 0


MACHINE_COMMANDS = {"ising": _ising, "anneal": _anneal, "hopfield": _hopfield, "rbm": _rbm}
