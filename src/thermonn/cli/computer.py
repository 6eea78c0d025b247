"""``thermonn computer train|eval|report``: the thermodynamic computer's run folders."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from thermonn._io import write_command

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
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'exact', got {text!r}")
    return value


def add_computer(sub: Any) -> None:
    comp = sub.add_parser(
        "computer",
        help="thermodynamic computer: train a Langevin machine to imitate a teacher MLP",
        description="Whitelam's thermodynamic computer: a teacher MLP, idealised trajectories, "
        "training on the Onsager-Machlup action, evaluation and heat accounting in a run folder.",
    )
    actions = comp.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train teacher and machine, then eval and report")
    train.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist | mnist | digits")
    train.add_argument("--data-dir", default=None, help="IDX directory (required for mnist)")
    train.add_argument("--out", type=Path, required=True, help="run folder (resumes if it exists)")
    train.add_argument("--kappa", type=_kappa, default=100.0, help="guide scale, or 'exact'")
    train.add_argument("--trainer", default="exact", help="exact (least squares) | adam")
    train.add_argument("--epochs", type=int, default=10, help="Adam epochs")
    train.add_argument("--lr", type=float, default=5e-2, help="Adam learning rate")
    train.add_argument("--batch-size", type=int, default=256)
    train.add_argument("--teacher-epochs", type=int, default=30)
    train.add_argument(
        "--distill-epochs",
        type=int,
        default=0,
        help="after the action fit, distil the teacher through the dynamics for N epochs",
    )
    train.add_argument("--distill-lr", type=float, default=3e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--limit-train", type=int, default=None)
    train.add_argument("--limit-test", type=int, default=None)
    train.add_argument("--no-eval", action="store_true", help="stop after training")
    train.add_argument("--no-progress", action="store_true")
    ev = actions.add_parser("eval", help="evaluate a trained run folder (summary.json)")
    ev.add_argument("out", type=Path)
    for p in (train, ev):
        p.add_argument("--trajectories", type=int, default=10, help="M for the averaged readout")
        p.add_argument(
            "--kappas",
            type=_kappa,
            nargs="*",
            default=[],
            help="κ sweep (refits with the exact trainer)",
        )
        p.add_argument("--joules-per-mac", type=float, default=1e-12)
        p.add_argument("--temperature", type=float, default=300.0, help="bath temperature in K")
    rep = actions.add_parser("report", help="(re)write plots and report.md of an evaluated run")
    rep.add_argument("out", type=Path)
    gen = actions.add_parser(
        "generate", help="generative mode: train on reversed noising paths of the digits, sample"
    )
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--samples", type=int, default=500)
    gen.add_argument("--seed", type=int, default=0)


def computer(args: argparse.Namespace) -> int:
    from thermonn.computer import experiment
    from thermonn.computer.report import write_report

    name = f"thermonn computer {args.action}"
    try:
        if args.action == "generate":
            from thermonn.computer.generative import generate_run

            result = generate_run(args.out, samples=args.samples, seed=args.seed)
            write_command(args.out, args.argv)
            conf = result["classifier_confidence"]
            print(
                f"heat per sample {result['heat_per_sample_kT']['mean']:.4g} ± {result['heat_per_sample_kT']['std']:.3g} kT | "
                f"classifier confidence: samples {conf['samples']:.3f}, noise {conf['noise']:.3f}, data {conf['data']:.3f}"
            )
            print(
                f"written: {args.out / 'generative.json'}, {args.out / 'plots' / 'generated_digits.png'}"
            )
            return 0
        if args.action == "train":
            from tqdm import tqdm

            config = experiment.RunConfig(
                dataset=args.dataset,
                data_dir=args.data_dir,
                kappa=args.kappa,
                trainer=args.trainer,
                epochs=args.epochs,
                lr=args.lr,
                batch_size=args.batch_size,
                teacher_epochs=args.teacher_epochs,
                distill_epochs=args.distill_epochs,
                distill_lr=args.distill_lr,
                seed=args.seed,
                limit_train=args.limit_train,
                limit_test=args.limit_test,
            )
            args.out.mkdir(parents=True, exist_ok=True)
            write_command(args.out, args.argv)

            def bar(total: int, desc: str, label: str) -> Any:
                """A tqdm bar and the progress(epoch, loss) callback that drives it."""
                b = stack.enter_context(
                    tqdm(
                        total=total, desc=desc, unit="epoch", disable=args.no_progress or not total
                    )
                )

                def step(epoch: int, loss: float) -> None:
                    b.n = epoch
                    b.set_postfix_str(f"{label}={loss:.4f}")

                return step

            with ExitStack() as stack:
                experiment.train_run(
                    config,
                    args.out,
                    log=tqdm.write,
                    teacher_progress=bar(config.teacher_epochs, "teacher", "loss"),
                    fit_progress=bar(
                        config.epochs if config.trainer == "adam" else 0, "machine (adam)", "action"
                    ),
                    distill_progress=bar(config.distill_epochs, "distillation", "cross-entropy"),
                )
            if args.no_eval:
                return 0
        summary = (
            experiment.evaluate_run(
                args.out,
                trajectories=args.trajectories,
                kappas=args.kappas,
                joules_per_mac=args.joules_per_mac,
                temperature=args.temperature,
            )
            if args.action in ("train", "eval")
            else None
        )
        if summary is not None:
            s = summary["student"]
            print(
                f"teacher {summary['teacher_top1']:.4f} | student top-1 {s['top1_m1']:.4f} (M=1), "
                f"top-2 {s['top2_m1']:.4f} | ratio {summary['ratio_top1_m1']:.4f} | heat "
                f"{summary['heat_per_classification_kT']['mean']:.4g} kT | advantage {summary['advantage_ratio']:.3g}"
            )
        print(f"report: {write_report(args.out)}")
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"{name}: {err}", file=sys.stderr)
        return 2
    return 0
