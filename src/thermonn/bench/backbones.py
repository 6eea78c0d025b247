"""Networks for the drop-in studies; their FFN heads are what :func:`thermonn.convert` swaps.

Variants: ``ffn`` (original), ``tel-first`` (TEL in the first FFN only), ``tel-all`` (every FFN),
and the same with the spin entropy (``tel-spin-first``, ``tel-spin-all``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from thermonn.bench.baselines import build_mlp
from thermonn.nn.convert import convert

__all__ = ["VARIANTS", "build_backbone"]

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


def build_backbone(backbone: str, variant: str, width: int, d_out: int) -> nn.Module:
    """The ``backbone`` network with FFN width ``width``, converted according to ``variant``.

    Raises:
        ValueError: for an unknown variant, listing the valid ones.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown model {variant!r} for a drop-in task; valid models: {sorted(VARIANTS)}"
        )
    model = _BACKBONES[backbone](width, d_out)
    first_only, options = VARIANTS[variant]
    if first_only is not None:
        model, report = convert(model, first_only=first_only, diagnostics=False, **options)
        if not report.replacements:
            raise RuntimeError(f"convert found no FFN to replace in the {backbone} backbone")
    return model
