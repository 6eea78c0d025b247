"""``thermonn thermal check``: run the consistency study and write its run folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thermonn._host import host_info
from thermonn._io import atomic_write_json, atomic_write_text
from thermonn.experiments.consistency.config import ConsistencyConfig
from thermonn.experiments.consistency.engine import (
    CONTROL_STUDIES,
    control_checks,
    engine_checks,
    engine_studies,
)
from thermonn.experiments.consistency.machine import load_machine, machine_checks, machine_studies
from thermonn.experiments.consistency.monitors import monitor_checks, monitor_studies
from thermonn.experiments.consistency.report import markdown, plot, to_json
from thermonn.experiments.consistency.results import CheckRow, ConsistencyReport
from thermonn.train import RunFolder

__all__ = ["PLOT", "run_consistency", "study_count"]

PLOT = "consistency.png"


def study_count(config: ConsistencyConfig) -> int:
    """How many times :func:`run_consistency` calls ``progress`` (with 1)."""
    machine = config.machine is not None
    return (
        engine_studies(config.quick)
        + (machine_studies(config.quick) if machine else 0)
        + CONTROL_STUDIES
        + monitor_studies(machine)
    )


def run_consistency(
    config: ConsistencyConfig,
    run_dir: str | Path,
    *,
    progress: Callable[[int], object] | None = None,
    command: Sequence[str] | None = None,
) -> ConsistencyReport:
    """Run sections A (engine), B (the machine of ``config.machine``, if any), C (controls)
    and D (monitors); write ``results.json``, ``report.md`` and ``consistency.png`` (and
    ``command.txt`` from ``command``, the ``thermonn`` arguments) to ``run_dir``.
    ``progress`` is called with 1 after each of :func:`study_count` studies.

    The machine is loaded before the folder is touched: a run folder that cannot be read
    leaves nothing behind.

    Raises:
        ValueError: naming ``machine`` when its folder cannot be loaded; a folder in use.
    """
    run_dir = Path(run_dir)
    audited = None if config.machine is None else load_machine(config.machine)
    tick = (lambda: progress(1)) if progress is not None else (lambda: None)
    with RunFolder(run_dir).writing(command=command):
        start = time.perf_counter()
        engine_rows, works = engine_checks(quick=config.quick, seed=config.seed, tick=tick)
        machine_rows: list[CheckRow] = []
        info: dict[str, Any] | None = None
        if audited is not None:
            machine_rows, info = machine_checks(
                audited, quick=config.quick, seed=config.seed, tick=tick
            )
            info["units"] = audited.machine.config.n_mobile
        control_rows = control_checks(seed=config.seed, tick=tick)
        monitors, trace, exact = monitor_checks(audited, seed=config.seed, tick=tick)
        report = ConsistencyReport(
            config=config,
            run_dir=run_dir,
            rows=(*engine_rows, *machine_rows, *control_rows),
            monitors=tuple(monitors),
            machine=info,
            works=works,
            free_energy=trace,
            free_energy_exact=exact,
            seconds=time.perf_counter() - start,
        )
        host = host_info()
        preamble = [] if command is None else ["Command: `thermonn " + " ".join(command) + "`"]
        preamble.append(
            f"Host: {host.cpu}, {host.threads} thread(s), torch {host.torch}, Python "
            f"{host.python}; {report.seconds:.0f} s in all."
        )
        plot(report, run_dir / PLOT)
        atomic_write_json(run_dir / "results.json", {**to_json(report), "host": host._asdict()})
        atomic_write_text(
            run_dir / "report.md", markdown(report, preamble=preamble, plot_file=PLOT)
        )
    return report
