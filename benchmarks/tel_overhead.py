"""TEL feed-forward overhead against a GELU feed-forward at the same shapes.

Question: what does a TEL FFN cost over a GELU FFN in forward+backward time and peak memory,
eagerly and under ``torch.compile``, and how does memory grow with K?

Baseline: ``Linear(256, 1024) → GELU → Linear(1024, 256)``.  TEL: ``TELFeedForward(256, 1024)``
(logcosh entropy, adaptive Gaussian temperature unless stated), diagnostics off unless stated,
with its default ``kernel="auto"`` (the fused kernels compiled by ``torch.compile``); one row runs
them uncompiled (``kernel="eager"``).  Mode ``eager``: the model itself runs eagerly; mode
``compile``: the whole model under ``torch.compile`` (TEL's kernels are then one opaque custom
operator in the graph).  Input: batch 16 × sequence 128 × d_model 256, float32, on CPU with 2
threads by default.  The GELU reference runs before and after the TEL rows of each mode; the
ratios use the mean of the two medians.

Every configuration runs in its own subprocess (clean allocator and compile caches).  Time is the
median of ``--repeats`` forward+backward passes after ``--warmup`` passes (compile happens during
warm-up).  Peak memory is the growth of the process's resident set during one forward+backward,
measured in a second process by resetting the kernel's high-water mark (``/proc/self/clear_refs``)
with glibc's mmap threshold fixed so that the resident set tracks live tensors (Linux/glibc only);
beside it, the bytes autograd saves for backward (eager only, via ``saved_tensors_hooks``).
FLOPs are counted by ``torch.utils.flop_counter`` (matrix products only).

Usage::

    python benchmarks/tel_overhead.py                 # writes benchmarks/results/tel_overhead.{json,md}
    python benchmarks/tel_overhead.py --repeats 5 --ks 1 4   # quicker
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _child(cfg: dict) -> dict:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    import thermonn

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    b, s, d, h = cfg["batch"], cfg["seq"], cfg["d_model"], cfg["hidden"]
    if cfg["model"] == "gelu":
        model = nn.Sequential(nn.Linear(d, h), nn.GELU(), nn.Linear(h, d))
    else:
        model = thermonn.TELFeedForward(
            d, h, steps=cfg["steps"], diagnostics=cfg["diagnostics"], kernel=cfg["kernel"],
            temperature=cfg["temperature"],
        )  # fmt: skip
    x = torch.randn(b, s, d, requires_grad=True)
    fn = torch.compile(model) if cfg["mode"] == "compile" else model

    def step() -> None:
        for p in model.parameters():
            p.grad = None
        x.grad = None
        fn(x).square().mean().backward()

    t0 = time.perf_counter()
    for _ in range(cfg["warmup"]):
        step()
    result = {**cfg, "warmup_s": time.perf_counter() - t0}
    if cfg["measure"] == "memory":
        gc.collect()
        base = _status_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        step()
        result["peak_mib"] = (_status_bytes("VmHWM") - base) / 2**20
        if cfg["mode"] == "eager":
            saved: dict[int, int] = {}

            def pack(t: torch.Tensor) -> torch.Tensor:
                saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = fn(x).square().mean()
            loss.backward()
            result["saved_mib"] = sum(saved.values()) / 2**20
            counter = FlopCounterMode(display=False)
            with counter:
                step()
            result["matmul_gflop"] = counter.get_total_flops() / 1e9
        return result
    times = []
    for _ in range(cfg["repeats"]):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    q = statistics.quantiles(times, n=4)
    result.update(median_ms=1e3 * statistics.median(times), q1_ms=1e3 * q[0], q3_ms=1e3 * q[2])
    result["parameters"] = sum(p.numel() for p in model.parameters())
    return result


def _run(cfg: dict) -> dict:
    """Time in one process, memory in another: there a fixed glibc mmap threshold makes every
    large tensor its own mapping, returned on free, so the resident set tracks live tensors (the
    setting slows allocation, so it stays out of the timing process)."""
    timing = _spawn({**cfg, "measure": "time"}, os.environ)
    memory = _spawn({**cfg, "measure": "memory"}, {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"})
    keys = ("peak_mib", "saved_mib", "matmul_gflop")
    return {**timing, **{k: memory.get(k) for k in keys}, "measure": "both"}


def _spawn(cfg: dict, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(cfg)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"configuration {cfg} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _machine() -> dict:
    from thermonn._host import host_info

    return host_info()._asdict()


def _git() -> str:
    root = Path(__file__).resolve().parent.parent
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                         text=True, check=False).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    return f"{rev or 'unknown'}{' (uncommitted changes)' if dirty else ''}"


def _label(r: dict) -> str:
    if r["model"] == "gelu":
        return "GELU FFN"
    extra = [x for x, on in (("fixed T", r["temperature"] == "fixed"),
                             ("kernel=eager", r["kernel"] == "eager"),
                             ("+diagnostics", r["diagnostics"])) if on]  # fmt: skip
    return f"TEL FFN K={r['steps']}" + (f" ({', '.join(extra)})" if extra else "")


def _markdown(payload: dict) -> str:
    rows = payload["rows"]
    ref: dict[str, dict] = {}
    for mode in {r["mode"] for r in rows}:
        gelus = [r for r in rows if r["model"] == "gelu" and r["mode"] == mode]
        ref[mode] = {
            "median_ms": statistics.mean(g["median_ms"] for g in gelus),
            "peak_mib": statistics.mean(g["peak_mib"] for g in gelus),
        }
    lines = [
        "# TEL feed-forward overhead vs a GELU feed-forward",
        "",
        f"Command: `{payload['command']}`  ",
        f"Code: {payload['git']}  ",
        f"Machine: {payload['machine']['cpu']}, {payload['threads']} threads, "
        f"torch {payload['machine']['torch']}, Python {payload['machine']['python']}  ",
        f"Shapes: batch {payload['batch']} × seq {payload['seq']}, {payload['d_model']} → "
        f"{payload['hidden']} → {payload['d_model']}, float32, forward + backward.  "
        f"Median of {payload['repeats']} runs after {payload['warmup']} warm-up runs; "
        "peak memory = resident-set growth during one forward+backward.",
        "",
        "| model | mode | median ms [q1, q3] | × GELU time | peak MiB | × GELU memory "
        "| saved for backward MiB | matmul GFLOP | params |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        g = ref[r["mode"]]
        flop = "—" if r["matmul_gflop"] is None else f"{r['matmul_gflop']:.3f}"
        saved = "—" if r["saved_mib"] is None else f"{r['saved_mib']:.1f}"
        lines.append(
            f"| {_label(r)} | {r['mode']} | {r['median_ms']:.1f} [{r['q1_ms']:.1f}, {r['q3_ms']:.1f}] "
            f"| {r['median_ms'] / g['median_ms']:.2f} | {r['peak_mib']:.1f} "
            f"| {r['peak_mib'] / g['peak_mib']:.2f} | {saved} | {flop} | {r['parameters']} |"
        )
    lines += ["", "Goals (TEL FFN, adaptive T, K = 4: ≤ 1.15× GELU time, ≤ 1.25× peak memory; "
              "peak memory flat from K = 1 to K = 16):", ""]  # fmt: skip
    for mode in sorted(ref):
        plain = {r["steps"]: r for r in rows if r["model"] == "tel" and r["mode"] == mode
                 and r["kernel"] == "auto" and r["temperature"] == "adaptive"
                 and not r["diagnostics"]}  # fmt: skip
        if 4 in plain:
            t = plain[4]["median_ms"] / ref[mode]["median_ms"]
            m = plain[4]["peak_mib"] / ref[mode]["peak_mib"]
            lines.append(
                f"- {mode}: time {t:.2f}× ({'met' if t <= 1.15 else 'missed'}), "
                f"peak memory {m:.2f}× ({'met' if m <= 1.25 else 'missed'})"
            )
        if 1 in plain and 16 in plain:
            lo, hi = plain[1]["peak_mib"], plain[16]["peak_mib"]
            lines.append(f"- {mode}: peak memory K = 1 → 16: {lo:.1f} → {hi:.1f} MiB")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--modes", nargs="+", default=["eager", "compile"])
    parser.add_argument("--out", type=Path, default=RESULTS / "tel_overhead")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    shape = {"batch": 16, "seq": 128, "d_model": 256, "hidden": 1024}
    common = {**shape, "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup}
    configs = []
    tel = {"model": "tel", "diagnostics": False, "kernel": "auto", "temperature": "adaptive"}
    for mode in args.modes:
        gelu = {**common, "mode": mode, "model": "gelu", "steps": 0, "diagnostics": False,
                "kernel": "-", "temperature": "-"}  # fmt: skip
        configs.append(gelu)
        configs += [{**common, **tel, "mode": mode, "steps": k} for k in args.ks]
        if 4 in args.ks:
            configs.append({**common, **tel, "mode": mode, "steps": 4, "temperature": "fixed"})
            configs.append({**common, **tel, "mode": mode, "steps": 4, "diagnostics": True})
            if mode == "eager":
                configs.append({**common, **tel, "mode": mode, "steps": 4, "kernel": "eager"})
        configs.append(gelu)
    rows = []
    for i, cfg in enumerate(configs, 1):
        print(f"[{i}/{len(configs)}] {cfg['mode']} {_label(cfg)}", flush=True)
        rows.append(_run(cfg))
        print(f"    {rows[-1]['median_ms']:.1f} ms, {rows[-1]['peak_mib']:.1f} MiB", flush=True)
    payload = {
        "command": "python " + " ".join(["benchmarks/tel_overhead.py", *sys.argv[1:]]),
        "git": _git(),
        "machine": _machine(),
        **common,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(_markdown(payload))
    print(_markdown(payload))


if __name__ == "__main__":
    main()
