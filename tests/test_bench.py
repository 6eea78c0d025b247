"""Benchmark harness: FLOP counting and matching against analytic counts, baseline blocks
against their defining equations, resumable sweeps, statistics against hand formulas, CLI and bad
input."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from thermonn.bench import (
    Cell,
    RunOptions,
    cells_for,
    count_flops,
    count_parameters,
    match_width,
    run_cell,
    run_sweep,
)
from thermonn.bench.backbones import build_backbone
from thermonn.bench.baselines import DEQBlock, EnergyDescent, HopfieldBlock
from thermonn.bench.cells import plan
from thermonn.bench.families import FAMILIES
from thermonn.bench.rows import load_rows
from thermonn.bench.runner import _host_record
from thermonn.bench.stats import compare
from thermonn.bench.tasks import KINDS, TASKS, get_task
from thermonn.cli.main import main
from thermonn.nn.tel import TEL

QUICK = RunOptions(epochs_scale=0.1, max_train=64, threads=1)


def test_flops_match_analytic_counts():
    d_in, h, d_out, b = 30, 20, 5, 8
    mlp = FAMILIES["mlp-gelu"].build(d_in, d_out, h)
    x = torch.randn(b, d_in)
    forward = 2 * (d_in * h + h * d_out)
    assert count_flops(mlp, x) == forward
    # backward: both weight gradients plus the hidden activation's gradient (x needs none)
    assert count_flops(mlp, x, train_step=True) == 2 * forward + 2 * h * d_out
    # TEL's K descent steps are element-wise: same matmul FLOPs as the MLP
    assert count_flops(FAMILIES["tel"].build(d_in, d_out, h), x) == forward


def test_match_width_is_the_closest_width_by_brute_force():
    d_in, d_out, target_w = 64, 10, 64
    ref = FAMILIES["mlp-gelu"].build(d_in, d_out, target_w)
    x = torch.randn(8, d_in)
    tp, tf = count_parameters(ref), count_flops(ref, x)
    build = lambda w: FAMILIES["swiglu"].build(d_in, d_out, w)  # noqa: E731
    m = match_width(build, x, target_params=tp, target_flops=tf)
    brute = min(range(1, 200), key=lambda w: abs(count_parameters(build(w)) - tp))
    assert abs(m.params - tp) <= abs(count_parameters(build(brute)) - tp) * 1.05 + 1
    assert m.matched and abs(m.width - brute) <= 3
    # SwiGLU has two input projections: about half the MLP's width at equal parameters
    assert 30 <= m.width <= 36


def test_deq_cannot_match_flops_and_says_so():
    # wine: 13 features, 3 classes; the reference GELU MLP at width 16 has 13*16 + 16 + 16*3 + 3
    # parameters and 2 (13*16 + 16*3) FLOPs per sample
    m = plan(Cell("wine", "deq"))
    assert (m.target_params, m.target_flops) == (275, 2 * (13 * 16 + 16 * 3))
    # DEQ at width w: U (13w + w), W (w^2, no bias), readout (3w + 3); the FLOPs count U, the 8
    # fixed-point iterations' W and the readout, so weight tying cannot match FLOPs
    w = 10
    assert m.width == w and m.params == w * w + 17 * w + 3
    assert m.flops == 2 * (13 * w + 8 * w * w + 3 * w)
    assert not m.matched and m.flop_error == pytest.approx(1920 / 512 - 1)
    assert "FLOPs" in m.describe()


def test_energy_descent_gradient_is_the_energys_gradient():
    layer = EnergyDescent(5, 7, rank=3, steps=1)
    z = torch.randn(4, 7)
    y = torch.randn(4, 7, requires_grad=True)
    a = layer.directions
    energy = 0.5 * (y - z).square().sum() + (nn.functional.softplus(a(y)) * layer.weights).sum()
    (grad,) = torch.autograd.grad(energy, y)
    closed = (y - z) + (torch.sigmoid(a(y)) * layer.weights) @ a.weight
    torch.testing.assert_close(closed, grad)


def test_hopfield_association_is_the_softmax_of_scaled_pattern_similarities():
    block = HopfieldBlock(6, 9, key_dim=4).double()
    x = torch.randn(3, 6, dtype=torch.float64)
    # p_ij = exp(beta k_j . q_i) / sum_l exp(beta k_l . q_i), q = W_q x + b, beta = 1/sqrt(d_k)
    beta = block.log_beta.exp()
    assert beta.item() == pytest.approx(1 / math.sqrt(4))
    q = x @ block.query.weight.T + block.query.bias
    logits = beta * q @ block.patterns.T
    expected = logits.exp() / logits.exp().sum(-1, keepdim=True)
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)


def test_deq_block_returns_a_fixed_point():
    block = DEQBlock(4, 6, iters=60).eval()
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = block(x)
        residual = y - torch.tanh(block.recur(y) + block.inject(x))
    assert residual.abs().max() < 1e-3


@pytest.mark.parametrize("backbone,task", [("cnn", 10), ("lstm", 10), ("transformer", 30)])
def test_dropin_variants_replace_first_or_all_ffns(backbone, task):
    count = lambda m: sum(isinstance(x, TEL) for x in m.modules())  # noqa: E731
    assert count(build_backbone(backbone, "ffn", 16, task)) == 0
    assert count(build_backbone(backbone, "tel-first", 16, task)) == 1
    assert count(build_backbone(backbone, "tel-all", 16, task)) == 2


def test_run_cell_is_deterministic_and_complete():
    a = run_cell(Cell("wine", "tel", seed=3), QUICK)
    b = run_cell(Cell("wine", "tel", seed=3), QUICK)
    assert a["value"] == b["value"] and a["test_loss"] == b["test_loss"]
    assert a["status"] == "ok" and a["matched"]
    # TEL at width w on wine (13 → 3): W and b (13w + w), K = 4 step logits, the adaptive
    # temperature's slope and offset, readout (3w + 3); 17w + 9 is closest to the MLP's 275 at 16
    w = 16
    assert a["width"] == w and a["params"] == 17 * w + 9
    # matmuls only: forward 2 (13w + 3w); backward both weight gradients and the hidden gradient
    assert a["flops_forward"] == 2 * (13 * w + 3 * w)
    assert a["flops_train_step"] == 2 * a["flops_forward"] + 2 * w * 3
    assert len(a["traces"]["0"]["temperature"]) == 5  # K + 1 on real data


def test_saved_activations_are_the_tensors_autograd_keeps():
    row = run_cell(Cell("diabetes", "linear"), QUICK)
    # Linear(10 → w) → Linear(w → 1), matched to the GELU MLP's parameters: w = 16; one training
    # batch of 32 keeps the input (32 x 10), the hidden layer (32 x w) and, for the mean-square
    # loss, output and target (32 x 1 each), all float32
    w = 16
    assert row["width"] == w and row["params"] == 10 * w + w + w + 1
    assert row["saved_activation_mib"] * 2**20 == 4 * 32 * (10 + w + 1 + 1)


def test_task_scores_against_oracles():
    cls = get_task("wine")
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 2, 2])  # the last one is wrong
    nll = [
        -math.log(math.exp(z[y]) / sum(math.exp(v) for v in z))
        for z, y in zip(logits.tolist(), labels.tolist(), strict=True)
    ]
    accuracy, loss = cls.score(logits, labels)
    assert accuracy == 0.75 and loss == pytest.approx(sum(nll) / 4)
    ae = get_task("digits_ae")
    x, y = torch.randn(6, 4), torch.randint(0, 10, (6,))
    assert ae.target(x, y) is x and cls.target(x, y) is y
    assert ae.score(torch.zeros(6, 4), x) == pytest.approx((x.square().mean().item(),) * 2)
    reg = get_task("diabetes")
    y = torch.randn(50, 1)
    assert reg.score(y, y)[0] == pytest.approx(1.0)
    assert reg.score(y.mean().expand_as(y), y)[0] == pytest.approx(0.0, abs=1e-6)
    lm = get_task("charlm")
    logits, target = torch.zeros(2, 5, 16), torch.randint(0, 16, (2, 5))
    assert lm.score(logits, target)[0] == pytest.approx(4.0)  # uniform over 16: 4 bits


def test_every_committed_row_has_its_tasks_metric():
    rows = load_rows(Path(__file__).parents[1] / "benchmarks/results/tel_bench/rows.jsonl")
    assert {(r["task"], r["metric"]) for r in rows} == {
        (name, t.metric) for name, t in TASKS.items()
    }
    assert {t.kind.name for t in TASKS.values()} == set(KINDS)


def test_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    validated = []
    validate = Cell.validate
    monkeypatch.setattr(Cell, "validate", lambda cell: validated.append(cell) or validate(cell))
    cells = [Cell("wine", "mlp-gelu", seed=s) for s in (0, 1)]
    first = run_sweep(cells, tmp_path, QUICK)
    assert first.ran == 2
    assert validated == cells  # once per cell: not again for its plan or its run
    rows_file = tmp_path / "rows.jsonl"
    with open(rows_file, "a") as f:
        f.write('{"key": "torn')  # a run killed mid-write
    again = run_sweep([*cells, Cell("wine", "mlp-gelu", seed=2)], tmp_path, QUICK)
    assert again.ran == 1 and len(load_rows(rows_file)) == 3
    assert [r["value"] for r in load_rows(rows_file)[:2]] == [r["value"] for r in first.rows]
    with pytest.raises(ValueError, match="epochs_scale"):
        run_sweep(cells, tmp_path, RunOptions(epochs_scale=0.5, max_train=64))


def test_strict_matching_skips_and_lists_unmatched(tmp_path):
    result = run_sweep(
        [Cell("wine", "deq"), Cell("wine", "mlp-relu")], tmp_path, QUICK, strict=True
    )
    assert result.skipped_unmatched == ["wine|deq|default|d1"] and result.ran == 1
    matching = json.loads((tmp_path / "matching.json").read_text())
    assert matching["wine|deq|default|d1"]["matched"] is False


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Welch p from its formula: t over Welch–Satterthwaite degrees of freedom."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(2 * stats.t.sf(abs(t), dof))


def test_comparison_matches_welch_and_a_hand_bootstrap():
    rng = np.random.default_rng(7)
    a, b = rng.normal(1.0, 0.3, 12), rng.normal(0.6, 0.2, 9)
    c = compare(a, b, higher_is_better=False)
    assert c.delta == pytest.approx(a.mean() - b.mean()) and c.better == -c.delta
    assert c.p_value == pytest.approx(_welch_p(a, b), rel=1e-9)
    # percentile bootstrap by hand (each sample resampled on its own), another generator and
    # 20x the resamples: the interval ends agree to well within their Monte Carlo error
    r = np.random.default_rng(1)
    n = 200_000
    deltas = a[r.integers(0, 12, (n, 12))].mean(1) - b[r.integers(0, 9, (n, 9))].mean(1)
    np.testing.assert_allclose(c.ci, np.percentile(deltas, [2.5, 97.5]), atol=0.1 * deltas.std())
    assert c.verdict == "loss"  # a is higher, and lower is better


def test_comparison_verdicts():
    hi = compare([0.9, 0.91, 0.92], [0.8, 0.81, 0.79], higher_is_better=True)
    assert hi.verdict == "win" and hi.ci[0] > 0 and hi.p_value < 0.01
    lo = compare([0.9, 0.91, 0.92], [0.8, 0.81, 0.79], higher_is_better=False)
    assert lo.verdict == "loss"  # higher error is worse
    same = compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], higher_is_better=True)
    assert same.verdict == "tie" and same.delta == 0.0
    # the bootstrap CI alone excludes 0, but Welch's p is above 0.05: a tie
    a, b = [0.5, 0.9, 1.0, 2.0], [0.1, 0.3, 0.35, 0.6]
    close = compare(a, b, higher_is_better=True)
    assert close.ci[0] > 0 and close.p_value == pytest.approx(_welch_p(np.array(a), np.array(b)))
    assert close.p_value > 0.05 and close.verdict == "tie"
    # one seed each: no test, the interval collapses to the difference and the verdict is a tie
    single = compare([2.0], [1.0], higher_is_better=True)
    assert math.isnan(single.p_value) and single.ci == (1.0, 1.0) and single.verdict == "tie"


@pytest.mark.parametrize(
    "cell,match",
    [
        (Cell("imagenet", "tel"), "valid tasks: .*digits"),
        (Cell("digits", "resnet"), "valid models: .*swiglu"),
        (Cell("charlm", "mlp-gelu"), "valid models: .*tel-first"),
        (Cell("digits", "tel", budget="huge"), "valid budgets"),
        (Cell("charlm", "ffn", depth=2), "depth"),
    ],
)
def test_bad_cells_list_valid_choices(cell, match):
    with pytest.raises(ValueError, match=match):
        cell.validate()
    with pytest.raises(ValueError, match="valid suites"):
        cells_for("everything", [0])


def test_cli_quick_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["bench", "run", "--quick", "--out", str(out), "--no-progress"]) == 0
    rows = load_rows(out / "rows.jsonl")
    assert len(rows) == 2 * 3 * 2  # tasks x models x seeds
    report = (out / "report.md").read_text()
    assert "## Headline" in report and "### wine" in report and "### diabetes" in report
    assert "bootstrap CI" in report and (out / "rows.csv").exists()
    assert (out / "command.txt").read_text().startswith("thermonn bench run --quick")
    assert main(["bench", "run", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert "ran 0 new runs" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error(tmp_path, capsys):
    assert (
        main(["bench", "run", "--tasks", "digits", "--models", "nope", "--out", str(tmp_path)]) == 2
    )
    assert "argument --models: invalid choice: 'nope'" in capsys.readouterr().err
    assert (
        main(["bench", "run", "--tasks", "charlm", "--models", "kan", "--out", str(tmp_path)]) == 2
    )
    assert "valid models" in capsys.readouterr().err
    assert main(["bench", "run", "--suite", "nope", "--out", str(tmp_path)]) == 2
    assert "argument --suite: invalid choice" in capsys.readouterr().err
    assert main(["bench", "list"]) == 0
    assert "fashion_mnist_cnn" in capsys.readouterr().out


def test_machine_json_keeps_the_keys_of_existing_folders():
    from thermonn._host import host_info

    committed = json.loads(
        (Path(__file__).parents[1] / "benchmarks/results/tel_bench/machine.json").read_text()
    )
    record = _host_record(RunOptions(threads=1), 2)
    assert list(record) == list(committed)
    host = host_info()._asdict()
    assert {k: record[k] for k in ("cpu", "cores", "platform", "python", "torch", "cuda")} == {
        k: host[k] for k in ("cpu", "cores", "platform", "python", "torch", "cuda")
    }
    assert (record["jobs"], record["threads_per_job"], record["device"]) == (2, 1, "cpu")


def test_run_options_validate():
    with pytest.raises(ValueError, match="epochs_scale"):
        RunOptions(epochs_scale=0.0)
    with pytest.raises(ValueError, match="max_train"):
        RunOptions(max_train=0)
    with pytest.raises(ValueError, match="torch device"):
        RunOptions(device="gpu-please")
    with pytest.raises(ValueError, match="expected cpu, cuda, cuda:N or mps, got 'meta'"):
        RunOptions(device="meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            RunOptions(device="cuda")


def _mixed_partial(model: nn.Module, x: torch.Tensor) -> float:
    """|d^2 f / dx0 dx1| summed over outputs at x (zero for an additive model)."""
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g[:, 0].sum(), x)
    return h[:, 1].abs().sum().item()


def test_kan_baseline_is_a_two_layer_kan_that_models_interactions():
    from thermonn.bench.baselines import KANBlock

    torch.manual_seed(0)
    x = torch.randn(4, 3, dtype=torch.float64)
    additive = nn.Sequential(KANBlock(3, 4), nn.Linear(4, 1)).double()
    assert _mixed_partial(additive, x) < 1e-10  # KAN layer + linear map: sum of 1-D functions
    kan = FAMILIES["kan"].build(3, 1, 4, grid=5).double()
    assert sum(isinstance(m, KANBlock) for m in kan.modules()) == 2
    assert _mixed_partial(kan, x) > 1e-4


def test_a_diverging_run_is_recorded_not_hidden(monkeypatch):
    import dataclasses

    from thermonn.bench import tasks

    monkeypatch.setitem(
        tasks.TASKS, "diabetes", dataclasses.replace(tasks.TASKS["diabetes"], lr=1e30)
    )
    row = run_cell(Cell("diabetes", "mlp-gelu"), QUICK)
    assert row["status"] == "diverged"
    assert row["steps"] < row["epochs"] * 2  # stopped at the end of the first bad epoch
