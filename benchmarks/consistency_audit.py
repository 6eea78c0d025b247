"""Consistency audit: every physical-consistency check of thermonn.estimators, run on the library's
own Langevin engine and on its trained thermodynamic computer, with the numbers committed.

Question: do our simulations obey the laws the checks test — the first law ΔU = W + Q, the
second law ⟨Δs_tot⟩ ≥ 0, equipartition, the fluctuation–dissipation theorem, Jarzynski, Crooks
and Bennett — at the stated tolerance (4 standard errors, no slack, everywhere), and where they
do not, is it the time step?

A. The shared Euler–Maruyama engine on a coupled harmonic well, a double well, a dragged trap
   (ΔF = 0) and a squeezed trap (ΔF = ½ kT ln 4), at a fine and a coarse Δt.
B. The thermodynamic computer trained on digits (benchmarks/results/thermocomputer/digits, as
   committed): its classification run, its equilibrium at one input at its own Δt = 1e-3 and
   finer, and a fast switch of its input fields.
C. Controls: deliberately broken systems on which every check must FAIL.
D. Monitors against exact answers.

The study is the library's thermonn.experiments.consistency (the same as
`thermonn thermal check --machine benchmarks/results/thermocomputer/digits`); this script pins
one thread and adds the package versions and the git state.

    python benchmarks/consistency_audit.py

Writes benchmarks/results/consistency_audit.json, .md and .png. One thread; about a minute.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from _common import RESULTS, git_state, package_versions
from thermonn._host import host_info
from thermonn._io import atomic_write_json, atomic_write_text
from thermonn.experiments.consistency import (
    PLOT,
    ConsistencyConfig,
    findings_lines,
    markdown,
    run_consistency,
    to_json,
)

MACHINE = RESULTS / "thermocomputer" / "digits"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS / "consistency_audit"), help="file prefix")
    parser.add_argument("--quick", action="store_true", help="one Δt per system")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = ConsistencyConfig(machine=os.path.relpath(MACHINE), quick=args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        report = run_consistency(config, Path(tmp) / "run")
        shutil.copyfile(Path(tmp) / "run" / PLOT, args.out + ".png")
    for r in report.rows:
        flag = "" if r.as_expected else "   <-- finding"
        print(f"[{r.section}] {r.system} dt={r.dt:g}: {'PASS' if r.passed else 'FAIL'} "
              f"{r.check} {r.measured:.6g} ± {r.error:.2g} (expected {r.expected:.6g}){flag}")  # fmt: skip
    host = host_info()
    git = git_state()
    command = "python " + " ".join(["benchmarks/consistency_audit.py", *sys.argv[1:]])
    result = {
        "command": command,
        "host": host._asdict(),
        "python": platform.python_version(),
        "versions": package_versions(["torch", "numpy", "scipy", "thermonn"]),
        "git": git,
        **to_json(report),
    }
    preamble = [
        f"Command: `{command}`",
        f"Machine: {host.cpu}, {host.threads} thread, torch {host.torch}, Python {host.python}",
        f"Git: {git['head']}{' (dirty)' if git['dirty'] else ''}; {report.seconds:.0f} s in all.",
    ]
    atomic_write_json(args.out + ".json", result)
    text = markdown(
        report, title="Consistency audit", preamble=preamble, plot_file=Path(args.out).name + ".png"
    )
    atomic_write_text(args.out + ".md", text)
    print("\n".join(findings_lines(report)) or "no findings")
    print(f"{report.seconds:.0f} s; wrote {args.out}.json, .md and .png")


if __name__ == "__main__":
    main()
