"""``thermonn`` command: maps sub-commands onto library calls (one place for all of them).

Errors: a bad argument is refused while parsing; a library error (``ValueError``, ``TypeError``,
an optional dependency that is not installed (``ImportError``, its message says how to get it),
a missing or unreadable file, a diverged run) is turned into one line ``thermonn: error: …`` with
exit status 2 by :func:`main` — the one place that does so.  Every sub-command validates all of
its input before it writes anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thermonn import __version__
from thermonn.cli.args import (
    Parser,
    add_config_arguments,
    check_out_folder,
    config_from_args,
    positive_float,
    positive_int,
    seed,
)
from thermonn.cli.computer import add_computer, computer
from thermonn.cli.linalg import add_linalg, linalg
from thermonn.cli.machines import MACHINE_COMMANDS, add_machines
from thermonn.cli.thermal import add_thermal, thermal
from thermonn.cli.tngd import add_tngd, tngd

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from thermonn.functional.entropy import ENTROPIES

    parser = Parser(prog="thermonn", description="Thermodynamics-inspired neural computation.")
    parser.add_argument("--version", action="version", version=f"thermonn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="train TEL networks and a parameter-matched MLP on the 8x8 digits",
        description="Train small TEL networks and a parameter-matched GELU MLP on "
        "scikit-learn's digits; print a comparison table and write plots and a report.",
    )
    from thermonn.experiments.demo import DemoConfig

    add_config_arguments(
        demo,
        DemoConfig,
        {
            "epochs": "training epochs per model",
            "hidden": "TEL width",
            "steps": "TEL descent steps K",
            "entropies": "one TEL network per entropy",
            "seeds": "one run per seed",
            "batch_size": "minibatch size",
            "lr": "Adam learning rate",
        },
        types={
            "epochs": positive_int,
            "hidden": positive_int,
            "steps": positive_int,
            "seeds": seed,
            "batch_size": positive_int,
            "lr": positive_float,
        },
        choices={"entropies": sorted(ENTROPIES)},
    )
    demo.add_argument(
        "--out", type=Path, default=None, help="run folder (default: runs/demo-<timestamp>)"
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_bench(sub)
    add_computer(sub)
    add_machines(sub)
    add_thermal(sub)
    add_linalg(sub)
    add_tngd(sub)
    return parser


def _add_bench(sub: Any) -> None:
    from thermonn import bench
    from thermonn.bench.backbones import THERMAL_VARIANTS, VARIANTS

    bench_parser = sub.add_parser(
        "bench",
        help="compute-matched benchmark of TEL and the thermodynamic layers (run a sweep, "
        "write its report, list choices)",
        description="Compute-matched benchmark of TEL and the thermodynamic layers against "
        "baselines: each run is "
        "(task x model x budget x seed); rows go to OUT/rows.jsonl and runs resume.",
    )
    actions = bench_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run (or resume) a sweep, then write its report",
        description="Run every cell of a suite (or of a --tasks x --models grid) that the "
        "sweep folder does not hold yet, then write its report. One process per folder.",
    )
    run.add_argument("--suite", default="full", choices=sorted(bench.SUITES), help="named study")
    run.add_argument(
        "--tasks", nargs="+", choices=sorted(bench.TASKS), help="run this task grid instead"
    )
    run.add_argument(
        "--models",
        nargs="+",
        choices=sorted({*bench.FAMILIES, *VARIANTS, *THERMAL_VARIANTS}),
        help="models of the task grid (with --tasks; default: the baseline models)",
    )
    run.add_argument(
        "--depths", type=positive_int, nargs="+", default=[1], help="stacked blocks (--tasks)"
    )
    run.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2, 3, 4], help="seeds")
    run.add_argument(
        "--budget", default="default", choices=list(bench.BUDGETS), help="x the task's width"
    )
    run.add_argument(
        "--out", type=Path, default=None, help="sweep folder (default: runs/bench-<suite>)"
    )
    run.add_argument("--jobs", type=positive_int, default=1, help="parallel worker processes")
    add_config_arguments(
        run,
        bench.RunOptions,
        {
            "threads": "torch threads per run (None: all)",
            "epochs_scale": "multiply every task's epochs",
            "max_train": "subsample training sets to N rows",
            "device": "torch device: cpu, cuda, cuda:N or mps",
        },
        types={"threads": positive_int, "epochs_scale": positive_float, "max_train": positive_int},
    )
    run.add_argument("--strict-matching", action="store_true", help="skip cells outside tolerance")
    run.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: suite quick, first 2 seeds, epochs x <= 0.25, <= 256 training rows",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    report = actions.add_parser(
        "report",
        help="(re)write the report of a sweep folder",
        description="Write report.md, rows.csv and the plots of a sweep folder from its rows.",
    )
    report.add_argument("out", type=Path, help="the sweep folder")
    actions.add_parser(
        "list",
        help="list tasks, models, suites and budgets",
        description="List the benchmark's tasks, models, suites and budgets.",
    )


def _bench_list() -> int:
    from thermonn import bench
    from thermonn.bench.backbones import THERMAL_VARIANTS, VARIANTS

    print("tasks:")
    for t in bench.TASKS.values():
        kind = t.kind.name + (f", {t.backbone}" if t.backbone else "")
        print(f"  {t.name:20s} {kind:28s} {t.description}")
    print("models for vector tasks:")
    for f in bench.FAMILIES.values():
        print(f"  {f.name:20s} {f.description}")
    print(f"models for drop-in tasks: {', '.join(VARIANTS)}")
    for name, (backbone, _) in THERMAL_VARIANTS.items():
        print(f"  {name:20s} (the {backbone} backbone only)")
    print("suites:")
    for name, text in bench.SUITES.items():
        print(f"  {name:20s} {text}")
    print(f"budgets (x task width): {bench.BUDGETS}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from thermonn import bench
    from thermonn.bench.report import write_report

    if args.action == "list":
        return _bench_list()
    if args.action == "report":
        print(f"report: {write_report(args.out)}")
        return 0
    if args.quick:
        args.suite, args.seeds = "quick", args.seeds[:2]
        args.epochs_scale, args.max_train = min(args.epochs_scale, 0.25), args.max_train or 256
    if args.tasks:
        models = args.models or list(bench.suites.BASELINE_MODELS)
        cells = [
            bench.Cell(t, m, args.budget, s, d)
            for t in args.tasks
            for m in models
            for d in args.depths
            for s in args.seeds
        ]
    elif args.models:
        raise ValueError("argument --models: needs --tasks (or use a --suite)")
    else:
        cells = bench.cells_for(args.suite, args.seeds, args.budget)
    unique = list(dict.fromkeys(cells))
    for task in dict.fromkeys(c.validate() for c in unique):
        task.data()  # a missing data set fails here, before the folder is touched (cached)
    options = config_from_args(bench.RunOptions, args)
    out = check_out_folder(
        args.out or Path("runs") / f"bench-{args.suite if not args.tasks else 'custom'}"
    )
    done = {r["key"] for r in bench.check_folder(out, options).rows}  # before any progress bar
    from tqdm import tqdm

    def on_plan(cell: bench.Cell, match: bench.Match) -> None:
        if not match.matched:
            verdict = (
                "skipped (--strict-matching)" if args.strict_matching else "runs flagged unmatched"
            )
            tqdm.write(f"unmatched budget: {cell.plan_key}: {match.describe()} -> {verdict}")

    with tqdm(
        total=len(unique),
        initial=sum(c.key in done for c in unique),
        desc="bench",
        unit="run",
        disable=args.no_progress,
    ) as bar:

        def progress(row: dict[str, Any]) -> None:
            bar.update()
            bar.set_postfix_str(f"{row['task']}/{row['model']} {row['metric']}={row['value']:.4f}")

        result = bench.run_sweep(
            cells,
            out,
            options,
            jobs=args.jobs,
            strict=args.strict_matching,
            progress=progress,
            on_plan=on_plan,
            command=args.argv,
        )
        bar.update(len(unique) - bar.n)
    print(f"ran {result.ran} new runs; {len(result.rows)} rows in {out / 'rows.jsonl'}")
    for key in result.skipped_unmatched:
        print(f"skipped, unmatched within tolerance: {key}")
    print(f"report: {write_report(out)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.experiments.demo import DemoConfig, run_demo

    config = config_from_args(DemoConfig, args)
    run_dir = check_out_folder(args.out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S"))
    total = (len(config.entropies) + 1) * len(config.seeds) * config.epochs
    with tqdm(total=total, desc="training", unit="epoch", disable=args.no_progress) as bar:
        result = run_demo(config, run_dir, progress=bar.update, command=args.argv)
    print(result.table())
    print(f"\nrun folder: {result.run_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``thermonn`` command; returns its exit status (2 for any user error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else 2
    args.argv = argv
    handlers = {
        "demo": _demo,
        "bench": _bench,
        "computer": computer,
        "thermal": thermal,
        "linalg": linalg,
        "tngd": tngd,
        **MACHINE_COMMANDS,
    }
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, ArithmeticError, OSError, ImportError) as err:
        # library errors say what was expected and what was received; show just that
        message = " ".join((str(err) or type(err).__name__).split())
        print(f"thermonn: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thermonn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
