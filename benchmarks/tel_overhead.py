"""TEL feed-forward overhead against a GELU feed-forward at the same shapes.

Question: what does a TEL FFN cost over a GELU FFN in forward+backward time and peak memory,
eagerly and under ``torch.compile``, and how does memory grow with K?

Baseline: ``Linear(256, 1024) → GELU → Linear(1024, 256)``.  TEL: ``TELFeedForward(256, 1024)``
(logcosh entropy, adaptive Gaussian temperature), diagnostics off unless stated.
Input: batch 16 × sequence 128 × d_model 256, float32, on CPU with 2 threads by default.

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
        model = thermonn.TELFeedForward(d, h, steps=cfg["steps"], diagnostics=cfg["diagnostics"])
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


def _label(r: dict) -> str:
    if r["model"] == "gelu":
        return "GELU FFN"
    return f"TEL FFN K={r['steps']}" + (" (+diagnostics)" if r["diagnostics"] else "")


def _markdown(payload: dict) -> str:
    rows = payload["rows"]
    ref = {r["mode"]: r for r in rows if r["model"] == "gelu"}
    lines = [
        "# TEL feed-forward overhead vs a GELU feed-forward",
        "",
        f"Command: `{payload['command']}`  ",
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
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--modes", nargs="+", default=["eager", "compile"])
    parser.add_argument("--out", type=Path, default=RESULTS / "tel_overhead")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    shape = {"batch": 16, "seq": 128, "d_model": 256, "hidden": 1024}
    common = {**shape, "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup}
    configs = []
    for mode in args.modes:
        configs.append({**common, "mode": mode, "model": "gelu", "steps": 0, "diagnostics": False})
        configs += [
            {**common, "mode": mode, "model": "tel", "steps": k, "diagnostics": False}
            for k in args.ks
        ]
        if 4 in args.ks:
            configs.append(
                {**common, "mode": mode, "model": "tel", "steps": 4, "diagnostics": True}
            )
    rows = []
    for i, cfg in enumerate(configs, 1):
        print(f"[{i}/{len(configs)}] {cfg['mode']} {cfg['model']} K={cfg['steps']} "
              f"diagnostics={cfg['diagnostics']}", flush=True)  # fmt: skip
        rows.append(_run(cfg))
        print(f"    {rows[-1]['median_ms']:.1f} ms, {rows[-1]['peak_mib']:.1f} MiB", flush=True)
    payload = {
        "command": "python " + " ".join(["benchmarks/tel_overhead.py", *sys.argv[1:]]),
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
