"""What :func:`~thermonn.convert` did, as data that round-trips through JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMAT", "ConversionReport", "Replacement", "Skipped"]

FORMAT = {"format": "thermonn.convert", "version": 1}
"""The header of :meth:`ConversionReport.to_dict`; ``version`` changes with the layout."""


@dataclass(frozen=True)
class Replacement:
    """One converted site.

    Attributes:
        path: qualified name of the projection now holding a TEL.
        block: class name of the module holding it.
        in_features, out_features: the TEL's sizes.
        activation: name of the activation replaced by ``Identity``.
        pattern: what found the site: ``"rule"``, ``"transformer"``, ``"sequential"`` or an
            attribute pattern's name (:data:`~thermonn.nn.convert.PATTERNS`).
        activation_path: qualified name of that activation.
        source: ``"Linear"``, or ``"Conv1D"`` for HuggingFace's transposed linear (the TEL's
            weight is its weight transposed).
    """

    path: str
    block: str
    in_features: int
    out_features: int
    activation: str
    pattern: str
    activation_path: str
    source: str


@dataclass(frozen=True)
class Skipped:
    """A block that has a pattern's attribute names but is not a site, and why."""

    path: str
    pattern: str
    reason: str


def _checked_list(data: dict[str, Any], key: str, cls: type) -> list[Any]:
    items = data.get(key, [])
    names = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and set(i) == names for i in items
    ):
        raise ValueError(
            f"ConversionReport.from_dict: expected {key!r} to be a list of objects with keys "
            f"{sorted(names)}, got {items!r}"
        )
    return [cls(**i) for i in items]


@dataclass
class ConversionReport:
    """What :func:`~thermonn.convert` replaced, in model order, and the TEL options it used.

    ``options`` are the keyword arguments every TEL was built with, so that
    ``convert(fresh_model, **report.options)`` or :func:`~thermonn.nn.convert.reconvert`
    rebuilds the same architecture for ``load_state_dict``.  ``skipped`` lists the near misses.
    """

    replacements: list[Replacement] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.replacements)

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.replacements]

    def __str__(self) -> str:
        if not self.replacements:
            return "convert: no feed-forward site found"
        lines = [
            "| path | block | in → out | activation removed | found by |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.path} | {r.block} | {r.in_features} → {r.out_features} | {r.activation} | "
            f"{r.pattern}{' (Conv1D, transposed)' if r.source == 'Conv1D' else ''} |"
            for r in self.replacements
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``json.dumps`` takes it as is).

        Raises:
            TypeError: an option is not a JSON scalar — an :class:`~thermonn.Entropy` object;
                convert with its name (``entropy="gate"``) or keep the report in memory.
        """
        for key, value in self.options.items():
            if not (value is None or isinstance(value, str | int | float | bool)):
                raise TypeError(
                    f"ConversionReport.to_dict: option {key}={type(value).__name__}(...) cannot be "
                    "written as JSON; expected str, int, float, bool or None (convert with an "
                    "entropy name such as entropy='gate', or pass the report itself to reconvert)"
                )
        return {
            **FORMAT,
            "options": dict(self.options),
            "replacements": [dataclasses.asdict(r) for r in self.replacements],
            "skipped": [dataclasses.asdict(s) for s in self.skipped],
        }

    @classmethod
    def from_dict(cls, data: object) -> ConversionReport:
        """The report :meth:`to_dict` wrote.

        Raises:
            TypeError: ``data`` is not a dict.
            ValueError: it is not a report of this format and version (the message says which
                key is wrong).
        """
        if not isinstance(data, dict):
            raise TypeError(
                f"ConversionReport.from_dict: expected a dict, got {type(data).__name__}"
            )
        header = {k: data.get(k) for k in FORMAT}
        if header != FORMAT:
            raise ValueError(
                f"ConversionReport.from_dict: expected a report with {FORMAT}, got {header}"
            )
        options = data.get("options", {})
        if not isinstance(options, dict):
            raise ValueError(
                f"ConversionReport.from_dict: expected 'options' to be an object, got {options!r}"
            )
        return cls(
            replacements=_checked_list(data, "replacements", Replacement),
            options=dict(options),
            skipped=_checked_list(data, "skipped", Skipped),
        )
