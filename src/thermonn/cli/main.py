"""``thermonn`` command: maps sub-commands onto library calls (one place for all of them)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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
    return parser


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
    args = build_parser().parse_args(argv)
    handlers = {"demo": _demo}
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
