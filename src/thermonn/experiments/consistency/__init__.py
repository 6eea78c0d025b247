"""``thermonn thermal check``: the physical-consistency checks of :mod:`thermonn.estimators`
run on the library's own Langevin engine (A), on a trained thermodynamic computer (B), on
deliberately broken controls that must fail (C), and the monitors against exact answers (D).

    report = run_consistency(ConsistencyConfig(machine="runs/digits"), "runs/check")
    for row in report.findings:          # the verdicts physics does not demand
        print(row.section, row.system, row.dt, row.check, row.measured, row.expected)

Modules: ``systems`` (test systems and the runs every section repeats), ``engine`` (A and C),
``machine`` (B), ``monitors`` (D), ``report`` (JSON, markdown, plot), ``run`` (the driver).
"""

from thermonn.experiments.consistency.config import ConsistencyConfig
from thermonn.experiments.consistency.report import QUESTION, findings_lines, markdown, to_json
from thermonn.experiments.consistency.results import (
    CheckRow,
    ConsistencyReport,
    MonitorRow,
    WorkSample,
)
from thermonn.experiments.consistency.run import PLOT, run_consistency, study_count

__all__ = [
    "PLOT",
    "QUESTION",
    "CheckRow",
    "ConsistencyConfig",
    "ConsistencyReport",
    "MonitorRow",
    "WorkSample",
    "findings_lines",
    "markdown",
    "run_consistency",
    "study_count",
    "to_json",
]
