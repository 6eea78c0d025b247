"""The thermodynamic layers inside the compute-matched benchmark: their families match the GELU
MLP's budget, their drop-in variants swap the right modules, the coupling hook relaxes the
temperatures exactly, and the report tallies them."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from thermonn.bench import Cell, RunOptions, run_cell
from thermonn.bench.backbones import THERMAL_VARIANTS, build_backbone
from thermonn.bench.cells import plan
from thermonn.bench.families import FAMILIES
from thermonn.bench.report import write_report
from thermonn.bench.suites import THERMAL_MODELS, cells_for
from thermonn.nn import ThermalAttention, ThermalNodes, ThermalRNN, couple_temperatures


@pytest.mark.parametrize("model", THERMAL_MODELS)
def test_thermal_families_match_the_reference_budget(model: str) -> None:
    assert FAMILIES[model].thermal and not FAMILIES[model].tel
    m = plan(Cell("digits", model))
    assert m.matched, m
    # Linear(64 → w) + w temperatures (+ w chemical potentials for Fermi–Dirac) + readout
    extra = 2 if "fd" in model or "coupled" in model else 1
    assert m.params == 64 * m.width + m.width + extra * m.width + 10 * m.width + 10


def test_thermal_dropin_variants_swap_the_right_modules() -> None:
    count = lambda m, kind: sum(isinstance(x, kind) for x in m.modules())  # noqa: E731
    cnn = build_backbone("cnn", "thermal-conv", 16, 10)
    assert count(cnn, ThermalNodes) == 2 and count(cnn, nn.ReLU) == 0
    assert count(build_backbone("lstm", "thermal-rnn", 16, 10), ThermalRNN) == 1
    lm = build_backbone("transformer", "thermal-attn", 16, 30)
    assert count(lm, ThermalAttention) == 2 and count(lm, nn.MultiheadAttention) == 0
    ids = torch.randint(0, 30, (2, 12))
    assert lm(ids).shape == (2, 12, 30)
    for variant, (backbone, _) in THERMAL_VARIANTS.items():
        other = next(b for b in ("cnn", "lstm", "transformer") if b != backbone)
        with pytest.raises(ValueError, match=f"unknown model '{variant}' .* {other} backbone"):
            build_backbone(other, variant, 16, 10)


def test_coupling_hook_relaxes_after_every_step_like_relax() -> None:
    torch.manual_seed(0)
    hooked = nn.Sequential(nn.Linear(3, 4), ThermalNodes(4, coupling=0.2, bath_coupling=0.1))
    plain = copy.deepcopy(hooked)
    x = torch.randn(8, 3)
    opts = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (hooked, plain)]
    handle = couple_temperatures(opts[0], hooked, duration=0.7)
    for model, opt in zip((hooked, plain), opts, strict=True):
        model(x).square().sum().backward()
        opt.step()
    a, b = hooked[1], plain[1]
    assert isinstance(a, ThermalNodes) and isinstance(b, ThermalNodes)
    assert not torch.allclose(a.temperature, b.temperature)
    b.relax(0.7)  # the gradient step, then the exact relaxation
    torch.testing.assert_close(a.temperature, b.temperature)
    handle.remove()
    before = a.temperature.detach().clone()
    opts[0].zero_grad()
    opts[0].step()  # detached: a step without gradients leaves the temperatures alone
    torch.testing.assert_close(a.temperature.detach(), before)
    with pytest.raises(ValueError, match="model"):
        couple_temperatures(opts[0], nn.Linear(2, 2))
    with pytest.raises(ValueError, match="duration"):
        couple_temperatures(opts[0], hooked, duration=0.0)


def test_the_thermal_suite_and_its_report(tmp_path) -> None:
    cells = cells_for("thermal", [0])
    models = {c.model for c in cells}
    assert set(THERMAL_MODELS) <= models and {"mlp-gelu", "ffn", *THERMAL_VARIANTS} <= models
    out = tmp_path / "thermal"
    out.mkdir()
    options = RunOptions(epochs_scale=0.1, max_train=64, threads=1)
    rows = [
        run_cell(Cell("wine", m, seed=s), options)
        for m in ("mlp-gelu", "thermo-fd")
        for s in (0, 1)
    ]
    assert all(r["status"] == "ok" for r in rows)
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = write_report(out).read_text()
    assert "Thermodynamic layers" in report and "| thermo-fd | 0 |" in report
    assert "TEL (logcosh" not in report  # no TEL rows, no TEL headline
