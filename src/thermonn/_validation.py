"""Boundary checks shared by every public constructor: "expected X, got Y" errors."""

from __future__ import annotations

import math

__all__ = ["check_float", "check_int"]


def check_int(name: str, value: object, minimum: int | None = None) -> int:
    """``value`` as an int (bools rejected), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def check_float(
    name: str, value: object, *, above: float | None = None, at_least: float | None = None
) -> float:
    """``value`` as a finite float, optionally ``> above`` or ``>= at_least``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name}: expected a float, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite float, got {value}")
    if above is not None and not value > above:
        raise ValueError(f"{name}: expected a float > {above}, got {value}")
    if at_least is not None and not value >= at_least:
        raise ValueError(f"{name}: expected a float >= {at_least}, got {value}")
    return float(value)
