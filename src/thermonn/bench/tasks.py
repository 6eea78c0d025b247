"""Benchmark tasks: data, loss, metric and the training budget of each.

A task is data plus a fixed training recipe (epochs, batch size, learning rate, base width); every
model family gets exactly that recipe — no per-family tuning. ``backbone`` is ``None`` for vector
tasks (any block family of :mod:`thermonn.bench.families` plugs in) and names the network for the
drop-in studies (``cnn``, ``lstm``, ``transformer``), whose models are FFN variants of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import torch
from torch import Tensor, nn

from thermonn.data.digits import DatasetSplit

__all__ = ["TASKS", "Task", "get_task"]

Kind = Literal["classification", "regression", "reconstruction", "language"]


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        metric: name of the headline test metric; ``higher_is_better`` gives its direction.
        width: base hidden width h₀ that defines the parameter/FLOP budget ("default" budget).
        out_features: output size of the model (classes, targets, pixels or vocabulary).
    """

    name: str
    kind: Kind
    description: str
    source: str
    loader: Callable[[], tuple[DatasetSplit, int]]
    width: int
    epochs: int
    batch_size: int
    lr: float
    backbone: str | None = None

    @property
    def metric(self) -> str:
        return {
            "classification": "accuracy",
            "regression": "r2",
            "reconstruction": "mse",
            "language": "bits_per_char",
        }[self.kind]

    @property
    def higher_is_better(self) -> bool:
        return self.kind in ("classification", "regression")

    def data(self) -> tuple[DatasetSplit, int]:
        """``(split, out_features)``, cached per process."""
        return _load(self.name)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        if self.kind in ("classification", "language"):
            return nn.functional.cross_entropy(
                output.reshape(-1, output.shape[-1]), target.reshape(-1)
            )
        return nn.functional.mse_loss(output, target)

    def target(self, x: Tensor, y: Tensor) -> Tensor:
        """Autoencoders reconstruct their input; every other task predicts ``y``."""
        return x if self.kind == "reconstruction" else y

    @torch.no_grad()
    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        """``(metric, loss)`` of test-set outputs."""
        loss = float(self.loss(output, target))
        if self.kind == "classification":
            return float((output.argmax(-1) == target).float().mean()), loss
        if self.kind == "regression":
            total = float(((target - target.mean(0)) ** 2).sum())
            return 1.0 - float(((output - target) ** 2).sum()) / total, loss
        if self.kind == "language":
            return loss / math.log(2.0), loss
        return loss, loss


def _sk(name: str) -> Callable[[], tuple[DatasetSplit, int]]:
    def load() -> tuple[DatasetSplit, int]:
        from thermonn.data.tabular import load_sklearn_split

        split = load_sklearn_split(name)
        out = split.num_classes if split.y_train.dtype == torch.int64 else split.y_train.shape[1]
        return split, out

    return load


def _fmnist(*, kind: str) -> Callable[[], tuple[DatasetSplit, int]]:
    def load() -> tuple[DatasetSplit, int]:
        from thermonn.data.idx import load_idx_split

        split = load_idx_split(flatten=kind in ("flat", "recon"))
        if kind == "image":  # (n, 1, 28, 28) for the CNN
            split = DatasetSplit(*(t.unsqueeze(1) if t.dim() == 3 else t for t in split))
        out = 784 if kind == "recon" else 10
        return split, out

    return load


def _digits_ae() -> tuple[DatasetSplit, int]:
    split, _ = _sk("digits")()
    return split, split.num_features


def _spirals() -> tuple[DatasetSplit, int]:
    from thermonn.data.tabular import load_spirals_split

    return load_spirals_split(), 3


def _pendulum() -> tuple[DatasetSplit, int]:
    from thermonn.data.tabular import load_pendulum_split

    return load_pendulum_split(), 1


def _corpus() -> tuple[DatasetSplit, int]:
    from thermonn.data.tabular import load_char_corpus

    return load_char_corpus()


_FM = "Fashion-MNIST 60k/10k (Debian dataset-fashion-mnist)"
_SK = "scikit-learn"
# recipe per task: base width h0 (the "default" budget), epochs, batch size, Adam learning rate
_TASK_LIST = [
    Task("digits", "classification", "8x8 digits, 10 classes", _SK, _sk("digits"),
         width=64, epochs=30, batch_size=64, lr=3e-3),
    Task("breast_cancer", "classification", "Wisconsin breast cancer, 2 classes", _SK,
         _sk("breast_cancer"), width=32, epochs=30, batch_size=32, lr=1e-3),
    Task("wine", "classification", "wine cultivars, 3 classes", _SK, _sk("wine"),
         width=16, epochs=40, batch_size=16, lr=3e-3),
    Task("fashion_mnist", "classification", "Fashion-MNIST, flattened, 10 classes", _FM,
         _fmnist(kind="flat"), width=128, epochs=4, batch_size=128, lr=1e-3),
    Task("spirals", "classification", "3 interleaved 2-D spirals, 1.5 turns", "synthetic",
         _spirals, width=64, epochs=150, batch_size=64, lr=1e-2),
    Task("diabetes", "regression", "diabetes progression (R^2)", _SK, _sk("diabetes"),
         width=16, epochs=60, batch_size=32, lr=1e-3),
    Task("friedman1", "regression", "make_friedman1, noise 1 (R^2)", f"{_SK} (generated)",
         _sk("friedman1"), width=64, epochs=60, batch_size=64, lr=3e-3),
    Task("pendulum", "regression", "exact pendulum period T(L, theta0, g) (R^2)",
         "synthetic (elliptic K)", _pendulum, width=64, epochs=60, batch_size=64, lr=3e-3),
    Task("digits_ae", "reconstruction", "digits autoencoder, bottleneck = width (test MSE)", _SK,
         _digits_ae, width=16, epochs=40, batch_size=64, lr=3e-3),
    Task("fashion_mnist_ae", "reconstruction", "Fashion-MNIST autoencoder (test MSE)", _FM,
         _fmnist(kind="recon"), width=32, epochs=4, batch_size=128, lr=1e-3),
    Task("fashion_mnist_cnn", "classification", "small CNN on Fashion-MNIST (drop-in)", _FM,
         _fmnist(kind="image"), width=64, epochs=2, batch_size=128, lr=1e-3, backbone="cnn"),
    Task("fashion_mnist_rows", "classification", "LSTM over the 28 rows of Fashion-MNIST (drop-in)",
         _FM, _fmnist(kind="rows"), width=64, epochs=2, batch_size=128, lr=2e-3, backbone="lstm"),
    Task("charlm", "language", "char-level LM, 2-layer Transformer, licence texts (bits/char)",
         "/usr/share/common-licenses (Debian base-files)", _corpus,
         width=128, epochs=12, batch_size=32, lr=3e-3, backbone="transformer"),
]  # fmt: skip
TASKS: dict[str, Task] = {t.name: t for t in _TASK_LIST}


@cache
def _load(name: str) -> tuple[DatasetSplit, int]:
    return TASKS[name].loader()


def get_task(name: str) -> Task:
    """The task called ``name``. Raises ``ValueError`` listing the valid names."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {sorted(TASKS)}")
    return TASKS[name]
