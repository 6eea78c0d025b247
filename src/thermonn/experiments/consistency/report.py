"""The consistency study's report: the JSON, the markdown (tables, findings, what the
unexpected verdicts are) and the plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from thermonn.experiments.consistency.results import CheckRow, ConsistencyReport

__all__ = ["QUESTION", "findings_lines", "interpretation", "markdown", "plot", "to_json"]

QUESTION = "do the library's own simulations pass its consistency checks?"


def findings_lines(report: ConsistencyReport) -> list[str]:
    """One sentence per row whose verdict is not the one physics demands."""
    return [
        f"{r.section} {r.system}, Δt = {r.dt:g}: {r.check} "
        f"{'passed' if r.passed else 'FAILED'} (measured {r.measured:.5g} ± {r.error:.2g}, "
        f"expected {r.expected:.5g})."
        for r in report.findings
    ]


def to_json(report: ConsistencyReport) -> dict[str, Any]:
    """Everything but the work samples and the free-energy trace (those are in the plot)."""
    return {
        "question": QUESTION,
        "config": asdict(report.config),
        "seconds": report.seconds,
        "machine": report.machine,
        "checks": [r.to_json() for r in report.rows],
        "monitors": [m.to_json() for m in report.monitors],
        "findings": findings_lines(report),
        "interpretation": interpretation(report),
    }


def _pick(rows: Sequence[CheckRow], check: str, system: str) -> list[CheckRow]:
    return [r for r in rows if r.check == check and system in r.system]


def _series(rows: Sequence[CheckRow], key: str, fmt: str = ".4g") -> str:
    return ", ".join(f"{r.extra[key]:{fmt}} at Δt = {r.dt:g}" for r in rows)


def _machine_bullets(report: ConsistencyReport) -> list[str]:
    rows = report.rows
    out = []
    mid = _pick(rows, "first law (midpoint rule)", "classification run (float64)")
    simpson = _pick(rows, "first law", "classification run (float64)")
    ratio = _pick(rows, "path-ratio entropy = Q_bath/kT", "classification run (float64)")
    if mid and ratio:
        shown = "" if len(mid) > 1 else " (in the full study; quick runs one Δt)"
        out.append(
            "- **Heat quadrature (O(Δt), the check's, not the machine's).** The midpoint-rule "
            f"first-law residual of the machine's classification run is {_series(mid, 'residual')} "
            f"kT (out of |Q| ≈ {ratio[0].extra['bath']:.4g} kT): first order in Δt{shown}. For a "
            "quartic V the midpoint rule misses ∂³V Δx³/24 per step, and far from equilibrium "
            "(the run starts at x = 0) that sums to O(Δt). Simpson's rule along each step is exact for a "
            "quartic: the default first-law check leaves "
            + ", ".join(f"{r.measured:.2g}" for r in simpson)
            + " kT, i.e. the machine's force is −∇V of the energy its heat accounting uses, to "
            "round-off."
        )
        first = ratio[0].extra
        out.append(
            "- **The path-ratio entropy of `energetics.path_energetics` (O(Δt)).** ⟨ln P[ω]/P[ω̃]⟩ "
            f"− ⟨Q_bath⟩/kT = {_series(ratio, 'gap')} k_B; the Euler–Maruyama boundary term "
            "μΔt(|F(x_K)|² − |F(x_0)|²)/4kT alone is " + _series(ratio, "boundary") + ". It is "
            "large because x(0) = 0 is far from force balance (|F(0)|² = "
            f"{first['force0']:.3g} kT²); it halves with Δt{shown}, so ln P/P̃ → Q/kT as "
            "documented, but "
            f"at the deployed Δt the reported entropy production is {-first['gap']:.3g} k_B "
            f"({-100 * first['gap'] / first['bath']:.2g} %) below Q_bath/kT = {first['bath']:.5g}."
        )
    return out


def _stationary_bullet(report: ConsistencyReport) -> list[str]:
    rows = report.rows
    equi = [
        r for r in _pick(rows, "equipartition", "equilibrium at test input") if "mean_T" in r.extra
    ]
    fdt = [r for r in rows if r.check == "fluctuation-dissipation" and "ratio" in r.extra]
    if not equi and not fdt:
        return []
    text = "- **Euler–Maruyama's stationary law (O(Δt)).** "
    if equi:
        units = (report.machine or {}).get("units", "its")
        text += (
            f"The machine's centred virial temperature, averaged over its {units} units, is "
            + ", ".join(
                f"{r.extra['mean_T']:.4f} (one-unit EM law {r.extra['em_prediction']:.4f}) at "
                f"Δt = {r.dt:g}"
                for r in equi
            )
            + ": the excess over kT is Euler–Maruyama's, kT/(1 − μk_iΔt/2) at each unit's "
            "curvature k_i (across the units, T_i − kT against that law: "
            + ", ".join(
                f"correlation {r.extra['corr']:.2f}, slope {r.extra['slope']:.2f} at Δt = {r.dt:g}"
                for r in equi
            )
            + "). The FDT says the same: at"
        )
    else:
        text += "At"
    text += (
        " its worst lag (the shortest, where the stiff motion lives) R/(ΔC/kT) = "
        + "; ".join(
            f"{r.extra['ratio']:.3f} ({r.system}, Δt = {r.dt:g}; one-mode EM law {r.extra['em']})"
            for r in fdt
        )
        + ". "
    )
    stationary = [
        r for r in report.findings if r.check in ("equipartition", "fluctuation-dissipation")
    ]
    if stationary:

        def finer(r: CheckRow) -> list[CheckRow]:
            return [o for o in rows if (o.system, o.check) == (r.system, r.check) and o.dt < r.dt]

        if all(any(o.passed for o in finer(r)) for r in stationary):
            text += "These are discretisation effects: the checks pass at the finer steps. "
        elif any(not finer(r) for r in stationary):
            text += "Finer steps were not run (quick): the full study compares them. "
        else:
            text += "Not every one of them passes at a finer step: see the table. "
    text += (
        "(The least-squares kT_eff over all lags is in the JSON; for the double well it is "
        "dominated by the slow hopping, which the step barely affects.)"
    )
    return [text]


def _ergodicity_bullet(report: ConsistencyReport) -> list[str]:
    switches = (report.machine or {}).get("switches", [])
    broken = [s for s in switches if len(s["basins_from_x0"]) > 1]
    single = [s for s in switches if len(s["basins_from_x0"]) == 1]
    if not broken:
        return []
    b = broken[0]

    def verdicts(s: dict[str, Any]) -> tuple[list[str], list[str]]:
        prefix = f"machine #{s['input']}, field switch"
        rows = [r for r in report.rows if prefix in r.system]
        names = {"first law": "the first law"}
        return (
            [names.get(r.check, r.check) for r in rows if not r.passed],
            [names.get(r.check, r.check) for r in rows if r.passed],
        )

    failed, passed = verdicts(b)
    text = (
        "- **Broken ergodicity (physics of the trained machine, not Δt).** At test input "
        f"#{b['input']} the chains from x(0) = 0 split {b['basins_from_x0']} between basins they "
        "do not leave on the audited times (sign patterns of the mean state over t ∈ [1, 2], "
        f"{sum(b['basins_from_x0'])} chains"
        + "".join(f"; input #{s['input']}: {s['basins_from_x0']}" for s in single)
        + "). Such an ensemble is not a Boltzmann sample: the static response ⟨A⟩_a − ⟨A⟩_b of "
        f"A = Δh·x is {b['static_response_over_beta_var']:.2f} × β var A"
        + "".join(
            f" (input #{s['input']}: {s['static_response_over_beta_var']:.2f})" for s in single
        )
    )
    if failed:
        text += f", so {' and '.join(failed)}, which need an equilibrium start, fail there"
        if passed:
            text += f" ({' and '.join(passed)} pass in this run)"
    text += "."
    for s in single:
        bad, _ = verdicts(s)
        text += f" At input #{s['input']}, one basin, " + (
            "every check passes against thermodynamic integration."
            if not bad
            else f"{' and '.join(bad)} fail as well."
        )
    return [text]


def interpretation(report: ConsistencyReport) -> str:
    """What the unexpected verdicts are, from the recorded numbers ("" when there are none)."""
    if not report.findings:
        return ""
    bullets = _machine_bullets(report) + _stationary_bullet(report) + _ergodicity_bullet(report)
    return "\n".join(["## What the unexpected verdicts are", "", *bullets])


def markdown(
    report: ConsistencyReport,
    *,
    title: str = "Consistency checks",
    preamble: Sequence[str] = (),
    plot_file: str | None = "consistency.png",
) -> str:
    """The report: ``preamble`` lines (command, host) under ``title``, the checks' table, the
    monitors, each check's detail, the findings and what they are."""
    lines = [f"# {title}", "", *(f"{p}  " for p in preamble)]
    if preamble:
        lines.append("")
    lines += [
        "Every check at its default tolerance: 4 standard errors, no slack (except where a "
        "reference value has its own error, noted). `as expected`: PASS where the law holds, "
        "FAIL on the deliberately broken controls (C); a ✗ there is a finding.",
        "",
    ]
    if plot_file is not None:
        lines += [f"![consistency checks]({plot_file})", ""]
    lines += [
        "| | system | Δt | check | measured ± error | expected | tolerance | verdict | as expected | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.section} | {r.system} | {r.dt:g} | {r.check} | {r.measured:.6g} ± {r.error:.2g} "
            f"| {r.expected:.6g} | {r.tolerance:.2g} | {'PASS' if r.passed else 'FAIL'} | "
            f"{'✓' if r.as_expected else '✗'} | {r.note} |"
        )
    lines += [
        "",
        "## Monitors (D)",
        "",
        "| monitor | measured | exact | detail |",
        "|---|---|---|---|",
    ]
    for m in report.monitors:
        measured = (
            f"{m.measured}" if m.error is None or m.measured is None
            else f"{m.measured:.5g} ± {m.error:.2g}"
        )  # fmt: skip
        exact = "—" if m.exact is None else f"{m.exact:.5g}"
        lines.append(f"| {m.monitor} | {measured} | {exact} | {m.detail} |")
    lines += ["", "## Details", ""]
    lines += [
        f"- **{r.section} {r.system}, Δt = {r.dt:g}, {r.check}**: {r.detail}" for r in report.rows
    ]
    found = findings_lines(report)
    lines += ["", "## Findings", ""]
    lines += [f"- {f}" for f in found] or [
        "None: every law holds where it should and every control fails."
    ]
    text = interpretation(report)
    if text:
        lines += ["", text]
    return "\n".join(lines) + "\n"


def plot(report: ConsistencyReport, path: Path) -> None:
    """Three panels: the squeezed trap's P_F(W) and P_R(−W) crossing at ΔF (Crooks); the
    relaxing trap's free energy F(t) falling to −kT ln Z; every check's |measured − expected|
    over its tolerance (≤ 1 passes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    ax = axes[0]
    w = report.works
    forward, reverse = w.forward.double(), -w.reverse.double()
    lo = float(torch.minimum(forward.min(), reverse.min()))
    hi = float(torch.maximum(forward.max(), reverse.max()))
    bins = torch.linspace(lo, hi, 61).tolist()
    ax.hist(forward.tolist(), bins=bins, density=True, alpha=0.55, label="P_F(W)")
    ax.hist(reverse.tolist(), bins=bins, density=True, alpha=0.55, label="P_R(−W)")
    ax.axvline(w.delta_f, color="k", lw=1.2, label=f"ΔF = {w.delta_f:.4f}")
    ax.set(xlabel="work W (kT)", ylabel="density",
           title=f"Crooks: squeezed trap, Δt = {w.dt:g}")  # fmt: skip
    ax.legend(fontsize=8)
    ax = axes[1]
    trace = report.free_energy
    t, f, err = trace.times.tolist(), trace.free_energy, trace.error
    ax.plot(t, f.tolist(), "o-", ms=3, label="⟨V⟩ − kT S_gauss")
    ax.fill_between(t, (f - 4 * err).tolist(), (f + 4 * err).tolist(), alpha=0.25, label="± 4 s.e.")
    ax.axhline(report.free_energy_exact, color="k", lw=1, ls="--",
               label=f"−kT ln Z = {report.free_energy_exact:.4f}")  # fmt: skip
    ax.set(xlabel="t", ylabel="F(t)", title="free energy of a relaxing trap (monitor)")
    ax.legend(fontsize=8)
    ax = axes[2]
    colours = {"A": "tab:blue", "B": "tab:green", "C": "tab:red"}
    for i, r in enumerate(report.rows):
        # the second law is one-sided: only a deficit below 0 counts against it
        miss = (
            r.expected - r.measured
            if r.check == "entropy production"
            else abs(r.measured - r.expected)
        )
        ratio = max(miss, 0.0) / r.tolerance if r.tolerance > 0 else float("inf")
        y = [max(ratio, 1e-3)]
        if r.expect == "fail":  # a control: an unfilled cross, a finding when it lies below 1
            ax.scatter([i], y, c=colours[r.section], marker="x", s=28)
        else:
            edge = "none" if r.as_expected else "k"
            ax.scatter([i], y, c=colours[r.section], marker="o", edgecolors=edge, s=28)
    ax.axhline(1.0, color="k", lw=1)
    for section, colour in colours.items():
        ax.scatter([], [], c=colour, label=f"section {section}")
    ax.scatter([], [], c="0.5", marker="x", label="control (must fail)")
    ax.scatter([], [], c="0.5", edgecolors="k", label="finding (black edge)")
    ax.set(yscale="log", xlabel="check (table order)", ylabel="|measured − expected| / tolerance",
           title="every check (≤ 1 passes; second law one-sided)")  # fmt: skip
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
