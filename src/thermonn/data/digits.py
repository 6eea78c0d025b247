"""scikit-learn's 8×8 digits (1,797 images shipped inside scikit-learn: no download) — the one
digits loader, with the preprocessing each experiment uses named as a ``scaling``."""

from __future__ import annotations

import numpy as np
import torch

from thermonn.data.split import DatasetSplit, standardised_split

__all__ = ["SCALINGS", "load_digits_split"]

SCALINGS = {
    "pixel": "per-pixel standardisation with the training split's mean and std + 1e-6",
    "pixel-guarded": "per-pixel standardisation, constant pixels left at 0 (the benchmark's "
    "tabular recipe)",
    "global": "pixel / 16, standardised with one mean and std over all training pixels",
    "symmetric": "pixel / 16 mapped to [-1, 1], no statistics",
}


def load_digits_split(
    *,
    test_fraction: float | None = 0.2,
    seed: int = 0,
    scaling: str = "pixel",
    dtype: torch.dtype = torch.float32,
) -> DatasetSplit:
    """A stratified split of the digits, preprocessed by ``scaling`` (see :data:`SCALINGS`).
    ``test_fraction=None`` keeps every image, in scikit-learn's order, in the training part
    (the test part is empty; not with ``pixel-guarded``, whose statistics need a split).

    Raises:
        ValueError: ``test_fraction`` outside (0, 1), or an unknown ``scaling``.
    """
    if test_fraction is not None and not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), got {test_fraction!r}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling: expected one of {sorted(SCALINGS)}, got {scaling!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    if scaling == "pixel-guarded":
        if test_fraction is None:
            raise ValueError("scaling 'pixel-guarded': expected a test_fraction, got None")
        return standardised_split(
            x, y, classification=True, test_fraction=test_fraction, seed=seed, dtype=dtype
        )
    if scaling in ("global", "symmetric"):
        x = x / 16.0 if scaling == "global" else x / 16.0 * 2 - 1
    if test_fraction is None:
        x_tr, x_te, y_tr, y_te = x, x[:0], y, y[:0]
    else:
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
    if scaling == "pixel":
        mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    elif scaling == "global":
        mean, std = x_tr.mean(), x_tr.std()
    else:
        mean, std = 0.0, 1.0  # exact: (a − 0) / 1 = a
    as_x = lambda a: torch.as_tensor((a - mean) / std, dtype=dtype)  # noqa: E731
    as_y = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64)  # noqa: E731
    return DatasetSplit(as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te))
