"""``thermonn`` command: maps sub-commands onto library calls (one place for all of them)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thermonn._io import write_command
from thermonn.cli.computer import add_computer, computer

__all__ = ["build_parser", "main"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermonn", description="Thermodynamics-inspired neural computation."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="train TEL networks and a parameter-matched MLP on the 8x8 digits",
        description="Train small TEL networks and a parameter-matched GELU MLP on "
        "scikit-learn's digits; print a comparison table and write plots and a report.",
    )
    demo.add_argument("--epochs", type=_positive_int, default=30)
    demo.add_argument("--hidden", type=_positive_int, default=64, help="TEL width")
    demo.add_argument("--steps", type=_positive_int, default=4, help="TEL descent steps K")
    demo.add_argument(
        "--entropies",
        nargs="+",
        default=["logcosh", "spin"],
        help="one TEL network per entropy (default: logcosh spin)",
    )
    demo.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    demo.add_argument("--batch-size", type=_positive_int, default=64)
    demo.add_argument("--lr", type=float, default=3e-3)
    demo.add_argument(
        "--out", type=Path, default=None, help="run folder (default: runs/demo-<timestamp>)"
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_bench(sub)
    add_computer(sub)
    return parser


def _add_bench(sub: Any) -> None:
    bench = sub.add_parser(
        "bench",
        help="compute-matched TEL benchmark (run a sweep, write its report, list choices)",
        description="Compute-matched benchmark of TEL against baselines: each run is "
        "(task x model x budget x seed); rows go to OUT/rows.jsonl and runs resume.",
    )
    actions = bench.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run (or resume) a sweep, then write its report")
    run.add_argument("--suite", default="full", help="named study (see `thermonn bench list`)")
    run.add_argument("--tasks", nargs="+", help="run this task grid instead of the suite")
    run.add_argument("--models", nargs="+", help="models of the task grid (with --tasks)")
    run.add_argument("--depths", type=_positive_int, nargs="+", default=[1])
    run.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    run.add_argument("--budget", default="default", help="small | default | large | xlarge")
    run.add_argument(
        "--out", type=Path, default=None, help="sweep folder (default runs/bench-<suite>)"
    )
    run.add_argument("--jobs", type=_positive_int, default=1, help="parallel worker processes")
    run.add_argument("--threads", type=_positive_int, default=None, help="torch threads per run")
    run.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every task's epochs")
    run.add_argument(
        "--max-train", type=_positive_int, default=None, help="subsample training sets"
    )
    run.add_argument("--device", default="cpu")
    run.add_argument("--strict-matching", action="store_true", help="skip cells outside tolerance")
    run.add_argument("--quick", action="store_true", help="CI smoke: suite quick, 2 seeds, short")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    report = actions.add_parser("report", help="(re)write the report of a sweep folder")
    report.add_argument("out", type=Path)
    actions.add_parser("list", help="list tasks, models, suites and budgets")


def _bench(args: argparse.Namespace) -> int:
    from thermonn import bench

    if args.action == "list":
        print("tasks:")
        for t in bench.TASKS.values():
            kind = t.kind + (f", {t.backbone}" if t.backbone else "")
            print(f"  {t.name:20s} {kind:28s} {t.description}")
        print("models for vector tasks:")
        for f in bench.FAMILIES.values():
            print(f"  {f.name:20s} {f.description}")
        from thermonn.bench.backbones import VARIANTS

        print(f"models for drop-in tasks: {', '.join(VARIANTS)}")
        print("suites:")
        for name, text in bench.SUITES.items():
            print(f"  {name:20s} {text}")
        print(f"budgets (x task width): {bench.BUDGETS}")
        return 0
    if args.action == "report":
        from thermonn.bench.report import write_report

        print(f"report: {write_report(args.out)}")
        return 0
    try:
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
            raise ValueError("--models needs --tasks (or use a --suite)")
        else:
            cells = bench.cells_for(args.suite, args.seeds, args.budget)
        for c in dict.fromkeys(cells):
            c.validate()
        options = bench.RunOptions(args.epochs_scale, args.max_train, args.device, args.threads)
    except (ValueError, FileNotFoundError) as err:
        print(f"thermonn bench: {err}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / f"bench-{args.suite if not args.tasks else 'custom'}"
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    write_command(out, args.argv)

    def on_plan(cell: bench.Cell, match: bench.Match) -> None:
        if not match.matched:
            verdict = (
                "skipped (--strict-matching)" if args.strict_matching else "runs flagged unmatched"
            )
            tqdm.write(f"unmatched budget: {cell.plan_key}: {match.describe()} -> {verdict}")

    unique = list(dict.fromkeys(cells))
    try:
        done = {r["key"] for r in bench.load_rows(out / "rows.jsonl")}
    except ValueError as err:
        print(f"thermonn bench: {err}", file=sys.stderr)
        return 2
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

        try:
            result = bench.run_sweep(
                cells,
                out,
                options,
                jobs=args.jobs,
                strict=args.strict_matching,
                progress=progress,
                on_plan=on_plan,
            )
        except (ValueError, FileNotFoundError) as err:
            print(f"thermonn bench: {err}", file=sys.stderr)
            return 2
        bar.update(len(unique) - bar.n)
    print(f"ran {result.ran} new runs; {len(result.rows)} rows in {out / 'rows.jsonl'}")
    for key in result.skipped_unmatched:
        print(f"skipped, unmatched within tolerance: {key}")
    from thermonn.bench.report import write_report

    print(f"report: {write_report(out)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from thermonn.demo import DemoConfig, run_demo

    try:
        config = DemoConfig(
            epochs=args.epochs,
            hidden=args.hidden,
            steps=args.steps,
            entropies=tuple(args.entropies),
            seeds=tuple(args.seeds),
            batch_size=args.batch_size,
            lr=args.lr,
        )
    except ValueError as err:
        print(f"thermonn demo: {err}", file=sys.stderr)
        return 2
    run_dir = args.out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    total = (len(config.entropies) + 1) * len(config.seeds) * config.epochs
    with tqdm(total=total, desc="training", unit="epoch", disable=args.no_progress) as bar:
        result = run_demo(config, run_dir, progress=bar.update)
    print(result.table())
    print(f"\nrun folder: {result.run_dir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    handlers = {"demo": _demo, "bench": _bench, "computer": computer}
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
