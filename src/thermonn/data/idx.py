"""IDX files (the MNIST / Fashion-MNIST format) and the Fashion-MNIST loader.

Fashion-MNIST ships offline in Debian's ``dataset-fashion-mnist`` package, which installs
``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` under ``/usr/share/datasets/fashion-mnist``.
The same loader reads a user's own MNIST or Fashion-MNIST directory (``.gz`` or uncompressed).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thermonn._validation import check_int
from thermonn.data.split import DatasetSplit

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
_STEMS = {
    "xtr": "train-images-idx3-ubyte",
    "ytr": "train-labels-idx1-ubyte",
    "xte": "t10k-images-idx3-ubyte",
    "yte": "t10k-labels-idx1-ubyte",
}
_N_CLASSES = 10  # MNIST and Fashion-MNIST


def _read_bytes(path: Path) -> bytes:
    """The contents of ``path``, gunzipped when it ends in ``.gz``."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise ValueError(f"{path}: expected a readable IDX file, got {err}") from None
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f"{path}: expected a gzip-compressed IDX file, got a corrupt or truncated one ({err})"
        ) from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its stated shape.

    Raises:
        ValueError: if the file is unreadable, its gzip stream is corrupt or truncated, or the
            magic number or the size does not describe a valid IDX file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(
            f"{path}: truncated IDX header (expected {4 + 4 * ndim} bytes for {ndim} "
            f"dimensions, got {len(raw)})"
        )
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


def _idx_files(directory: Path) -> dict[str, Path]:
    """The four IDX files of ``directory``, by key of ``_STEMS``."""
    try:
        with os.scandir(directory) as entries:
            names = {e.name for e in entries if e.is_file()}
    except FileNotFoundError:
        raise FileNotFoundError(
            f"IDX directory {directory} does not exist. Fashion-MNIST ships in Debian's "
            f"`dataset-fashion-mnist` package (apt-get install dataset-fashion-mnist → "
            f"{FASHION_MNIST_DIR}); or pass the path of your own MNIST/Fashion-MNIST IDX files."
        ) from None
    except OSError as err:
        got = "a file" if os.path.isfile(directory) else f"an unreadable path ({err})"
        raise ValueError(
            f"IDX directory {directory}: expected a readable directory, got {got}"
        ) from None
    return {key: _find(directory, stem, names) for key, stem in _STEMS.items()}


def _find(directory: Path, stem: str, names: set[str]) -> Path:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx")):
        if name in names:
            return directory / name
    raise FileNotFoundError(
        f"{directory}: no {stem}[.gz]. Expected an MNIST/Fashion-MNIST IDX directory with "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte (optionally .gz). Fashion-MNIST: `apt-get install "
        f"dataset-fashion-mnist` provides them under {FASHION_MNIST_DIR}."
    )


def _check_images(x: np.ndarray, path: Path) -> None:
    if x.ndim != 3:
        raise ValueError(f"{path}: expected a 3-d array (images, rows, cols), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{path}: expected at least one non-empty image, got shape {x.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{path}: expected finite pixel values, got {bad} NaN or infinite")


def _check_labels(y: np.ndarray, path: Path) -> None:
    if y.ndim != 1:
        raise ValueError(f"{path}: expected a 1-d array of labels, got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{path}: expected integer labels, got dtype {y.dtype}")
    bad = np.flatnonzero((y < 0) | (y >= _N_CLASSES))
    if bad.size:
        raise ValueError(
            f"{path}: expected labels in 0..{_N_CLASSES - 1}, got {y[bad[0]]} at index "
            f"{bad[0]} ({bad.size} labels out of range)"
        )


def _check_split(arrays: dict[str, np.ndarray], paths: dict[str, Path]) -> None:
    """Raise a ValueError naming the file unless ``arrays`` form an image classification split."""
    for key, a in arrays.items():
        (_check_images if key.startswith("x") else _check_labels)(a, paths[key])
    for x, y in (("xtr", "ytr"), ("xte", "yte")):
        n, m = len(arrays[x]), len(arrays[y])
        if n != m:
            raise ValueError(
                f"{paths[y]}: expected {n} labels, one per image in {paths[x].name}, got {m}"
            )
    train, test = arrays["xtr"].shape[1:], arrays["xte"].shape[1:]
    if test != train:
        raise ValueError(
            f"{paths['xte']}: expected {train[0]}×{train[1]} images like {paths['xtr'].name}, "
            f"got {test[0]}×{test[1]}"
        )


def load_idx_split(
    directory: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    limit_train: int | None = None,
    standardise: bool = True,
    dtype: torch.dtype = torch.float32,
) -> DatasetSplit:
    """The official 60k/10k split of an IDX directory, pixels scaled to [0, 1] and then
    (``standardise``) standardised with the training set's global mean and std.

    Args:
        directory: the IDX directory; default Fashion-MNIST from ``dataset-fashion-mnist``.
        flatten: return ``(n, 784)`` features (else ``(n, 28, 28)``).
        limit_train: keep only the first ``limit_train`` training images (for quick runs);
            ``None`` keeps all.

    Raises:
        FileNotFoundError: naming the directory, the files and the package that provides them.
        ValueError: naming the file, if one is unreadable or corrupt, the image and label counts
            differ, a label is not in 0..9, pixels are NaN or infinite, the train and test images
            differ in size, a file has no images or the wrong number of dimensions, or the
            training pixels are all equal; naming the argument, if ``limit_train`` < 1.
        TypeError: ``limit_train`` is not an int.
    """
    if limit_train is not None:
        check_int("limit_train", limit_train, minimum=1)
    paths = _idx_files(Path(directory) if directory is not None else FASHION_MNIST_DIR)
    arrays = {key: read_idx(path) for key, path in paths.items()}
    _check_split(arrays, paths)
    if limit_train is not None:
        arrays["xtr"], arrays["ytr"] = arrays["xtr"][:limit_train], arrays["ytr"][:limit_train]
    if arrays["xtr"].min() == arrays["xtr"].max():  # std 0: standardising would give NaN
        raise ValueError(
            f"{paths['xtr']}: expected training pixels that vary, got all {arrays['xtr'].size} "
            f"equal to {arrays['xtr'].flat[0]}"
        )
    xtr = arrays["xtr"].astype(np.float32) / 255.0
    mean, std = (float(xtr.mean()), float(xtr.std())) if standardise else (0.0, 1.0)

    def images(a: np.ndarray) -> torch.Tensor:
        t = torch.as_tensor((a.astype(np.float32) / 255.0 - mean) / std, dtype=dtype)
        return t.reshape(len(t), -1) if flatten else t

    labels = lambda a: torch.as_tensor(a.astype(np.int64))  # noqa: E731
    return DatasetSplit(
        images(arrays["xtr"]), labels(arrays["ytr"]), images(arrays["xte"]), labels(arrays["yte"])
    )
