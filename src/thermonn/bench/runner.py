"""One benchmark run — (task × model × budget × seed) → one row — and resumable sweeps.

Rows are appended to ``rows.jsonl`` (one JSON object per line, flushed and fsynced per row), so
an interrupted sweep loses at most the run in flight; on restart every finished key is skipped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from thermonn._host import host_info
from thermonn._io import atomic_write_text, read_json
from thermonn._random import seeded_default_generator
from thermonn.bench.cells import Cell, RunOptions, build_model, plan_task
from thermonn.bench.matching import Match, count_flops
from thermonn.bench.memory import rss_reset, saved_bytes, status_kib
from thermonn.bench.rows import (
    RowFile,
    append_row,
    drop_torn_line,
    read_rows,
)
from thermonn.bench.tasks import Task, get_task
from thermonn.nn.diagnostics import collect_diagnostics
from thermonn.nn.tel import TEL
from thermonn.nn.thermodynamic import ThermalNodes, couple_temperatures
from thermonn.train import RunFolder, train_minibatch

__all__ = ["SweepResult", "check_folder", "run_cell", "run_sweep"]

_DEFAULT_OPTIONS = RunOptions()


@torch.no_grad()
def _outputs(model: nn.Module, x: Tensor, chunk: int = 1000) -> Tensor:
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def run_cell(cell: Cell, options: RunOptions = _DEFAULT_OPTIONS) -> dict[str, Any]:
    """Train and evaluate one cell; return its row (metric, loss, cost, timing, memory, traces)."""
    return _run_cell(cell, cell.validate(), options)


def _run_cell(cell: Cell, task: Task, options: RunOptions) -> dict[str, Any]:
    """:func:`run_cell` of a cell already validated into ``task``. The cell seeds torch's
    default generator (pykan initialises from it) inside ``fork_rng``: the caller's random
    state is untouched."""
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    match = plan_task(cell, task)  # cached: must not draw from the seeded stream below
    with seeded_default_generator(cell.seed, device):
        return _seeded_run(cell, task, match, options, device)


def _seeded_run(
    cell: Cell, task: Task, match: Match, options: RunOptions, device: torch.device
) -> dict[str, Any]:
    split, _ = task.data()
    x_tr, y_tr, x_te, y_te = (t.to(device) for t in split)
    if options.max_train is not None:
        x_tr, y_tr = x_tr[: options.max_train], y_tr[: options.max_train]
    build, _ = build_model(cell, task)
    model = build(match.width, **match.knobs).to(device)
    generator = torch.Generator().manual_seed(cell.seed)
    epochs = max(1, round(task.epochs * options.epochs_scale))
    batches = math.ceil(len(x_tr) / task.batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * batches)
    if any(isinstance(m, ThermalNodes) and m.coupled for m in model.modules()):
        couple_temperatures(opt, model)  # the coupling relaxes after every step

    flops_train = count_flops(
        model,
        x_tr[:8],
        train_step=True,
        loss=lambda out: task.loss(out, task.target(x_tr[:8], y_tr[:8])),
    )
    saved = saved_bytes(model, task, x_tr[: task.batch_size], y_tr[: task.batch_size])
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = None if cuda else rss_reset()

    def batch_loss(rows: Tensor) -> Tensor:
        rows = rows.to(device)
        xb = x_tr[rows]
        return task.loss(model(xb), task.target(xb, y_tr[rows]))

    start = time.perf_counter()
    trained = train_minibatch(
        batch_loss, len(x_tr), opt, epochs=epochs, batch_size=task.batch_size,
        generator=generator, scheduler=sched, modules=[model],
    )  # fmt: skip
    status, steps, train_loss = (
        "diverged" if trained.diverged else "ok",
        trained.steps,
        trained.last_loss,
    )
    if cuda:
        torch.cuda.synchronize(device)
    train_seconds = time.perf_counter() - start
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        hwm = status_kib("VmHWM")
        peak = (hwm - rss0) / 1024 if rss0 is not None and hwm is not None else float("nan")

    start = time.perf_counter()
    out = _outputs(model, x_te)
    infer_seconds = time.perf_counter() - start
    metric, test_loss = task.score(out, task.target(x_te, y_te))
    if not math.isfinite(metric):
        status = "diverged"

    traces: dict[str, dict[str, list[float]]] = {}
    if any(isinstance(m, TEL) for m in model.modules()) and status == "ok":
        with collect_diagnostics(model) as log:
            _outputs(model, x_te[:512], chunk=512)
        traces = {
            name: {"temperature": t.temperature.tolist(), "free_energy": t.free_energy.tolist()}
            for name, t in log.mean().items()
        }
    return {
        "key": cell.key,
        "task": cell.task,
        "model": cell.model,
        "budget": cell.budget,
        "depth": cell.depth,
        "seed": cell.seed,
        "status": status,
        "metric": task.metric,
        "value": metric,
        "test_loss": test_loss,
        "train_loss_last": train_loss,
        "params": match.params,
        "flops_forward": match.flops,
        "flops_train_step": flops_train,
        "target_params": match.target_params,
        "target_flops": match.target_flops,
        "param_error": match.param_error,
        "flop_error": match.flop_error,
        "matched": match.matched,
        "width": match.width,
        "knobs": match.knobs,
        "epochs": epochs,
        "steps": steps,
        "train_seconds": train_seconds,
        "ms_per_step": 1e3 * train_seconds / max(steps, 1),
        "infer_ms_per_1k": 1e3 * infer_seconds / len(x_te) * 1000,
        "peak_memory_mib": peak,
        "saved_activation_mib": saved / 2**20,
        "traces": traces,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _worker_init(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)


def _run(args: tuple[Cell, RunOptions]) -> dict[str, Any]:
    cell, options = args  # validated by run_sweep; a worker process only looks its task up
    return _run_cell(cell, get_task(cell.task), options)


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    ran: int
    skipped_unmatched: list[str]


def check_folder(out_dir: Path, options: RunOptions) -> RowFile:
    """Refuse a sweep folder whose finished runs were made with other run options, or whose
    files are unreadable; changes nothing on disk (call it before writing into the folder).

    Returns:
        the folder's rows, as :func:`read_rows` found them.

    Raises:
        ValueError: naming the folder, the option and both values, or the unreadable file.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir}: expected a folder, got an existing file")
    found = read_rows(out_dir / "rows.jsonl")
    before = read_json(out_dir / "machine.json")
    read_json(out_dir / "matching.json")
    if before is None or not found.rows:
        return found
    for name in ("epochs_scale", "max_train", "device"):
        if before.get(name) != getattr(options, name):
            raise ValueError(
                f"{out_dir} holds runs made with {name}={before.get(name)!r}; this sweep uses "
                f"{name}={getattr(options, name)!r}. Use another output folder."
            )
    return found


def run_sweep(
    cells: Iterable[Cell],
    out_dir: Path,
    options: RunOptions = _DEFAULT_OPTIONS,
    *,
    jobs: int = 1,
    strict: bool = False,
    progress: Callable[[dict[str, Any]], object] | None = None,
    on_plan: Callable[[Cell, Match], object] | None = None,
    command: Sequence[str] | None = None,
) -> SweepResult:
    """Run every cell not yet in ``out_dir/rows.jsonl``; with ``jobs > 1`` in worker processes.

    Every cell is matched first; the matching table goes to ``matching.json``. A cell whose
    match misses the tolerance runs flagged (``matched: false``), or with ``strict`` is skipped
    and listed — never run silently unmatched.  The folder is locked for the whole sweep
    (:class:`~thermonn.train.RunFolder`): a second sweep into it fails at once, naming the PID.
    Everything is checked before the first write; then ``command`` (the ``thermonn``
    arguments) goes to ``command.txt``.
    """
    tasks = {c: c.validate() for c in dict.fromkeys(cells)}  # each cell validated once
    for task in dict.fromkeys(tasks.values()):
        task.data()  # a missing data set fails here, before anything runs (cached)
    check_folder(out_dir, options)
    with RunFolder(out_dir).writing():
        return _sweep(tasks, out_dir, options, jobs, strict, progress, on_plan, command)


def _sweep(
    tasks: dict[Cell, Task],
    out_dir: Path,
    options: RunOptions,
    jobs: int,
    strict: bool,
    progress: Callable[[dict[str, Any]], object] | None,
    on_plan: Callable[[Cell, Match], object] | None,
    command: Sequence[str] | None,
) -> SweepResult:
    found = check_folder(out_dir, options)  # again, now that the lock is held
    rows_path, match_path = out_dir / "rows.jsonl", out_dir / "matching.json"
    matches = read_json(match_path) or {}
    for key, m in matches.items():
        if not (isinstance(m, dict) and {"matched", "width", "knobs"} <= set(m)):
            raise ValueError(f"{match_path}: entry {key!r} is not a matching record; delete it")
    if command is not None:
        RunFolder(out_dir).write_command(command)
    if found.torn:
        drop_torn_line(rows_path)
    rows = found.rows
    done = {r["key"] for r in rows}
    for c, task in tasks.items():
        if c.plan_key not in matches:
            m = plan_task(c, task)
            matches[c.plan_key] = m.as_dict()
            if on_plan is not None:
                on_plan(c, m)
    atomic_write_text(match_path, json.dumps(matches, indent=1, sort_keys=True))
    skipped = sorted({c.plan_key for c in tasks if strict and not matches[c.plan_key]["matched"]})
    todo = [c for c in tasks if c.key not in done and c.plan_key not in skipped]
    atomic_write_text(out_dir / "machine.json", json.dumps(_host_record(options, jobs), indent=1))
    if jobs > 1 and len(todo) > 1:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        with ctx.Pool(jobs, initializer=_worker_init, initargs=(options.threads,)) as pool:
            for row in pool.imap_unordered(_run, [(c, options) for c in todo]):
                append_row(rows_path, row)
                rows.append(row)
                if progress is not None:
                    progress(row)
    else:
        for c in todo:
            row = _run_cell(c, tasks[c], options)
            append_row(rows_path, row)
            rows.append(row)
            if progress is not None:
                progress(row)
    return SweepResult(rows, len(todo), skipped)


def _host_record(options: RunOptions, jobs: int) -> dict[str, Any]:
    """The sweep folder's ``machine.json`` (name and keys kept for existing folders): the host
    (:func:`thermonn._host.host_info`) and how the runs were executed."""
    host = host_info()
    return {
        "cpu": host.cpu,
        "cores": host.cores,
        "platform": host.platform,
        "python": host.python,
        "torch": host.torch,
        "device": options.device,
        "cuda": host.cuda,
        "jobs": jobs,
        "threads_per_job": options.threads,
        "epochs_scale": options.epochs_scale,
        "max_train": options.max_train,
    }
