"""thermonn's RBM training and AIS against the ``rbms`` library (PyTorch), side by side.

Same data (binarized digits; binarized Fashion-MNIST: pixels > 0.5, thermonn's
``load_binarized``), same Bernoulli–Bernoulli model (hidden units, visible biases initialised to
the logit of the training pixel means by both), same PCD budget: epochs of the same minibatch
size, the same number of persistent chains and Gibbs steps per update, one CPU thread each.
Both use the centred PCD gradient (batch-mean offsets); the optimisers differ as the libraries'
recipes do: thermonn applies it with SGD + momentum 0.5 + weight decay 1e-4
(:class:`thermonn.optim.ContrastiveDivergence`, ``centered=True``, the ``thermonn rbm``
default); rbms rescales it to unit norm and takes plain SGD steps (its ``fit_batch_pcd``). Each library gets
its learning rates from a small grid (``--lr-thermonn``, ``--lr-rbms``; rbms's default 0.01 is in
its grid) and every row is reported.

Every trained model — both libraries' — is scored by the same evaluator: thermonn's forward AIS
(log Z, a stochastic lower bound) and reverse AIS from model samples (an upper bound), giving the
test and train log-likelihood with a bracket; rbms's own AIS estimate of log Z
(``compute_partition_function_ais``, linear schedule, float32 weights) is reported beside it for
both models. On a small model (16 hidden units) the exact log Z by enumeration checks both AIS
implementations. Wall-clock per training epoch is timed for both.

    /work/main/.venv-anchors/bin/python benchmarks/rbm_vs_rbms.py           # full benchmark
    /work/main/.venv-anchors/bin/python benchmarks/rbm_vs_rbms.py --quick   # seconds

Writes benchmarks/results/rbm_vs_rbms.{json,md} (``--quick``: rbm_vs_rbms_quick.*). Needs the
[anchors] extra (rbms). No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from _common import RESULTS, git_state, package_versions, summary

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import torch  # noqa: E402


def _rbms_energy(params):
    """An rbms BBRBM's parameters as thermonn's RBMEnergy (same convention, checked)."""
    from thermonn.machines import BernoulliUnits, RBMEnergy

    return RBMEnergy(
        params.weight_matrix.detach().clone(),
        params.vbias.detach().clone(),
        params.hbias.detach().clone(),
        BernoulliUnits(),
    )


def train_thermonn(x: torch.Tensor, args, lr: float, seed: int) -> dict:
    from thermonn.experiments.rbm import RBMConfig, train_rbm

    config = RBMConfig(
        hidden=args.hidden, rule="pcd", k=args.k, chains=args.chains, epochs=args.epochs,
        batch_size=args.batch_size, lr=lr, momentum=0.5, weight_decay=1e-4, seed=seed,
    )  # fmt: skip
    run = train_rbm(config, x)
    m = run.model
    from thermonn.machines import RBMEnergy

    energy = RBMEnergy(m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach(), m.units)
    seconds = [h["seconds"] for h in run.history]
    return {"energy": energy, "base_bias": run.base_bias, "seconds_per_epoch": seconds}


def train_rbms(x: torch.Tensor, args, lr: float, seed: int) -> dict:
    from rbms.bernoulli_bernoulli.classes import BBRBM
    from rbms.training.pcd import fit_batch_pcd

    torch.manual_seed(seed)  # rbms draws from torch's default generator
    params = BBRBM.init_parameters(args.hidden, SimpleNamespace(data=x), "cpu", torch.float32)
    base_bias = params.vbias.detach().clone()
    chains = params.init_chains(args.chains)
    params.init_grad()
    optimizer = torch.optim.SGD(params.parameters(), lr=lr, maximize=True)
    ones = torch.ones(len(x))
    g = torch.Generator().manual_seed(seed)
    seconds = []
    with torch.no_grad():
        for _ in range(args.epochs):
            start = time.perf_counter()
            for rows in torch.randperm(len(x), generator=g).split(args.batch_size):
                optimizer.zero_grad(set_to_none=False)
                chains, _ = fit_batch_pcd((x[rows], ones[rows]), chains, params, args.k, 1.0)
                optimizer.step()
            seconds.append(time.perf_counter() - start)
    return {
        "energy": _rbms_energy(params),
        "base_bias": base_bias,
        "seconds_per_epoch": seconds,
        "params": params,
    }


def _as_rbms(energy):
    from rbms.bernoulli_bernoulli.classes import BBRBM

    return BBRBM(
        weight_matrix=energy.weight.float(),
        vbias=energy.visible_bias.float(),
        hbias=energy.hidden_bias.float(),
    )


def score(trained: dict, data: dict[str, torch.Tensor], args, seed: int) -> dict:
    """Both models through the one evaluator (thermonn's forward + reverse AIS), plus rbms's AIS."""
    from rbms.partition_function.ais import compute_partition_function_ais

    from thermonn.experiments.rbm import RBMConfig, evaluate_rbm

    energy = trained["energy"]
    if args.ais_float64:
        energy = type(energy)(
            *(t.double() for t in (energy.weight, energy.visible_bias, energy.hidden_bias)),
            energy.units,
        )
    config = RBMConfig(
        ais_steps=args.ais_steps, ais_runs=args.ais_runs, reverse_burn_in=args.reverse_burn_in
    )
    start = time.perf_counter()
    brackets, info, _ = evaluate_rbm(
        energy,
        trained["base_bias"].to(energy.weight.dtype),
        {k: v.to(energy.weight.dtype) for k, v in data.items()},
        config,
        torch.Generator().manual_seed(seed + 1000),
    )
    ours = time.perf_counter() - start
    torch.manual_seed(seed + 2000)
    start = time.perf_counter()
    rbms_log_z = compute_partition_function_ais(
        args.ais_runs, args.ais_steps + 1, _as_rbms(trained["energy"])
    )
    theirs = time.perf_counter() - start
    out = {name: b.summary() for name, b in brackets.items()}
    mean_neg_f = {name: b.mean_negative_energy for name, b in brackets.items()}
    out["ais"] = {**info, "thermonn_seconds": ours}
    out["rbms_ais"] = {
        "log_z": rbms_log_z,
        "seconds": theirs,
        **{f"{name}_log_likelihood": v - rbms_log_z for name, v in mean_neg_f.items()},
    }
    return out


def exact_check(x: torch.Tensor, args) -> dict:
    """A 16-hidden model of each library (few epochs): exact log Z by enumeration against both
    AIS implementations."""
    from rbms.partition_function.ais import compute_partition_function_ais

    from thermonn.experiments.rbm import RBMConfig, evaluate_rbm

    config = RBMConfig(
        ais_steps=args.ais_steps, ais_runs=args.ais_runs, reverse_burn_in=args.reverse_burn_in
    )
    small = SimpleNamespace(**{**vars(args), "hidden": 16, "epochs": max(2, args.epochs // 10)})
    rows = []
    for name, train in (("thermonn", train_thermonn), ("rbms", train_rbms)):
        trained = train(
            x, small, args.lr_thermonn[0] if name == "thermonn" else args.lr_rbms[-1], 0
        )
        e = trained["energy"]
        e64 = type(e)(e.weight.double(), e.visible_bias.double(), e.hidden_bias.double(), e.units)
        exact = float(e64.log_partition())
        _, info, _ = evaluate_rbm(
            e64, trained["base_bias"].double(), {}, config, torch.Generator().manual_seed(7)
        )
        torch.manual_seed(7)
        theirs = compute_partition_function_ais(args.ais_runs, args.ais_steps + 1, _as_rbms(e))
        # the two libraries' free energies agree on data (the same model, the same law)
        convention = float(
            (_as_rbms(e).compute_energy_visibles(x[:64]) - e.energy(x[:64])).abs().max()
        )
        rows.append({
            "trained_by": name, "exact_log_z": exact,
            "thermonn_forward": info["log_z_forward"], "thermonn_reverse": info["log_z_reverse"],
            "rbms_ais": theirs, "free_energy_convention_max_abs_diff": convention,
        })  # fmt: skip
    return {"hidden": 16, "ais_steps": args.ais_steps, "ais_runs": args.ais_runs, "rows": rows}


def run_dataset(name: str, args) -> dict:
    from thermonn.data import load_binarized

    split = load_binarized(name, limit_train=args.limit_train)
    x, x_test = split.x_train, split.x_test
    if args.limit_test:
        x_test = x_test[: args.limit_test]
    rows = []
    for library, train, grid in (
        ("thermonn", train_thermonn, args.lr_thermonn),
        ("rbms", train_rbms, args.lr_rbms),
    ):
        for lr in grid:
            for seed in args.seeds:
                trained = train(x, args, lr, seed)
                scores = score(trained, {"train": x, "test": x_test}, args, seed)
                row = {
                    "dataset": name, "library": library, "lr": lr, "seed": seed,
                    "seconds_per_epoch": statistics.fmean(trained["seconds_per_epoch"]),
                    **scores,
                }  # fmt: skip
                rows.append(row)
                print(
                    f"{name:14s} {library:8s} lr={lr:<6g} seed={seed}: test LL {row['test']['estimate']:.3f} "
                    f"[{row['test']['lower']:.3f}, {row['test']['upper']:.3f}]  rbms-AIS "
                    f"{row['rbms_ais']['test_log_likelihood']:.3f}  {row['seconds_per_epoch']:.3f} s/epoch",
                    flush=True,
                )
    return {"dataset": name, "n_train": len(x), "n_test": len(x_test), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget, for a smoke test")
    parser.add_argument("--datasets", nargs="+", default=["digits", "fashion-mnist"])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--lr-thermonn", type=float, nargs="+", default=[0.05, 0.01])
    parser.add_argument("--lr-rbms", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--limit-test", type=int, default=None)
    parser.add_argument("--ais-steps", type=int, default=5000)
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--reverse-burn-in", type=int, default=1000)
    parser.add_argument("--ais-float64", action="store_true", help="AIS in float64 (slower)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.hidden, args.epochs, args.seeds = ["digits"], 32, 3, [0]
        args.ais_steps, args.ais_runs, args.reverse_burn_in = 300, 32, 100
    torch.set_num_threads(1)
    from thermonn._host import host_info

    start = time.time()
    result = {
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "host": host_info()._asdict(),
        "versions": package_versions(("thermonn", "torch", "numpy", "rbms")),
        "git": git_state(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "exact_check": exact_check(
            __import__("thermonn.data", fromlist=["load_binarized"])
            .load_binarized("digits")
            .x_train,
            args,
        ),
        "datasets": [run_dataset(name, args) for name in args.datasets],
    }
    result["seconds"] = time.time() - start
    out = args.out or RESULTS / ("rbm_vs_rbms_quick" if args.quick else "rbm_vs_rbms")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, out.with_suffix(".md"))
    print(f"wrote {out.with_suffix('.json')} and .md")


def write_markdown(result: dict, path: Path) -> None:
    s, v = result["settings"], result["versions"]
    lines = [
        "# Bernoulli RBM, PCD: thermonn vs rbms",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['host'].get('cpu')}, one torch thread; versions: thermonn {v['thermonn']}, "
        f"rbms {v['rbms']}, torch {v['torch']}; git {result['git']['head']}; total {result['seconds']:.0f} s.",
        "",
        f"Budget, both libraries: {s['hidden']} hidden units, {s['epochs']} epochs, batch "
        f"{s['batch_size']}, {s['chains']} persistent chains, PCD-{s['k']}. thermonn: SGD + momentum "
        "0.5 + weight decay 1e-4 on the centred PCD gradient; rbms: its centred gradient rescaled to "
        "unit norm, plain SGD. Scored by one evaluator (thermonn's AIS, forward = upper end of the "
        f"log-likelihood, reverse = lower end; {s['ais_steps']} steps, {s['ais_runs']} runs); "
        "rbms's own AIS estimate beside it. Log-likelihoods in nats per image.",
        "",
    ]
    for d in result["datasets"]:
        lines += [
            f"## {d['dataset']} ({d['n_train']} train / {d['n_test']} test images)",
            "",
            "Both forward AIS estimates are stochastic upper bounds on a log-likelihood, so the "
            "headline is the tighter (smaller) of thermonn's and rbms's for each model; the bracket's "
            "lower end is thermonn's reverse AIS, valid only when the bracket is ordered (inverted "
            "brackets are counted: AIS had not converged on those models).",
            "",
            "| library | lr | test LL (tighter AIS), mean ± std over seeds | thermonn forward | rbms forward | thermonn reverse | inverted brackets | train LL | s / epoch |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        groups: dict[tuple[str, float], list[dict]] = {}
        for r in d["rows"]:
            groups.setdefault((r["library"], r["lr"]), []).append(r)
        best: dict[str, tuple[float, tuple[str, float]]] = {}

        def tight(r: dict, name: str = "test") -> float:
            return min(r[name]["upper"], r["rbms_ais"][f"{name}_log_likelihood"])

        for key, rs in groups.items():
            test = summary([tight(r) for r in rs])
            ours = statistics.fmean(r["test"]["upper"] for r in rs)
            theirs = statistics.fmean(r["rbms_ais"]["test_log_likelihood"] for r in rs)
            low = statistics.fmean(r["test"]["lower"] for r in rs)
            inverted = sum(not r["test"].get("consistent", True) for r in rs)
            train = statistics.fmean(tight(r, "train") for r in rs)
            secs = summary([r["seconds_per_epoch"] for r in rs])
            lines.append(
                f"| {key[0]} | {key[1]:g} | {test['mean']:.3f} ± {test['std']:.3f} | {ours:.3f} | "
                f"{theirs:.3f} | {low:.3f} | {inverted} of {len(rs)} | {train:.3f} | "
                f"{secs['mean']:.3f} ± {secs['std']:.3f} |"
            )
            if key[0] not in best or test["mean"] > best[key[0]][0]:
                best[key[0]] = (test["mean"], key)
        lines += [
            "",
            "| library | lr | seed | thermonn forward | rbms forward | thermonn reverse | ordered |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in d["rows"]:
            lines.append(
                f"| {r['library']} | {r['lr']:g} | {r['seed']} | {r['test']['upper']:.3f} | "
                f"{r['rbms_ais']['test_log_likelihood']:.3f} | {r['test']['lower']:.3f} | "
                f"{'yes' if r['test'].get('consistent', True) else '**no**'} |"
            )
        if "thermonn" in best and "rbms" in best:
            t, r = best["thermonn"][0], best["rbms"][0]
            verdict = "higher (better)" if t > r else "lower (worse)"
            lines += [
                "",
                f"Best rows: thermonn test LL {t:.3f} vs rbms {r:.3f}: thermonn's is {verdict} by {abs(t - r):.3f} nats.",
                "",
            ]
    ex = result["exact_check"]
    lines += [
        f"## AIS against the exact log Z ({ex['hidden']} hidden units, enumerated)",
        "",
        "| model trained by | exact log Z | thermonn forward AIS | thermonn reverse AIS | rbms AIS | free-energy convention max |Δ| |",
        "|---|---|---|---|---|---|",
    ]
    for r in ex["rows"]:
        lines.append(
            f"| {r['trained_by']} | {r['exact_log_z']:.4f} | {r['thermonn_forward']:.4f} | "
            f"{r['thermonn_reverse']:.4f} | {r['rbms_ais']:.4f} | {r['free_energy_convention_max_abs_diff']:.1e} |"
        )
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
