"""IDX files (the MNIST / Fashion-MNIST format) and the Fashion-MNIST loader.

Fashion-MNIST ships offline in Debian's ``dataset-fashion-mnist`` package, which installs
``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` under ``/usr/share/datasets/fashion-mnist``.
The same loader reads a user's own MNIST or Fashion-MNIST directory (``.gz`` or uncompressed).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thermonn.data.digits import DatasetSplit

__all__ = ["FASHION_MNIST_DIR", "load_idx_split", "read_idx"]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its stated shape.

    Raises:
        ValueError: if the magic number or the size does not describe a valid IDX file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(
            f"{path}: header says shape {tuple(dims)} ({expected} bytes), "
            f"file has {len(raw) - offset} bytes of data"
        )
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"{directory}: no {stem}[.gz]. Expected an MNIST/Fashion-MNIST IDX directory with "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte (optionally .gz). Fashion-MNIST: `apt-get install "
        f"dataset-fashion-mnist` provides them under {FASHION_MNIST_DIR}."
    )


def load_idx_split(
    directory: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    limit_train: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> DatasetSplit:
    """The official 60k/10k split of an IDX directory, pixels scaled to [0, 1] and then
    standardised with the training set's global mean and std.

    Args:
        directory: the IDX directory; default Fashion-MNIST from ``dataset-fashion-mnist``.
        flatten: return ``(n, 784)`` features (else ``(n, 28, 28)``).
        limit_train: keep only the first ``limit_train`` training images (for quick runs).

    Raises:
        FileNotFoundError: naming the directory, the files and the package that provides them.
    """
    directory = Path(directory) if directory is not None else FASHION_MNIST_DIR
    if not directory.is_dir():
        raise FileNotFoundError(
            f"IDX directory {directory} does not exist. Fashion-MNIST ships in Debian's "
            f"`dataset-fashion-mnist` package (apt-get install dataset-fashion-mnist → "
            f"{FASHION_MNIST_DIR}); or pass the path of your own MNIST/Fashion-MNIST IDX files."
        )
    arrays = {
        key: read_idx(_find(directory, f"{split}-{kind}"))
        for key, split, kind in [
            ("xtr", "train", "images-idx3-ubyte"),
            ("ytr", "train", "labels-idx1-ubyte"),
            ("xte", "t10k", "images-idx3-ubyte"),
            ("yte", "t10k", "labels-idx1-ubyte"),
        ]
    }
    if limit_train is not None:
        arrays["xtr"], arrays["ytr"] = arrays["xtr"][:limit_train], arrays["ytr"][:limit_train]
    xtr = arrays["xtr"].astype(np.float32) / 255.0
    mean, std = float(xtr.mean()), float(xtr.std())

    def images(a: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor((a.astype(np.float32) / 255.0 - mean) / std, dtype=dtype)
        return t.reshape(len(t), -1) if flatten else t

    labels = lambda a: torch.as_tensor(a.astype(np.int64))  # noqa: E731
    return DatasetSplit(
        images(arrays["xtr"]), labels(arrays["ytr"]), images(arrays["xte"]), labels(arrays["yte"])
    )
