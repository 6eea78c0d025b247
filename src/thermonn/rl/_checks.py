"""Boundary checks shared by the agents' configurations."""

from __future__ import annotations

from thermonn._validation import check_float, check_int

__all__ = ["check_discount", "check_hidden"]


def check_hidden(hidden: object) -> tuple[int, ...]:
    """A non-empty tuple of positive layer widths."""
    if not isinstance(hidden, tuple) or not hidden:
        raise TypeError(f"hidden: expected a non-empty tuple of layer widths, got {hidden!r}")
    for width in hidden:
        check_int("hidden", width, minimum=1)
    return hidden


def check_discount(name: str, value: object) -> float:
    """A discount (or a λ) in [0, 1)."""
    value = check_float(name, value, at_least=0.0)
    if value >= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1), got {value}")
    return value
