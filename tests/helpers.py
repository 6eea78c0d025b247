"""Oracles and builders shared by the tests."""

import gzip

import numpy as np
import torch

import thermonn
from thermonn.functional import ENTROPIES


def equilibrium(entropy: thermonn.Entropy, z: torch.Tensor, t: float) -> torch.Tensor:
    """Oracle: solve y - T phi(y) = z elementwise by bisection (float64).

    Primal: g(y) = y - T phi(y) - z is increasing (mu > 0).  Dual: g(u) = rho(u) + T u - z is
    increasing in u and y = rho(u).
    """
    z = z.detach().double()
    dual = entropy.coordinate == "dual"
    if dual:
        g = lambda v: entropy.link(v) + t * v - z  # noqa: E731
    else:
        g = lambda v: v - t * entropy.phi(v) - z  # noqa: E731
    span = z.abs().max().item() / min(t, 1.0) + 50.0
    lo, hi = torch.full_like(z, -span), torch.full_like(z, span)
    with torch.no_grad():
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            pos = g(mid) > 0
            hi = torch.where(pos, mid, hi)
            lo = torch.where(pos, lo, mid)
        mid = 0.5 * (lo + hi)
    return entropy.link(mid) if dual else mid


def fixed_tel(d: int, entropy="logcosh", t: float = 0.5, steps: int = 4, **kw) -> thermonn.TEL:
    """A TEL with identity projection and constant temperature t: the map z -> y_K."""
    layer = thermonn.TEL(
        d, d, steps=steps, entropy=entropy, t_min=t, t_max=t, temperature="fixed",
        dtype=torch.float64, **kw,
    )  # fmt: skip
    with torch.no_grad():
        layer.weight.copy_(torch.eye(d, dtype=torch.float64))
        layer.bias.zero_()
    return layer


ALL_ENTROPIES = sorted(ENTROPIES)
PRIMAL_ENTROPIES = [
    n for n in ALL_ENTROPIES if thermonn.functional.resolve_entropy(n).coordinate == "primal"
]


def idx_bytes(a: np.ndarray) -> bytes:
    """An IDX file (unsigned bytes) holding ``a``."""
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.astype(np.uint8).tobytes()


def write_idx_dir(path, n_train=6, n_test=4, gz=True):
    """A tiny MNIST-like IDX directory of random images; returns the arrays written."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, a in arrays.items():
        data = idx_bytes(a)
        if gz:
            (path / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (path / name).write_bytes(data)
    return arrays


def chi2_pvalue(codes: torch.Tensor, p: torch.Tensor) -> float:
    """Pearson's χ² p-value of sampled state indices ``codes`` against the exact law ``p``
    (states expected fewer than 5 times pooled into one bin)."""
    from scipy import stats

    counts = torch.bincount(codes, minlength=len(p)).double()
    expected = p.double() * len(codes)
    big = expected >= 5
    obs, exp = counts[big], expected[big]
    if (~big).any():  # the rare states pooled into one bin
        obs = torch.cat([obs, counts[~big].sum(0, keepdim=True)])
        exp = torch.cat([exp, expected[~big].sum(0, keepdim=True)])
    return float(
        stats.chisquare(obs.numpy(), exp.numpy() * obs.sum().item() / exp.sum().item()).pvalue
    )
