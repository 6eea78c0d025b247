"""The generative experiment: the generative machine trained on the digits, samples, heat and a
classifier's verdict, written into a run folder (``thermonn computer generate``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from thermonn._io import atomic_write_json
from thermonn._validation import check_int, check_seed
from thermonn.data import load_digits_split
from thermonn.machines.thermocomputer.generative import (
    generative_machine,
    sample,
    train_generative,
)
from thermonn.train import RunFolder, save_tensors

__all__ = ["generate_run"]


def generate_run(
    folder: str | os.PathLike[str],
    *,
    samples: int = 500,
    seed: int = 0,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Train the generative machine on scikit-learn's digits (pixels mapped to [−1, 1]), draw
    ``samples`` digits and write ``generative.safetensors``, ``generative.json`` and
    ``plots/generated_digits.png``. Quality is scored by a logistic-regression classifier
    trained on the digits: its mean top-class probability on the samples, on the starting
    noise and on the data. ``command`` (the ``thermonn`` arguments) goes to ``command.txt``."""
    check_int("samples", samples, minimum=1)
    check_seed("seed", seed)
    with RunFolder(folder).writing(command=command) as run_folder:
        return _generate(run_folder.path, samples, seed)


def _generate(folder: Path, samples: int, seed: int) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    (folder / "plots").mkdir(parents=True, exist_ok=True)
    digits = load_digits_split(test_fraction=None, scaling="symmetric")  # every image, in order
    data, y = digits.x_train, digits.y_train.numpy()
    machine = generative_machine(data.shape[1])
    fit = train_generative(machine, data, seed=seed)
    drawn = sample(machine, samples, generator=torch.Generator().manual_seed(seed))
    clf = LogisticRegression(max_iter=3000).fit(data.numpy(), y)
    confidence = lambda a: float(clf.predict_proba(a.numpy()).max(1).mean())  # noqa: E731
    counts = torch.bincount(torch.as_tensor(clf.predict(drawn.samples.numpy())), minlength=10)
    save_tensors(folder / "generative.safetensors", machine.state_dict(), {"fit": asdict(fit)})
    c = machine.config
    result = {
        "dataset": "digits",
        "machine": {
            "n_visible": c.n_mobile,
            "j2": c.j2,
            "j4": c.j4,
            "kT": c.kT,
            "dt": c.dt,
            "t_final": c.t_final,
        },
        "fit": asdict(fit),
        "samples": samples,
        "heat_per_sample_kT": {
            "mean": float(drawn.heat_kT.mean()),
            "std": float(drawn.heat_kT.std()),
        },
        "classifier_confidence": {
            "samples": confidence(drawn.samples),
            "noise": confidence(drawn.noise),
            "data": confidence(data),
        },
        "predicted_class_counts": counts.tolist(),
    }
    atomic_write_json(folder / "generative.json", result)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 10, figsize=(10, 4.4))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < samples:
            ax.imshow(drawn.samples[i].reshape(8, 8).numpy(), cmap="gray_r", vmin=-1.5, vmax=1.5)
    fig.suptitle(f"generated digits (heat {float(drawn.heat_kT.mean()):.0f} kT per sample)")
    fig.tight_layout()
    fig.savefig(folder / "plots" / "generated_digits.png", dpi=100)
    plt.close(fig)
    return result
