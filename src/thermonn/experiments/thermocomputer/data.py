"""Inputs of the thermodynamic computer, preprocessed as in the paper.

pixel / max pixel value, standardised with the training set's global mean and std, then every
image rescaled to the same L2 norm — the largest norm in the training set — so all inputs drive the
machine equally hard.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from thermonn._validation import check_optional_int
from thermonn.data import DatasetSplit, load_digits_split
from thermonn.data.idx import FASHION_MNIST_DIR, load_idx_split

__all__ = ["DATASETS", "equal_norm", "load_machine_data"]

DATASETS = ("fashion-mnist", "mnist", "digits")


def equal_norm(split: DatasetSplit) -> tuple[DatasetSplit, float]:
    """Rescale every image to the training set's largest L2 norm; returns the split and the norm."""
    norm = float(split.x_train.norm(dim=1).max())

    def scale(x: torch.Tensor) -> torch.Tensor:
        return x * (norm / x.norm(dim=1, keepdim=True).clamp_min(1e-12))

    return DatasetSplit(
        scale(split.x_train), split.y_train, scale(split.x_test), split.y_test
    ), norm


def load_machine_data(
    dataset: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    limit_train: int | None = None,
    limit_test: int | None = None,
) -> DatasetSplit:
    """``fashion-mnist`` (Debian ``dataset-fashion-mnist``, or ``directory``), ``mnist`` (IDX files
    in ``directory``: nothing is downloaded) or ``digits`` (scikit-learn's 8×8 digits, stratified
    80/20 split, pixel / 16), preprocessed for the machine. ``limit_train`` / ``limit_test`` keep
    the first that many training / test images (``None``: all).

    Raises:
        ValueError: unknown dataset, ``mnist`` without a directory, a limit < 1, or invalid IDX
            files (the message names the file).
        TypeError: a limit that is not an int.
        FileNotFoundError: the IDX files are missing (the message says where to get them).
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {list(DATASETS)}, got {dataset!r}")
    check_optional_int("limit_train", limit_train, 1)
    check_optional_int("limit_test", limit_test, 1)
    if dataset == "digits":
        split = load_digits_split(scaling="global")
    else:
        if dataset == "mnist" and directory is None:
            raise ValueError(
                "dataset 'mnist': pass the directory holding your MNIST IDX files "
                "(train-images-idx3-ubyte[.gz] etc.); nothing is downloaded"
            )
        split = load_idx_split(
            Path(directory) if directory else FASHION_MNIST_DIR, limit_train=limit_train
        )
    if limit_test is not None:
        split = DatasetSplit(
            split.x_train, split.y_train, split.x_test[:limit_test], split.y_test[:limit_test]
        )
    if limit_train is not None and dataset == "digits":
        split = DatasetSplit(
            split.x_train[:limit_train], split.y_train[:limit_train], split.x_test, split.y_test
        )
    return equal_norm(split)[0]
