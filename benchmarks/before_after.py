"""Is a refactor slower? The speed benchmarks of two source trees, run in one session.

Runs ``benchmarks/thermocomputer_speed.py`` and ``benchmarks/tel_overhead.py`` (eager, K = 1
and 4) of the tree *before* a change and of this tree *after* it — each tree's own copy of the
script against its own ``src`` — plus one timing of the package's minibatch training loop (the
demo's GELU MLP on the digits, 30 epochs), alternating before/after ``--rounds`` times on the
same machine. Reports medians over rounds and the ratio after / before (< 1: faster).

    git worktree add /tmp/before <rev>
    python benchmarks/before_after.py --before /tmp/before

Writes benchmarks/results/before_after.{json,md}. No timing is asserted in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RESULTS = HERE / "benchmarks" / "results"

LOOP = """
import json, time, torch
try:
    from thermonn.experiments.demo import train_classifier
    from thermonn.bench.baselines import build_mlp
except ImportError:  # the tree before the experiments/ package
    from thermonn.demo import train_classifier, build_mlp
from thermonn.data import load_digits_split
data = load_digits_split()
torch.manual_seed(0)
model = build_mlp(64, 64, 10)
g = torch.Generator().manual_seed(0)
_, seconds = train_classifier(model, data, epochs=30, batch_size=64, lr=3e-3, generator=g)
print(json.dumps({"seconds": seconds}))
"""


def _run(tree: Path, args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    done = subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _measure(tree: Path, machine: Path, scratch: Path, only_tel: bool) -> dict[str, float]:
    over = scratch / "overhead"
    _run(tree, ["benchmarks/tel_overhead.py", "--ks", "1", "4", "--modes", "eager",
                "--repeats", "10", "--out", str(over)])  # fmt: skip
    rows = json.loads(over.with_suffix(".json").read_text())["rows"]

    def label(r: dict) -> str:
        if r["model"] == "gelu":
            return "GELU FFN"
        return f"TEL FFN K={r['steps']}" + (" +diagnostics" if r["diagnostics"] else "")

    eager = {label(r): r["median_ms"] for r in rows if r["mode"] == "eager"}
    gelu = eager["GELU FFN"]
    tel = {
        **{f"{name} fwd+bwd (ms, median)": ms for name, ms in eager.items()},
        # the same process's plain GELU FFN (no thermonn code) as the yardstick: machine drift
        # between rounds moves both, the TEL overhead shows in the ratio
        **{f"{name} / GELU FFN, same run": ms / gelu for name, ms in eager.items() if ms != gelu},
    }
    if only_tel:
        return tel
    speed = scratch / "speed.json"
    _run(
        tree, ["benchmarks/thermocomputer_speed.py", "--machine", str(machine), "--out", str(speed)]
    )
    s = json.loads(speed.read_text())
    loop = json.loads(_run(tree, ["-c", LOOP]).strip().splitlines()[-1])
    return {
        "classify 10k inputs, 200 steps (s, min of 7)": s["classify_10k_one_trajectory_seconds"][
            "min"
        ],
        "Adam epoch on the action, 60k images (s)": s["adam_epoch_seconds"],
        "exact fit, 60k images (s)": s["exact_fit_seconds"],
        **tel,
        "minibatch loop: GELU MLP, digits, 30 epochs (s)": loop["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="checkout of the old tree")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--machine", type=Path,
        default=RESULTS / "thermocomputer" / "fashion-mnist" / "machine.safetensors",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "before_after")
    parser.add_argument(
        "--only-tel", action="store_true", help="only the TEL overhead (more rounds fit)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the table from OUT.json's runs"
    )
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.report_only:
        result = json.loads(args.out.with_suffix(".json").read_text())
        for run in (*result["runs"]["before"], *result["runs"]["after"]):
            gelu = run["GELU FFN fwd+bwd (ms, median)"]
            for key in [k for k in run if k.startswith("TEL") and k.endswith("(ms, median)")]:
                run[key.replace(" fwd+bwd (ms, median)", " / GELU FFN, same run")] = run[key] / gelu
        write(result, args.out)
        return
    if args.before is None:
        parser.error("--before is required (unless --report-only)")
    trees = {"before": args.before.resolve(), "after": HERE}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, tree in trees.items():
                scratch = Path(tmp) / f"{name}-{r}"
                scratch.mkdir()
                runs[name].append(_measure(tree, args.machine.resolve(), scratch, args.only_tel))
                print(name, r, json.dumps(runs[name][-1]), flush=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    before = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=trees["before"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    from thermonn._host import host_info

    result = {"before": before, "after": head, "rounds": args.rounds,
              "host": host_info()._asdict(),
              "command": f"python benchmarks/before_after.py --before <checkout of {before}>"
              f" --rounds {args.rounds}" + (" --only-tel" if args.only_tel else "")
              + (f" --out {args.out.relative_to(HERE)}" if args.out != RESULTS / "before_after"
                 else ""), "runs": runs}  # fmt: skip
    write(result, args.out)


def write(result: dict, out: Path) -> None:
    """The table (medians over rounds, after / before) into ``out.json`` and ``out.md``."""
    runs = result["runs"]
    keys = list(runs["after"][0])
    table = {
        k: {
            "before": statistics.median(m[k] for m in runs["before"]),
            "after": statistics.median(m[k] for m in runs["after"]),
        }
        for k in keys
    }
    for v in table.values():
        v["ratio"] = v["after"] / v["before"]
    result["table"] = table
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    host = result["host"]
    lines = [
        f"# Speed before ({result['before']}) and after ({result['after']}) the refactor",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {host['cpu']}, {host['threads']} threads, torch {host['torch']}; medians of "
        f"{result['rounds']} alternating rounds. The plain GELU FFN runs no thermonn code: its "
        "before/after ratio is this machine's drift between runs, and the rows \"/ GELU FFN, "
        'same run" remove it.',
        "",
        "| measurement | before | after | after / before |",
        "|---|---|---|---|",
        *(
            f"| {k} | {v['before']:.4g} | {v['after']:.4g} | {v['ratio']:.3f} |"
            for k, v in table.items()
        ),
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
