"""Oracles and builders shared by the tests."""

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
