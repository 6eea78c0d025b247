r"""Contrastive divergence (CD-k) and persistent CD (PCD-k) as a loss whose gradient is the rule.

For an energy model p(v) = e^{−F(v)}/Z the log-likelihood gradient is
:math:`-\nabla_\theta \mathcal L = \mathbb E_{\rm data}[\nabla F] - \mathbb E_{\rm model}[\nabla F]`.
CD-k (Hinton 2002) estimates the model term with k Gibbs sweeps started at the data; PCD-k
(Tieleman 2008) keeps persistent chains that advance k sweeps per update. Either way the
estimate is the gradient of the surrogate

.. math::  \ell(\theta) = \overline{F_\theta(v_{\rm data})} - \overline{F_\theta(\mathrm{sg}[v^-])},

(sg: no gradient through the negatives), so :meth:`ContrastiveDivergence.loss` returns ℓ and
any torch optimiser — or :func:`thermonn.train.train_minibatch` — applies the rule. ℓ's value
is a free-energy gap, not a likelihood: read progress off
:meth:`ContrastiveDivergence.reconstruction_error` or AIS (:mod:`thermonn.estimators.partition`).

**Centring** (Montavon & Müller 2012; Melchior, Fischer & Wiskott 2016): with offsets μ = the
batch's mean v and λ = its mean p(h = 1 | v), the centred gradient is a linear map of the plain
one (g_W, g_b, g_c):

.. math::  g_W' = g_W - \mu g_c^\top - g_b \lambda^\top, \quad g_b' = g_b - g_W' \lambda,
           \quad g_c' = g_c - g_W'^\top \mu,

the gradient of the RBM reparametrised around (μ, λ), mapped back — better conditioned, and in
practice far more stable for wide models. :meth:`ContrastiveDivergence.backward` applies it
(``centered=True``, Bernoulli units).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from thermonn._validation import check_bool, check_int
from thermonn.machines.rbm import RBM, BernoulliUnits

__all__ = ["ContrastiveDivergence"]


class ContrastiveDivergence:
    """CD-k (``persistent=False``) or PCD-k on ``model``: ``k`` Gibbs sweeps per update;
    PCD keeps ``chains`` persistent chains (default: the first batch's size), started from the
    first batch. Every random number comes from ``generator``."""

    def __init__(
        self,
        model: RBM,
        *,
        k: int = 1,
        persistent: bool = False,
        chains: int | None = None,
        centered: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(model, RBM):
            raise TypeError(f"model: expected an RBM, got {type(model).__name__}")
        self.model = model
        self.k = check_int("k", k, minimum=1)
        self.persistent = check_bool("persistent", persistent)
        self.chains = None if chains is None else check_int("chains", chains, minimum=1)
        self.centered = check_bool("centered", centered)
        if self.centered and not isinstance(model.units, BernoulliUnits):
            raise ValueError(f"centered: expected Bernoulli visible units, got {model.units.name}")
        self.generator = generator
        self.negatives: Tensor | None = None  # PCD's persistent chains

    def _start(self, v: Tensor) -> Tensor:
        if not self.persistent:
            return v
        if self.negatives is None:
            n = len(v) if self.chains is None else self.chains
            rows = torch.arange(n, device=v.device) % len(v)
            self.negatives = v[rows].detach().clone()
        return self.negatives

    @torch.no_grad()
    def reconstruction_error(self, v: Tensor, generator: torch.Generator | None = None) -> float:
        """Mean squared error of one up-down pass, E[v | h] with h ~ p(h | v): the usual
        progress monitor (not a likelihood); ``generator`` defaults to the rule's own."""
        energy = self.model.energy_model()
        h = energy.sample_hidden(v, self.generator if generator is None else generator)
        return float((energy.visible_mean(h) - v).square().mean())

    def _check(self, v: Tensor) -> None:
        self.model.units.check(v, self.model.weight.shape[0])
        if v.dim() != 2:
            raise ValueError(f"v: expected shape (batch, n_visible), got {tuple(v.shape)}")

    @torch.no_grad()
    def _negatives(self, v: Tensor) -> Tensor:
        energy = self.model.energy_model()
        x = self._start(v)
        for _ in range(self.k):
            x = energy.sample_visible(energy.sample_hidden(x, self.generator), self.generator)
        if self.persistent:
            self.negatives = x
        return x

    def loss(self, v: Tensor) -> Tensor:
        """The surrogate ℓ for the batch ``v`` ``(batch, n_visible)``; ``ℓ.backward()`` leaves
        the CD/PCD gradient in the model's ``.grad``."""
        self._check(v)
        negatives = self._negatives(v)
        return self.model.free_energy(v).mean() - self.model.free_energy(negatives).mean()

    @torch.no_grad()
    def backward(self, v: Tensor) -> Tensor:
        """Accumulate the rule's gradient for the batch ``v`` into the model's ``.grad`` — the
        gradient of ℓ in closed form (−∂F/∂W = ṽ σ(x)ᵀ, −∂F/∂c = σ(x), ∂F/∂b = ∂E_vis/∂b;
        equal to autograd's, fewer products), centred with ``centered=True`` — and return ℓ."""
        self._check(v)
        negatives = self._negatives(v)
        m = self.model
        energy, units = m.energy_model(), m.units
        x_v, x_n = energy.hidden_input(v), energy.hidden_input(negatives)
        p_v, p_n = torch.sigmoid(x_v), torch.sigmoid(x_n)
        t_v, t_n = units.coordinate(v), units.coordinate(negatives)
        b = m.visible_bias
        g_w = t_n.T @ p_n / len(negatives) - t_v.T @ p_v / len(v)
        g_b = units.bias_gradient(v, b).mean(0) - units.bias_gradient(negatives, b).mean(0)
        g_c = p_n.mean(0) - p_v.mean(0)
        if self.centered:  # g_* are descent directions; the map is linear, so it applies as is
            mu, lam = v.mean(0), p_v.mean(0)
            g_w = g_w - torch.outer(mu, g_c) - torch.outer(g_b, lam)
            g_b = g_b - g_w @ lam
            g_c = g_c - g_w.T @ mu
        for param, grad in ((m.weight, g_w), (b, g_b), (m.hidden_bias, g_c)):
            param.grad = grad.clone() if param.grad is None else param.grad.add_(grad)
        free_v = units.energy(v, b) - F.softplus(x_v).sum(-1)
        free_n = units.energy(negatives, b) - F.softplus(x_n).sum(-1)
        return free_v.mean() - free_n.mean()

    def state_dict(self) -> dict[str, Tensor]:
        """The persistent chains (what a checkpoint must keep to resume PCD exactly)."""
        return {} if self.negatives is None else {"negatives": self.negatives}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.negatives = state.get("negatives")
