"""``thermonn computer train|eval|report|generate``: the thermodynamic computer's run folders."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from thermonn.cli.args import (
    add_config_arguments,
    check_out_folder,
    config_from_args,
    nonnegative_int,
    optional_positive_int,
    positive_float,
    positive_int,
    seed,
)
from thermonn.train.run_folder import RunFolder

__all__ = ["add_computer", "computer"]


def _kappa(text: str) -> float | None:
    if text == "exact":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'exact', got {text!r}"
        ) from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number or 'exact', got {text!r}")
    return value


def add_computer(sub: Any) -> None:
    from thermonn.experiments.thermocomputer.data import DATASETS
    from thermonn.experiments.thermocomputer.run import TRAINERS, RunConfig
    from thermonn.machines import BLOCKS

    comp = sub.add_parser(
        "computer",
        help="thermodynamic computer: train a Langevin machine to imitate a teacher MLP",
        description="Whitelam's thermodynamic computer: a teacher MLP, idealised trajectories, "
        "training on the Onsager-Machlup action, evaluation and heat accounting in a run folder.",
    )
    actions = comp.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        help="train teacher and machine, then eval and report",
        description="Train the teacher MLP and fit the machine to its idealised trajectories "
        "(resumes in an existing run folder of the same configuration), then evaluate and "
        "write the report.",
    )
    train.add_argument("--out", type=Path, required=True, help="run folder (resumes if it exists)")
    add_config_arguments(
        train,
        RunConfig,
        {
            "dataset": "data set",
            "data_dir": "IDX directory (required for mnist; fashion-mnist defaults to Debian's "
            "dataset-fashion-mnist)",
            "kappa": "guide scale, or 'exact'",
            "trainer": "least squares or Adam",
            "epochs": "Adam epochs",
            "lr": "Adam learning rate",
            "batch_size": "minibatch size",
            "teacher_epochs": "teacher epochs",
            "distill_epochs": "after the action fit, distil the teacher through the dynamics "
            "for N epochs",
            "distill_lr": "distillation learning rate",
            "seed": "seed of every stage",
            "limit_train": "first N training images",
            "limit_test": "first N test images",
            "t_final": "readout time t_f",
            "blocks": "connectivity blocks of the machine",
        },
        types={
            "kappa": _kappa,
            "epochs": positive_int,
            "lr": positive_float,
            "batch_size": positive_int,
            "teacher_epochs": positive_int,
            "distill_epochs": nonnegative_int,
            "distill_lr": positive_float,
            "seed": seed,
            "limit_train": optional_positive_int,
            "limit_test": optional_positive_int,
            "t_final": positive_float,
        },
        choices={"dataset": DATASETS, "trainer": TRAINERS, "blocks": BLOCKS},
    )
    train.add_argument("--no-eval", action="store_true", help="stop after training")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    ev = actions.add_parser(
        "eval",
        help="evaluate a trained run folder (summary.json)",
        description="Score a trained run folder's machine (accuracy, heat, energetics, "
        "optional kappa sweep); writes evaluation.json and summary.json.",
    )
    ev.add_argument("out", type=Path, help="a trained run folder")
    for p in (train, ev):
        p.add_argument(
            "--trajectories", type=positive_int, default=10, help="M for the averaged readout"
        )
        p.add_argument(
            "--kappas",
            type=_kappa,
            nargs="*",
            default=[],
            help="κ sweep (refits with the exact trainer)",
        )
        p.add_argument(
            "--joules-per-mac", type=positive_float, default=1e-12, help="digital cost model"
        )
        p.add_argument(
            "--temperature", type=positive_float, default=300.0, help="bath temperature in K"
        )
    rep = actions.add_parser(
        "report",
        help="(re)write plots and report.md of an evaluated run",
        description="Write report.md and the plots of an evaluated run folder.",
    )
    rep.add_argument("out", type=Path, help="an evaluated run folder")
    gen = actions.add_parser(
        "generate",
        help="generative mode: train on reversed noising paths of the digits, sample",
        description="Generative thermodynamic computing on the 8x8 digits: fit the machine "
        "to time-reversed noising paths exactly, draw samples from equilibrium noise, and score "
        "them with a classifier; writes generative.json and a sample grid.",
    )
    gen.add_argument("--out", type=Path, required=True, help="run folder")
    gen.add_argument("--samples", type=positive_int, default=500, help="samples to draw")
    gen.add_argument("--seed", type=seed, default=0, help="seed of the noise")


def _generate(args: argparse.Namespace) -> None:
    from thermonn.experiments.thermocomputer.generate import generate_run

    out = check_out_folder(args.out)
    result = generate_run(out, samples=args.samples, seed=args.seed, command=args.argv)
    conf = result["classifier_confidence"]
    heat = result["heat_per_sample_kT"]
    print(
        f"heat per sample {heat['mean']:.4g} ± {heat['std']:.3g} kT | classifier confidence: "
        f"samples {conf['samples']:.3f}, noise {conf['noise']:.3f}, data {conf['data']:.3f}"
    )
    print(f"written: {out / 'generative.json'}, {out / 'plots' / 'generated_digits.png'}")


def _run_config(args: argparse.Namespace) -> Any:
    from thermonn.experiments.thermocomputer.run import RunConfig

    return config_from_args(RunConfig, args)


def _train(args: argparse.Namespace, config: Any, data: Any, stack: ExitStack) -> None:
    from tqdm import tqdm

    from thermonn.experiments.thermocomputer import run as experiment

    def bar(total: int, desc: str, label: str) -> Any:
        """A tqdm bar and the progress(epoch, loss) callback that drives it."""
        b = stack.enter_context(
            tqdm(total=total, desc=desc, unit="epoch", disable=args.no_progress or not total)
        )

        def step(epoch: int, loss: float) -> None:
            b.n = epoch
            b.set_postfix_str(f"{label}={loss:.4f}")

        return step

    experiment.train_run(
        config,
        args.out,
        log=tqdm.write,
        teacher_progress=bar(config.teacher_epochs, "teacher", "loss"),
        fit_progress=bar(
            config.epochs if config.trainer == "adam" else 0, "machine (adam)", "action"
        ),
        distill_progress=bar(config.distill_epochs, "distillation", "cross-entropy"),
        command=args.argv,
        data=data,
    )


def computer(args: argparse.Namespace) -> int:
    from thermonn.experiments.thermocomputer import run as experiment
    from thermonn.experiments.thermocomputer.report import write_report
    from thermonn.experiments.thermocomputer.summary import evaluate_run

    if args.action == "generate":
        _generate(args)
        return 0
    config = data = None
    if args.action == "train":  # everything is checked before the folder is touched
        config = _run_config(args)
        experiment.check_run_folder(check_out_folder(args.out), config)
        data = experiment.load_data(config)
    elif not args.out.is_dir():
        raise FileNotFoundError(
            f"{args.out}: no such run folder; train one with `thermonn computer train --out "
            f"{args.out}`"
        )
    with RunFolder(args.out).writing(), ExitStack() as stack:
        if config is not None:
            _train(args, config, data, stack)
            if args.no_eval:
                return 0
        if args.action in ("train", "eval"):
            summary = evaluate_run(
                args.out,
                trajectories=args.trajectories,
                kappas=args.kappas,
                joules_per_mac=args.joules_per_mac,
                temperature=args.temperature,
            )
            s = summary["student"]
            print(
                f"teacher {summary['teacher_top1']:.4f} | student top-1 {s['top1_m1']:.4f} "
                f"(M=1), top-2 {s['top2_m1']:.4f} | ratio {summary['ratio_top1_m1']:.4f} | heat "
                f"{summary['heat_per_classification_kT']['mean']:.4g} kT | advantage "
                f"{summary['advantage_ratio']:.3g}"
            )
        print(f"report: {write_report(args.out)}")
    return 0
