"""The one dataset type every loader returns, and the standardisation recipe they share."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["DatasetSplit", "standardised_split"]


class DatasetSplit(NamedTuple):
    """A train/test split; features ``(n, d)`` (or images) float, labels ``(n,)`` int64 or
    regression targets ``(n, k)`` float."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def num_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_test]).max()) + 1


def standardised_split(
    x: np.ndarray,
    y: np.ndarray,
    *,
    classification: bool,
    test_fraction: float = 0.25,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> DatasetSplit:
    """Split (stratified for classification) and standardise every feature with the training
    split's mean and std — constant features (σ < 1e-6, e.g. the digits' border pixels) stay 0 —
    and regression targets likewise."""
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y if classification else None
    )
    mean, std = x_tr.mean(0), x_tr.std(0)
    std = np.where(std < 1e-6, 1.0, std)
    fx = lambda a: torch.as_tensor((a - mean) / std, dtype=dtype)  # noqa: E731
    if classification:
        fy = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64)  # noqa: E731
    else:
        y_mean, y_std = y_tr.mean(0), y_tr.std(0) + 1e-8
        fy = lambda a: torch.as_tensor(  # noqa: E731
            ((a - y_mean) / y_std).reshape(len(a), -1), dtype=dtype
        )
    return DatasetSplit(fx(x_tr), fy(y_tr), fx(x_te), fy(y_te))
