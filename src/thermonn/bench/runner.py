"""One benchmark run — (task × model × budget × seed) → one row — and resumable sweeps.

Rows are appended to ``rows.jsonl`` (one JSON object per line, flushed and fsynced per row), so
an interrupted sweep loses at most the run in flight; on restart every finished key is skipped.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from thermonn._host import host_info
from thermonn._io import atomic_write_text, read_json
from thermonn._validation import check_float, check_int, check_seed
from thermonn.bench.backbones import VARIANTS, build_backbone
from thermonn.bench.families import FAMILIES, REFERENCE, get_family
from thermonn.bench.matching import Match, count_flops, count_parameters, match_width
from thermonn.bench.tasks import Task, get_task
from thermonn.nn.diagnostics import collect_diagnostics
from thermonn.nn.tel import TEL
from thermonn.train import RunFolder, train_minibatch

__all__ = [
    "BUDGETS",
    "Cell",
    "RowFile",
    "RunOptions",
    "check_folder",
    "load_rows",
    "plan",
    "read_rows",
    "run_cell",
    "run_sweep",
]

BUDGETS: dict[str, float] = {"small": 0.5, "default": 1.0, "large": 2.0, "xlarge": 4.0}


@dataclass(frozen=True)
class Cell:
    """One run: the model ``model`` on ``task`` at ``budget`` (× the task's base width), ``depth``
    stacked blocks (vector tasks), initialised and shuffled with ``seed``."""

    task: str
    model: str
    budget: str = "default"
    seed: int = 0
    depth: int = 1

    @property
    def key(self) -> str:
        return f"{self.task}|{self.model}|{self.budget}|d{self.depth}|s{self.seed}"

    @property
    def plan_key(self) -> str:
        return f"{self.task}|{self.model}|{self.budget}|d{self.depth}"

    def validate(self) -> Task:
        """Check every name; ``ValueError`` lists the valid choices."""
        task = get_task(self.task)
        if self.budget not in BUDGETS:
            raise ValueError(f"unknown budget {self.budget!r}; valid budgets: {list(BUDGETS)}")
        if task.backbone is None:
            get_family(self.model)
        elif self.model not in VARIANTS:
            raise ValueError(
                f"unknown model {self.model!r} for the drop-in task {self.task!r}; "
                f"valid models: {sorted(VARIANTS)}"
            )
        check_seed("seed", self.seed)
        check_int("depth", self.depth)
        if self.depth < 1 or (task.backbone is not None and self.depth != 1):
            raise ValueError(
                f"depth: expected 1 for drop-in tasks and >= 1 otherwise, got {self.depth}"
            )
        return task


@dataclass(frozen=True)
class RunOptions:
    """How runs are executed (not part of a row's key): ``epochs_scale`` multiplies every task's
    epochs, ``max_train`` subsamples training sets (quick mode), ``threads`` per run."""

    epochs_scale: float = 1.0
    max_train: int | None = None
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        check_float("epochs_scale", self.epochs_scale, above=0.0)
        for name in ("max_train", "threads"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1)
        try:
            kind = torch.device(self.device).type
        except RuntimeError:
            raise ValueError(
                f"device: expected a torch device such as 'cpu' or 'cuda:0', got {self.device!r}"
            ) from None
        if kind not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device: expected cpu, cuda, cuda:N or mps, got {self.device!r}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device: {self.device!r} requested but CUDA is not available here")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device: {self.device!r} requested but MPS is not available here")


def _builder(cell: Cell, task: Task) -> tuple[Callable[..., nn.Module], int]:
    split, d_out = task.data()
    width0 = max(1, round(task.width * BUDGETS[cell.budget]))
    if task.backbone is not None:
        backbone = task.backbone
        return (lambda w, **_: build_backbone(backbone, cell.model, w, d_out)), width0
    family = get_family(cell.model)
    d_in = split.x_train.shape[-1]
    return (lambda w, **k: family.build(d_in, d_out, w, depth=cell.depth, **k)), width0


def plan(cell: Cell) -> Match:
    """The matched width/knobs of ``cell``'s model against the reference at its budget
    (GELU MLP for vector tasks, the original-FFN network for drop-in tasks); computed once per
    (task, model, budget, depth) and process, whatever the seed."""
    return _match(cell, cell.validate())


def _match(cell: Cell, task: Task) -> Match:
    """:func:`plan` of a cell already validated into ``task``."""
    return _plan(Cell(cell.task, cell.model, cell.budget, 0, cell.depth), task)


@cache
def _plan(cell: Cell, task: Task) -> Match:
    split, _ = task.data()
    x = split.x_train[:8]
    reference = Cell(cell.task, "ffn" if task.backbone else REFERENCE, cell.budget, 0, cell.depth)
    build_ref, width0 = _builder(reference, task)
    ref = build_ref(width0)
    target_params, target_flops = count_parameters(ref), count_flops(ref, x)
    build, _ = _builder(cell, task)
    if task.backbone is not None:  # architecture fixed; only the FFN activation changes
        model = build(width0)
        return Match(
            width0, {}, count_parameters(model), count_flops(model, x), target_params, target_flops
        )
    family = FAMILIES[cell.model]
    return match_width(
        build,
        x,
        target_params=target_params,
        target_flops=target_flops,
        knob_grid=family.knob_grid,
        min_width=family.min_width,
    )


def _saved_bytes(model: nn.Module, task: Task, x: Tensor, y: Tensor) -> int:
    """Bytes of the activations autograd keeps for the backward pass of one training step
    (each saved tensor once; parameters excluded)."""
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[tuple[int, tuple[int, ...]], int] = {}

    def pack(t: Tensor) -> Tensor:
        if t.data_ptr() not in params:
            seen[(t.data_ptr(), tuple(t.shape))] = t.numel() * t.element_size()
        return t

    model.train()
    x, y = x.clone(), y.clone()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        task.loss(model(x), task.target(x, y)).backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())


def _rss_reset() -> int | None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return None


def _status_kib(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


@torch.no_grad()
def _outputs(model: nn.Module, x: Tensor, chunk: int = 1000) -> Tensor:
    model.eval()
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def run_cell(cell: Cell, options: RunOptions = RunOptions()) -> dict[str, Any]:
    """Train and evaluate one cell; return its row (metric, loss, cost, timing, memory, traces)."""
    return _run_cell(cell, cell.validate(), options)


def _run_cell(cell: Cell, task: Task, options: RunOptions) -> dict[str, Any]:
    """:func:`run_cell` of a cell already validated into ``task``. The cell seeds torch's
    default generator (pykan initialises from it) inside ``fork_rng``: the caller's random
    state is untouched."""
    if options.threads is not None:
        torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(cell.seed)
        return _seeded_run(cell, task, options, device)


def _seeded_run(
    cell: Cell, task: Task, options: RunOptions, device: torch.device
) -> dict[str, Any]:
    match = _match(cell, task)
    split, _ = task.data()
    x_tr, y_tr, x_te, y_te = (t.to(device) for t in split)
    if options.max_train is not None:
        x_tr, y_tr = x_tr[: options.max_train], y_tr[: options.max_train]
    build, _ = _builder(cell, task)
    model = build(match.width, **match.knobs).to(device)
    generator = torch.Generator().manual_seed(cell.seed)
    epochs = max(1, round(task.epochs * options.epochs_scale))
    batches = math.ceil(len(x_tr) / task.batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=task.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * batches)

    flops_train = count_flops(
        model,
        x_tr[:8],
        train_step=True,
        loss=lambda out: task.loss(out, task.target(x_tr[:8], y_tr[:8])),
    )
    saved = _saved_bytes(model, task, x_tr[: task.batch_size], y_tr[: task.batch_size])
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = None if cuda else _rss_reset()

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
        hwm = _status_kib("VmHWM")
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


ROW_FIELDS = (
    "key", "task", "model", "budget", "depth", "seed", "status", "metric", "value", "finished",
    "train_seconds", "ms_per_step", "saved_activation_mib", "peak_memory_mib", "traces",
)  # fmt: skip
"""Fields every row must have (the report reads them)."""


class RowFile(NamedTuple):
    """What a ``rows.jsonl`` holds: ``rows`` with one row per cell key (the first written wins),
    the keys of the ignored ``duplicates`` (two processes that once wrote one folder), and whether
    the last line was ``torn`` (a run killed mid-write)."""

    rows: list[dict[str, Any]]
    duplicates: list[str]
    torn: bool


def read_rows(path: Path) -> RowFile:
    """Parse a ``rows.jsonl`` without changing it; a duplicate key never reaches the rows.

    Raises:
        ValueError: a line other than the last is not JSON, or a line is not a JSON object with
            a string ``key`` (the message names the file and the line).
    """
    if not path.exists():
        return RowFile([], [], False)
    if not path.is_file():
        raise ValueError(f"{path}: expected a rows file, got a directory")
    lines = path.read_text().splitlines()
    rows: dict[str, dict[str, Any]] = {}
    duplicates, torn = [], False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise ValueError(
                    f"{path}: line {i + 1} is not JSON (only a torn last line is repaired)"
                ) from None
            torn = True
            continue
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            raise ValueError(
                f"{path}: line {i + 1}: expected a JSON object with a string 'key' (one "
                f"benchmark run), got {type(row).__name__}"
                + (f" with keys {sorted(row)[:6]}" if isinstance(row, dict) else "")
            )
        missing = [f for f in ROW_FIELDS if f not in row]
        if missing:
            raise ValueError(f"{path}: line {i + 1}: run {row['key']!r} lacks fields {missing}")
        if row["key"] in rows:
            duplicates.append(row["key"])
        else:
            rows[row["key"]] = row
    return RowFile(list(rows.values()), duplicates, torn)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The unique rows of a ``rows.jsonl`` (see :func:`read_rows`); changes nothing on disk."""
    return read_rows(path).rows


def _drop_torn_line(path: Path) -> None:
    """Remove a torn last line from ``path`` atomically (only the folder's lock holder may)."""
    text = path.read_text()
    atomic_write_text(path, text[: text.rstrip("\n").rfind("\n") + 1])


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


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
    options: RunOptions = RunOptions(),
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
        _drop_torn_line(rows_path)
    rows = found.rows
    done = {r["key"] for r in rows}
    for c, task in tasks.items():
        if c.plan_key not in matches:
            m = _match(c, task)
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
                _append(rows_path, row)
                rows.append(row)
                if progress is not None:
                    progress(row)
    else:
        for c in todo:
            row = _run_cell(c, tasks[c], options)
            _append(rows_path, row)
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
