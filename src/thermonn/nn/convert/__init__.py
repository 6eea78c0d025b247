"""Swap the hidden feed-forward nonlinearities of existing models for TEL.

A *site* is a hidden feed-forward: a projection (``nn.Linear``, or HuggingFace's transposed
``Conv1D``) followed by an activation whose output feeds another projection.  ``convert``
replaces the first projection by a :class:`~thermonn.TEL` that starts from the same weights and
the activation by ``Identity``, so the TEL's descent becomes the nonlinearity.  Sites are found

* in blocks named by a rule ``{BlockType: (linear_attribute, activation_attribute)}`` — by default
  :class:`torch.nn.TransformerEncoderLayer` and :class:`torch.nn.TransformerDecoderLayer`
  (``linear1``/``activation``, always followed by ``linear2``); user rules extend or override
  these and name hidden feed-forwards by definition;
* in blocks with the attribute names of the common MLPs (:data:`PATTERNS`): timm's ``Mlp``
  (``fc1/act/fc2``), HuggingFace's ``*Intermediate`` (``dense/intermediate_act_fn``, feeding the
  ``*Output``), GPT-2's ``c_fc/act/c_proj`` (``Conv1D``: the TEL's weight is its weight
  transposed), and gated MLPs (``gate_proj/up_proj/act_fn/down_proj``, timm's ``SwiGLU``), where
  the TEL takes over the gate path ``act(gate(x))`` and the product with ``up(x)`` stays.  This is
  duck typing: neither timm nor transformers is imported;
* in every :class:`torch.nn.Sequential`, as ``Linear → activation`` followed (after any dropout)
  by another ``Linear``.  An output head such as ``Linear → Sigmoid`` at the end is never a site.

What carries over from the replaced Linear: its weights (and their parametrisations, such as
``torch.nn.utils.parametrizations.spectral_norm``, with their state), dtype, device, the training
flag of its block, and ``requires_grad`` (a frozen Linear gives a frozen TEL, its step sizes and
temperature parameters included).  A projection that cannot be converted faithfully — an
uninitialised ``LazyLinear``, one with forward hooks (hook-based ``torch.nn.utils.spectral_norm``
or ``weight_norm``), a subclass with its own ``forward``, a parametrised ``Conv1D`` — is refused
by name before anything changes.

The report records the TEL options and the sites, so :func:`reconvert` rebuilds the converted
architecture on a fresh model for ``load_state_dict``; :func:`save_converted` and
:func:`load_converted` do that for checkpoints (HuggingFace ``save_pretrained`` folders
included).  Recipes for timm and HuggingFace: ``docs/ecosystem.md``.
"""

from thermonn.nn.convert.build import TEL_OPTIONS
from thermonn.nn.convert.checkpoint import OPTIONS_FILE, load_converted, save_converted
from thermonn.nn.convert.core import convert, reconvert
from thermonn.nn.convert.patterns import ACTIVATIONS, DEFAULT_RULES, PATTERNS, Pattern
from thermonn.nn.convert.report import ConversionReport, Replacement, Skipped

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RULES",
    "OPTIONS_FILE",
    "PATTERNS",
    "TEL_OPTIONS",
    "ConversionReport",
    "Pattern",
    "Replacement",
    "Skipped",
    "convert",
    "load_converted",
    "reconvert",
    "save_converted",
]
