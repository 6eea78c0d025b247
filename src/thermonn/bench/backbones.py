"""Networks for the drop-in studies; their FFN heads are what :func:`thermonn.convert` swaps.

Variants: ``ffn`` (original), ``tel-first`` (TEL in the first FFN only), ``tel-all`` (every FFN),
and the same with the spin entropy (``tel-spin-first``, ``tel-spin-all``); and the thermodynamic
layers, each on the backbone it fits (:data:`THERMAL_VARIANTS`): ``thermal-conv`` (the CNN's
ReLUs become one thermal-ReLU node per channel), ``thermal-rnn`` (the LSTM becomes a
:class:`~thermonn.nn.ThermalRNN` of the same hidden size: a quarter of its parameters),
``thermal-attn`` (every self-attention becomes :class:`~thermonn.nn.ThermalAttention`, a
learnable temperature per head).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from thermonn.bench.baselines import build_mlp
from thermonn.nn.convert import convert
from thermonn.nn.thermodynamic import ThermalAttention, ThermalNodes, ThermalRNN

__all__ = ["THERMAL_VARIANTS", "VARIANTS", "build_backbone", "variants_for"]

VARIANTS: dict[str, tuple[bool | None, dict[str, Any]]] = {
    "ffn": (None, {}),
    "tel-first": (True, {}),
    "tel-all": (False, {}),
    "tel-spin-first": (True, {"entropy": "spin"}),
    "tel-spin-all": (False, {"entropy": "spin"}),
}


class CNN(nn.Module):
    """conv(1→16) → pool → conv(16→32) → pool → FFN head (two Linear→GELU blocks)."""

    def __init__(self, width: int, d_out: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = build_mlp(32 * 7 * 7, width, d_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class RowLSTM(nn.Module):
    """LSTM over image rows (28 steps of 28 pixels), last hidden state → FFN head."""

    def __init__(self, width: int, d_out: int, rows: int = 28, hidden: int = 64) -> None:
        super().__init__()
        self.lstm = nn.LSTM(rows, hidden, batch_first=True)
        self.head = build_mlp(hidden, width, d_out)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class CharTransformer(nn.Module):
    """Causal 2-layer pre-norm Transformer encoder (d_model 64, 4 heads, FFN ``width``)."""

    mask: Tensor

    def __init__(self, width: int, vocab: int, d_model: int = 64, context: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(context, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, 4, width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, vocab)
        self.register_buffer(
            "mask", nn.Transformer.generate_square_subsequent_mask(context), persistent=False
        )

    def forward(self, ids: Tensor) -> Tensor:
        s = ids.shape[1]
        h = self.embed(ids) + self.pos[:s]
        return self.out(self.encoder(h, mask=self.mask[:s, :s], is_causal=True))


_BACKBONES = {"cnn": CNN, "lstm": RowLSTM, "transformer": CharTransformer}


def _thermal_conv(model: nn.Module) -> None:
    assert isinstance(model, CNN)
    layers = model.features
    for i, m in enumerate(layers):
        if isinstance(m, nn.ReLU):
            conv = layers[i - 1]
            assert isinstance(conv, nn.Conv2d)
            layers[i] = ThermalNodes(
                conv.out_channels, "thermal-relu", node_dim=1, temperature=0.05, track_state=False
            )


def _thermal_rnn(model: nn.Module) -> None:
    assert isinstance(model, RowLSTM)
    lstm = model.lstm
    model.lstm = ThermalRNN(lstm.input_size, lstm.hidden_size, track_state=False)  # type: ignore[assignment]


def _thermal_attention(model: nn.Module) -> None:
    assert isinstance(model, CharTransformer)
    for layer in model.encoder.layers:
        assert isinstance(layer, nn.TransformerEncoderLayer)
        attn = layer.self_attn
        layer.self_attn = ThermalAttention(attn.embed_dim, attn.num_heads, track_state=False)  # type: ignore[assignment]


THERMAL_VARIANTS: dict[str, tuple[str, Callable[[nn.Module], None]]] = {
    "thermal-conv": ("cnn", _thermal_conv),
    "thermal-rnn": ("lstm", _thermal_rnn),
    "thermal-attn": ("transformer", _thermal_attention),
}
"""Variant → (the backbone it applies to, the in-place swap)."""


def variants_for(backbone: str) -> list[str]:
    """The variants valid on ``backbone``."""
    return [*VARIANTS, *(v for v, (b, _) in THERMAL_VARIANTS.items() if b == backbone)]


def build_backbone(backbone: str, variant: str, width: int, d_out: int) -> nn.Module:
    """The ``backbone`` network with FFN width ``width``, converted according to ``variant``.

    Raises:
        ValueError: for an unknown variant, listing the valid ones.
    """
    if variant not in variants_for(backbone):
        raise ValueError(
            f"unknown model {variant!r} for a drop-in task on the {backbone} backbone; "
            f"valid models: {variants_for(backbone)}"
        )
    model = _BACKBONES[backbone](width, d_out)
    if variant in THERMAL_VARIANTS:
        THERMAL_VARIANTS[variant][1](model)
        return model
    first_only, options = VARIANTS[variant]
    if first_only is not None:
        model, report = convert(model, first_only=first_only, diagnostics=False, **options)
        if not report.replacements:
            raise RuntimeError(f"convert found no FFN to replace in the {backbone} backbone")
    return model
