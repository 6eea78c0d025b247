"""Benchmark tasks: data, loss, metric and the training budget of each.

A task is data plus a fixed training recipe (epochs, batch size, learning rate, base width); every
model family gets exactly that recipe — no per-family tuning. ``backbone`` is ``None`` for vector
tasks (any block family of :mod:`thermonn.bench.families` plugs in) and names the network for the
drop-in studies (``cnn``, ``lstm``, ``transformer``), whose models are FFN variants of it.

What a task predicts — its :class:`TaskKind` (classification, regression, reconstruction,
language) — fixes the training loss, the target and the headline test metric.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import torch
from torch import Tensor, nn

from thermonn.data.split import DatasetSplit

__all__ = [
    "CLASSIFICATION",
    "KINDS",
    "LANGUAGE",
    "RECONSTRUCTION",
    "REGRESSION",
    "TASKS",
    "Task",
    "TaskKind",
    "get_task",
]


class TaskKind(ABC):
    """What a task predicts: the training loss, the target and the headline test metric.

    Attributes:
        name: the kind's name (``classification``, ``regression``, ``reconstruction``,
            ``language``).
        metric: name of the headline test metric; ``higher_is_better`` gives its direction.
    """

    name: ClassVar[str]
    metric: ClassVar[str]
    higher_is_better: ClassVar[bool]

    @abstractmethod
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The training loss (a mean over the batch)."""

    def target(self, x: Tensor, y: Tensor) -> Tensor:
        """What the model's output is compared with: the label ``y`` (the input ``x`` for
        autoencoders)."""
        return y

    @abstractmethod
    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        """``(metric, loss)`` of test-set outputs."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _cross_entropy(output: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy over every position (one per sample, or per sequence position)."""
    return nn.functional.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))


class Classification(TaskKind):
    r"""Cross-entropy training; test accuracy :math:`\frac1n\sum_i [\arg\max_c o_{ic} = y_i]`."""

    name = "classification"
    metric = "accuracy"
    higher_is_better = True

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return _cross_entropy(output, target)

    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        loss = float(self.loss(output, target))
        return float((output.argmax(-1) == target).float().mean()), loss


class Regression(TaskKind):
    r"""Mean-square training; test :math:`R^2 = 1 - \sum (o - y)^2 / \sum (y - \bar y)^2`."""

    name = "regression"
    metric = "r2"
    higher_is_better = True

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return nn.functional.mse_loss(output, target)

    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        loss = float(self.loss(output, target))
        total = float(((target - target.mean(0)) ** 2).sum())
        return 1.0 - float(((output - target) ** 2).sum()) / total, loss


class Reconstruction(TaskKind):
    """An autoencoder: the target is the input; mean-square loss, and the test metric is it."""

    name = "reconstruction"
    metric = "mse"
    higher_is_better = False

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return nn.functional.mse_loss(output, target)

    def target(self, x: Tensor, y: Tensor) -> Tensor:
        return x

    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        loss = float(self.loss(output, target))
        return loss, loss


class Language(TaskKind):
    r"""Next-token cross-entropy (nats) per position; test bits per character
    :math:`\mathrm{CE} / \ln 2`."""

    name = "language"
    metric = "bits_per_char"
    higher_is_better = False

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return _cross_entropy(output, target)

    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        loss = float(self.loss(output, target))
        return loss / math.log(2.0), loss


CLASSIFICATION, REGRESSION = Classification(), Regression()
RECONSTRUCTION, LANGUAGE = Reconstruction(), Language()
KINDS: dict[str, TaskKind] = {
    k.name: k for k in (CLASSIFICATION, REGRESSION, RECONSTRUCTION, LANGUAGE)
}


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    Attributes:
        kind: what the task predicts; gives the loss, the target and the metric.
        width: base hidden width h₀ that defines the parameter/FLOP budget ("default" budget).
        out_features: output size of the model (classes, targets, pixels or vocabulary).
    """

    name: str
    kind: TaskKind
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
        """Name of the headline test metric (``accuracy``, ``r2``, ``mse``, ``bits_per_char``)."""
        return self.kind.metric

    @property
    def higher_is_better(self) -> bool:
        return self.kind.higher_is_better

    def data(self) -> tuple[DatasetSplit, int]:
        """``(split, out_features)``, cached per process."""
        return _load(self.name)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return self.kind.loss(output, target)

    def target(self, x: Tensor, y: Tensor) -> Tensor:
        """Autoencoders reconstruct their input; every other task predicts ``y``."""
        return self.kind.target(x, y)

    @torch.no_grad()
    def score(self, output: Tensor, target: Tensor) -> tuple[float, float]:
        """``(metric, loss)`` of test-set outputs."""
        return self.kind.score(output, target)


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
    Task("digits", CLASSIFICATION, "8x8 digits, 10 classes", _SK, _sk("digits"),
         width=64, epochs=30, batch_size=64, lr=3e-3),
    Task("breast_cancer", CLASSIFICATION, "Wisconsin breast cancer, 2 classes", _SK,
         _sk("breast_cancer"), width=32, epochs=30, batch_size=32, lr=1e-3),
    Task("wine", CLASSIFICATION, "wine cultivars, 3 classes", _SK, _sk("wine"),
         width=16, epochs=40, batch_size=16, lr=3e-3),
    Task("fashion_mnist", CLASSIFICATION, "Fashion-MNIST, flattened, 10 classes", _FM,
         _fmnist(kind="flat"), width=128, epochs=4, batch_size=128, lr=1e-3),
    Task("spirals", CLASSIFICATION, "3 interleaved 2-D spirals, 1.5 turns", "synthetic",
         _spirals, width=64, epochs=150, batch_size=64, lr=1e-2),
    Task("diabetes", REGRESSION, "diabetes progression (R^2)", _SK, _sk("diabetes"),
         width=16, epochs=60, batch_size=32, lr=1e-3),
    Task("friedman1", REGRESSION, "make_friedman1, noise 1 (R^2)", f"{_SK} (generated)",
         _sk("friedman1"), width=64, epochs=60, batch_size=64, lr=3e-3),
    Task("pendulum", REGRESSION, "exact pendulum period T(L, theta0, g) (R^2)",
         "synthetic (elliptic K)", _pendulum, width=64, epochs=60, batch_size=64, lr=3e-3),
    Task("digits_ae", RECONSTRUCTION, "digits autoencoder, bottleneck = width (test MSE)", _SK,
         _digits_ae, width=16, epochs=40, batch_size=64, lr=3e-3),
    Task("fashion_mnist_ae", RECONSTRUCTION, "Fashion-MNIST autoencoder (test MSE)", _FM,
         _fmnist(kind="recon"), width=32, epochs=4, batch_size=128, lr=1e-3),
    Task("fashion_mnist_cnn", CLASSIFICATION, "small CNN on Fashion-MNIST (drop-in)", _FM,
         _fmnist(kind="image"), width=64, epochs=2, batch_size=128, lr=1e-3, backbone="cnn"),
    Task("fashion_mnist_rows", CLASSIFICATION, "LSTM over the 28 rows of Fashion-MNIST (drop-in)",
         _FM, _fmnist(kind="rows"), width=64, epochs=2, batch_size=128, lr=2e-3, backbone="lstm"),
    Task("charlm", LANGUAGE, "char-level LM, 2-layer Transformer, licence texts (bits/char)",
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
