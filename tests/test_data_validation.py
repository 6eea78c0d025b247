"""Bad IDX directories and bad limits raise ValueError/TypeError naming the file or argument."""

import builtins
import gzip
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import write_idx_dir
from thermonn.data.idx import load_idx_split, read_idx
from thermonn.experiments.thermocomputer.data import load_machine_data

TRAIN_X, TRAIN_Y = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_X, TEST_Y = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
_TYPE_CODES = {"u1": 0x08, "i1": 0x09, ">f4": 0x0D, ">f8": 0x0E}


def _idx(a, dtype: str = "u1") -> bytes:
    """An IDX file of element type ``dtype`` holding ``a`` (tests/helpers.idx_bytes: uint8 only)."""
    a = np.asarray(a)
    header = bytes([0, 0, _TYPE_CODES[dtype], a.ndim])
    return header + b"".join(int(d).to_bytes(4, "big") for d in a.shape) + a.astype(dtype).tobytes()


def _idx_dir(path: Path, replace: dict[str, bytes]) -> dict[str, Path]:
    """write_idx_dir's valid 6-train / 4-test gzipped directory with the files in ``replace``
    (stem -> uncompressed IDX bytes) swapped in; returns each file's path by stem."""
    write_idx_dir(path)
    for stem, data in replace.items():
        (path / f"{stem}.gz").write_bytes(gzip.compress(data))
    return {stem: path / f"{stem}.gz" for stem in (TRAIN_X, TRAIN_Y, TEST_X, TEST_Y)}


def _names(path: Path | str, pattern: str) -> str:
    """A regex: the message starts with ``path`` and then matches ``pattern``."""
    return f"^{re.escape(str(path))}: .*{pattern}"


@pytest.mark.parametrize(
    ("images", "labels", "n"), [(TRAIN_X, TRAIN_Y, 6), (TEST_X, TEST_Y, 4)], ids=["train", "test"]
)
def test_image_and_label_counts_must_match(tmp_path, images, labels, n):
    paths = _idx_dir(tmp_path, {labels: _idx(np.zeros(n - 1))})
    with pytest.raises(
        ValueError, match=_names(paths[labels], f"expected {n} labels.*got {n - 1}")
    ):
        load_idx_split(tmp_path)


@pytest.mark.parametrize(
    ("labels", "dtype", "pattern"),
    [
        ([0, 1, 2, 3, 4, 10], "u1", r"0\.\.9, got 10 at index 5"),
        ([0, 1, 2, 3, 4, 255], "u1", r"0\.\.9, got 255 at index 5"),
        ([0, -1, 2, 3, 4, 5], "i1", r"0\.\.9, got -1 at index 1"),
        ([0, 1.5, 2, 3, 4, 5], ">f4", "integer labels, got dtype >f4"),
    ],
    ids=["10", "255", "negative", "float"],
)
def test_labels_must_be_classes_0_to_9(tmp_path, labels, dtype, pattern):
    paths = _idx_dir(tmp_path, {TRAIN_Y: _idx(labels, dtype)})
    with pytest.raises(ValueError, match=_names(paths[TRAIN_Y], pattern)):
        load_idx_split(tmp_path)


def _flip(data: bytes, start: int, stop: int) -> bytes:
    return data[:start] + bytes(b ^ 0xFF for b in data[start:stop]) + data[stop:]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda z: z[: len(z) // 2],  # truncated: EOFError
        lambda z: b"\x00\x00" + z[2:],  # not gzip: BadGzipFile
        lambda z: _flip(z, 10, 40),  # corrupt deflate stream: zlib.error
        lambda z: _flip(z, len(z) - 8, len(z) - 4),  # CRC mismatch: BadGzipFile
    ],
    ids=["truncated", "bad-magic", "bad-deflate", "bad-crc"],
)
def test_corrupt_gzip_names_the_file(tmp_path, corrupt):
    paths = _idx_dir(tmp_path, {})
    paths[TRAIN_X].write_bytes(corrupt(paths[TRAIN_X].read_bytes()))
    with pytest.raises(ValueError, match=_names(paths[TRAIN_X], "corrupt or truncated")):
        load_idx_split(tmp_path)


def test_train_and_test_images_must_have_one_size(tmp_path):
    paths = _idx_dir(tmp_path, {TEST_X: _idx(np.zeros((4, 20, 20)))})
    with pytest.raises(ValueError, match=_names(paths[TEST_X], "expected 28×28 .*got 20×20")):
        load_idx_split(tmp_path)


@pytest.mark.parametrize(
    ("images", "labels"), [(TRAIN_X, TRAIN_Y), (TEST_X, TEST_Y)], ids=["train", "test"]
)
def test_a_split_needs_images(tmp_path, images, labels):
    paths = _idx_dir(tmp_path, {images: _idx(np.zeros((0, 28, 28))), labels: _idx(np.zeros(0))})
    with pytest.raises(ValueError, match=_names(paths[images], r"at least one.*\(0, 28, 28\)")):
        load_idx_split(tmp_path)


@pytest.mark.parametrize(
    ("stem", "value", "dtype"),
    [(TRAIN_X, np.nan, ">f4"), (TEST_X, np.inf, ">f4"), (TRAIN_X, -np.inf, ">f8")],
    ids=["train-nan-f4", "test-inf-f4", "train-neginf-f8"],
)
def test_pixels_must_be_finite(tmp_path, stem, value, dtype):
    pixels = np.full((6 if stem == TRAIN_X else 4, 28, 28), 128.0)
    pixels[0, 0, 0], pixels[1, 3, 5] = 0.0, value
    paths = _idx_dir(tmp_path, {stem: _idx(pixels, dtype)})
    with pytest.raises(ValueError, match=_names(paths[stem], "finite pixel values, got 1 NaN")):
        load_idx_split(tmp_path)


@pytest.mark.parametrize(
    ("stem", "shape", "pattern"),
    [
        (TRAIN_Y, (6, 1), r"1-d array of labels, got shape \(6, 1\)"),
        (TEST_X, (4, 784), r"3-d array \(images, rows, cols\), got shape \(4, 784\)"),
        (TRAIN_X, (6, 1, 28, 28), r"3-d array .*got shape \(6, 1, 28, 28\)"),
    ],
    ids=["labels-2d", "images-2d", "images-4d"],
)
def test_files_must_have_the_right_dimensions(tmp_path, stem, shape, pattern):
    paths = _idx_dir(tmp_path, {stem: _idx(np.ones(shape))})
    with pytest.raises(ValueError, match=_names(paths[stem], pattern)):
        load_idx_split(tmp_path)


def test_constant_training_images_cannot_be_standardised(tmp_path):
    paths = _idx_dir(tmp_path, {TRAIN_X: _idx(np.full((6, 28, 28), 7))})
    with pytest.raises(ValueError, match=_names(paths[TRAIN_X], "vary, got all 4704 equal to 7")):
        load_idx_split(tmp_path)


_BAD_LIMITS = [
    pytest.param(0, ValueError, "expected an int >= 1, got 0", id="zero"),
    pytest.param(-5, ValueError, "expected an int >= 1, got -5", id="negative"),
    pytest.param(True, TypeError, "expected an int, got bool", id="bool"),
    pytest.param(2.0, TypeError, "expected an int, got float", id="float"),
]


@pytest.mark.parametrize(("value", "error", "pattern"), _BAD_LIMITS)
def test_idx_limit_train_must_be_a_positive_int(tmp_path, value, error, pattern):
    write_idx_dir(tmp_path)
    with pytest.raises(error, match=f"^limit_train: {pattern}"):
        load_idx_split(tmp_path, limit_train=value)


@pytest.mark.parametrize("dataset", ["mnist", "digits"])
@pytest.mark.parametrize("argument", ["limit_train", "limit_test"])
@pytest.mark.parametrize(("value", "error", "pattern"), _BAD_LIMITS)
def test_machine_data_limits_must_be_positive_ints(
    tmp_path, dataset, argument, value, error, pattern
):
    write_idx_dir(tmp_path)
    with pytest.raises(error, match=f"^{argument}: {pattern}"):
        load_machine_data(dataset, tmp_path, **{argument: value})


def test_a_file_is_not_an_idx_directory(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=_names(f"IDX directory {path}", "directory, got a file")):
        load_idx_split(path)


# root ignores file permissions, so the PermissionError of an unreadable path is simulated


def _deny(path: Path, real):
    def guarded(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real(file, *args, **kwargs)

    return guarded


def test_an_unreadable_directory_is_named(tmp_path, monkeypatch):
    write_idx_dir(tmp_path)
    monkeypatch.setattr(os, "scandir", _deny(tmp_path, os.scandir))
    pattern = "readable directory, got an unreadable path .*Permission denied"
    with pytest.raises(ValueError, match=_names(f"IDX directory {tmp_path}", pattern)):
        load_idx_split(tmp_path)


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    paths = _idx_dir(tmp_path, {})
    monkeypatch.setattr(builtins, "open", _deny(paths[TEST_Y], builtins.open))
    with pytest.raises(ValueError, match=_names(paths[TEST_Y], "readable IDX file.*Permission")):
        load_idx_split(tmp_path)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(("limit_train", "flatten"), [(None, True), (4, False)])
def test_a_valid_directory_loads_standardised_with_training_statistics(
    tmp_path, gz, limit_train, flatten
):
    arrays = write_idx_dir(tmp_path, gz=gz)
    split = load_idx_split(tmp_path, limit_train=limit_train, flatten=flatten)
    n = limit_train or 6
    train = arrays[TRAIN_X][:n].astype(np.float64) / 255.0
    test = arrays[TEST_X].astype(np.float64) / 255.0
    mean, std = train.mean(), np.sqrt(((train - train.mean()) ** 2).mean())
    shape = (lambda m: (m, 784)) if flatten else (lambda m: (m, 28, 28))
    for got, raw, m in ((split.x_train, train, n), (split.x_test, test, 4)):
        assert got.dtype == torch.float32 and got.shape == shape(m)
        np.testing.assert_allclose(got.numpy(), ((raw - mean) / std).reshape(shape(m)), atol=1e-5)
    for got, labels in ((split.y_train, arrays[TRAIN_Y][:n]), (split.y_test, arrays[TEST_Y])):
        assert got.dtype == torch.int64 and got.tolist() == labels.tolist()


def test_a_truncated_header_is_named(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(ValueError, match=r"x-idx3-ubyte: truncated IDX header \(expected 16"):
        read_idx(path)
