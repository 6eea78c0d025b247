"""Binarized image data for Boltzmann machines and Hopfield networks: pixels in {0, 1}.

``digits`` (scikit-learn's 8 × 8 digits, pixel / 16, a stratified 80/20 split), ``fashion-mnist``
(Debian's ``dataset-fashion-mnist``, the official 60k/10k split) or ``idx`` (any MNIST-format IDX
directory, e.g. MNIST itself), each pixel set to 1 where its intensity in [0, 1] exceeds
``threshold``.
"""

from __future__ import annotations

import os

import torch

from thermonn._validation import check_float
from thermonn.data.digits import load_digits_split
from thermonn.data.idx import load_idx_split
from thermonn.data.split import DatasetSplit

__all__ = ["BINARY_DATASETS", "load_binarized"]

BINARY_DATASETS = ("digits", "fashion-mnist", "idx")


def load_binarized(
    name: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    threshold: float = 0.5,
    limit_train: int | None = None,
    seed: int = 0,
) -> DatasetSplit:
    """The data set ``name`` of :data:`BINARY_DATASETS` with pixels thresholded to {0, 1}
    (float32); ``directory`` is the IDX folder for ``idx`` (and may relocate Fashion-MNIST),
    ``limit_train`` keeps the first training images, ``seed`` draws the digits' split.

    Raises:
        ValueError: an unknown ``name``, ``idx`` without a ``directory``, a threshold outside
            (0, 1); FileNotFoundError from the IDX loader when the files are missing.
    """
    if name not in BINARY_DATASETS:
        raise ValueError(f"name: expected one of {list(BINARY_DATASETS)}, got {name!r}")
    check_float("threshold", threshold, above=0.0)
    if threshold >= 1.0:
        raise ValueError(f"threshold: expected a value in (0, 1), got {threshold}")
    if name == "digits":
        split = load_digits_split(scaling="symmetric", seed=seed)  # pixel / 16 · 2 − 1
        xtr, ytr = (split.x_train + 1.0) / 2.0, split.y_train
        if limit_train is not None:
            xtr, ytr = xtr[:limit_train], ytr[:limit_train]
        xte = (split.x_test + 1.0) / 2.0
    else:
        if name == "idx" and directory is None:
            raise ValueError("directory: expected the IDX folder for name 'idx', got None")
        split = load_idx_split(directory, limit_train=limit_train, standardise=False)
        xtr, ytr, xte = split.x_train, split.y_train, split.x_test
    binary = lambda x: (x > threshold).to(torch.float32)  # noqa: E731
    return DatasetSplit(binary(xtr), ytr, binary(xte), split.y_test)
