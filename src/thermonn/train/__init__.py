"""Training plumbing shared by every experiment: the minibatch loop, checkpoints, run folders."""

from thermonn.train.checkpoint import (
    load_module,
    load_tensors,
    optimizer_from_tensors,
    optimizer_tensors,
    save_tensors,
)
from thermonn.train.loop import TrainResult, train_minibatch
from thermonn.train.run_folder import RunFolder

__all__ = [
    "RunFolder",
    "TrainResult",
    "load_module",
    "load_tensors",
    "optimizer_from_tensors",
    "optimizer_tensors",
    "save_tensors",
    "train_minibatch",
]
