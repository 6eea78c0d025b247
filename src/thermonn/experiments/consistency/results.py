"""What the consistency study returns: one row per check, one per monitor, the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from thermonn.estimators import ConsistencyCheck, FreeEnergyTrace
from thermonn.experiments.consistency.config import ConsistencyConfig

__all__ = ["CheckRow", "ConsistencyReport", "MonitorRow", "WorkSample", "check_row"]

EXPECT = ("pass", "fail")


@dataclass(frozen=True)
class CheckRow:
    """One check on one system: ``section`` A (engine), B (machine) or C (controls),
    ``check`` the :class:`~thermonn.estimators.ConsistencyCheck`'s name, ``dt`` the time
    step, the check's numbers and verdict ``passed``, ``expect`` the outcome physics demands
    ("pass" where the law holds, "fail" on a broken control), ``note`` what the row shows,
    ``extra`` numbers the interpretation reads, ``seconds`` its share of the wall-clock."""

    section: str
    system: str
    check: str
    dt: float
    measured: float
    expected: float
    error: float
    tolerance: float
    passed: bool
    expect: str
    detail: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def as_expected(self) -> bool:
        """The verdict is the one physics demands (a False is a finding)."""
        return self.passed == (self.expect == "pass")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_expected"] = self.as_expected
        return out


def check_row(
    section: str,
    system: str,
    dt: float,
    check: ConsistencyCheck,
    seconds: float,
    *,
    expect: str = "pass",
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> CheckRow:
    """The row of ``check`` (seconds rounded to 0.01)."""
    if expect not in EXPECT:
        raise ValueError(f"expect: expected one of {list(EXPECT)}, got {expect!r}")
    return CheckRow(
        section, system, check.name, dt, check.measured, check.expected, check.error,
        check.tolerance, check.passed, expect, check.detail, note, extra or {},
        round(seconds, 2),
    )  # fmt: skip


@dataclass(frozen=True)
class MonitorRow:
    """A monitor's reading against its exact answer (``exact`` None where there is none;
    ``error`` None where the reading is not a mean)."""

    monitor: str
    measured: float | None
    error: float | None
    exact: float | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkSample:
    """Forward works W_F and reverse works W_R ``(chains,)`` of one protocol at ``dt``, with
    the exact ΔF their distributions cross at (Crooks: P_F(W)/P_R(−W) = e^{(W − ΔF)/kT})."""

    system: str
    dt: float
    forward: Tensor
    reverse: Tensor
    delta_f: float


@dataclass(frozen=True)
class ConsistencyReport:
    """The study written to ``run_dir``: ``rows`` every check (sections A, B, C), ``monitors``
    (section D), ``machine`` what was measured about the machine besides the checks (basins,
    the field switches; None without one), ``works`` the squeezed trap's works at its fine
    step and ``free_energy`` the relaxing trap's F(t) with its exact end ``free_energy_exact``
    (the plot), ``seconds`` the study's wall-clock."""

    config: ConsistencyConfig
    run_dir: Path
    rows: tuple[CheckRow, ...]
    monitors: tuple[MonitorRow, ...]
    machine: dict[str, Any] | None
    works: WorkSample
    free_energy: FreeEnergyTrace
    free_energy_exact: float
    seconds: float

    @property
    def findings(self) -> tuple[CheckRow, ...]:
        """The rows whose verdict is not the one physics demands."""
        return tuple(r for r in self.rows if not r.as_expected)
