"""scikit-learn's 8×8 digits (1,797 images shipped inside scikit-learn: no download)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["DatasetSplit", "load_digits_split"]


class DatasetSplit(NamedTuple):
    """A standardised train/test split; features ``(n, d)`` float, labels ``(n,)`` int64."""

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


def load_digits_split(
    *, test_fraction: float = 0.2, seed: int = 0, dtype: torch.dtype = torch.float32
) -> DatasetSplit:
    """Stratified split of the digits, standardised with the training set's mean and std.

    Raises:
        ValueError: if ``test_fraction`` is not in (0, 1).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    as_x = lambda a: torch.as_tensor((a - mean) / std, dtype=dtype)  # noqa: E731
    as_y = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64)  # noqa: E731
    return DatasetSplit(as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te))
