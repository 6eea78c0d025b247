"""Offline loaders of the benchmark: IDX format, scikit-learn/synthetic splits, text corpus."""

import math

import numpy as np
import pytest
import torch

from helpers import idx_bytes, write_idx_dir
from thermonn.data.idx import FASHION_MNIST_DIR, load_idx_split, read_idx
from thermonn.data.tabular import (
    load_char_corpus,
    load_pendulum_split,
    load_sklearn_split,
    load_spirals_split,
)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip_and_split(tmp_path, gz):
    arrays = write_idx_dir(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    got = read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    np.testing.assert_array_equal(got, arrays["train-images-idx3-ubyte"])
    split = load_idx_split(tmp_path)
    assert split.x_train.shape == (6, 784) and split.x_test.shape == (4, 784)
    torch.testing.assert_close(split.y_test, torch.as_tensor(arrays["t10k-labels-idx1-ubyte"]))
    # standardised with the training set's global statistics
    assert (
        abs(split.x_train.mean().item()) < 1e-5
        and abs(split.x_train.std(unbiased=False).item() - 1) < 1e-4
    )
    assert load_idx_split(tmp_path, flatten=False).x_train.shape == (6, 28, 28)


def test_idx_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(idx_bytes(np.zeros((2, 3)))[:-1])
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        read_idx(tmp_path / "short")


def test_missing_data_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_idx_split(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_idx_split(tmp_path)


def test_sklearn_splits_standardised():
    for name, classes in [("digits", 10), ("breast_cancer", 2), ("wine", 3)]:
        s = load_sklearn_split(name)
        assert s.num_classes == classes and torch.isfinite(s.x_test).all()
        assert s.x_train.mean(0).abs().max() < 1e-5
    reg = load_sklearn_split("friedman1")
    assert reg.y_train.shape == (1500, 1) and abs(reg.y_train.mean().item()) < 1e-5
    with pytest.raises(ValueError, match="breast_cancer"):
        load_sklearn_split("iris")


def test_spirals_need_a_nonlinear_model():
    from sklearn.linear_model import LogisticRegression

    s = load_spirals_split()
    linear = LogisticRegression().fit(s.x_train.numpy(), s.y_train.numpy())
    assert linear.score(s.x_test.numpy(), s.y_test.numpy()) < 0.6  # chance is 1/3


def test_pendulum_period_matches_small_angle_limit():
    from scipy.special import ellipk

    # the loader's formula, 4 sqrt(L/g) K(sin^2(theta/2)), tends to 2 pi sqrt(L/g)
    assert math.isclose(4 * ellipk(math.sin(1e-4 / 2) ** 2), 2 * math.pi, rel_tol=1e-8)
    s = load_pendulum_split(n=200)
    assert s.x_train.shape == (150, 3) and s.y_train.shape == (150, 1)


def test_char_corpus_targets_are_shifted_inputs(tmp_path):
    (tmp_path / "a.txt").write_text("abcabcabc" * 40)
    split, vocab = load_char_corpus(tmp_path, context=8)
    assert vocab == 3  # one file: no joining newline
    torch.testing.assert_close(split.x_train[:, 1:], split.y_train[:, :-1])
    with pytest.raises(FileNotFoundError, match="base-files"):
        load_char_corpus(tmp_path / "empty")


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_is_the_full_balanced_set():
    split = load_idx_split()
    assert split.x_train.shape == (60000, 784) and split.x_test.shape == (10000, 784)
    assert torch.bincount(split.y_train).tolist() == [6000] * 10
    assert torch.bincount(split.y_test).tolist() == [1000] * 10
