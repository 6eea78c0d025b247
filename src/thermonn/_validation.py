"""Boundary checks shared by every public constructor: "expected X, got Y" errors."""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = [
    "MAX_SEED",
    "check_bool",
    "check_device",
    "check_dtype",
    "check_float",
    "check_input",
    "check_int",
    "check_optional_int",
    "check_seed",
]


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


MAX_SEED = 2**32 - 1
"""Seeds are integers in ``[0, MAX_SEED]``: every generator of torch and NumPy accepts them."""


def check_seed(name: str, value: object) -> int:
    """``value`` as a seed: an int in ``[0, MAX_SEED]``."""
    value = check_int(name, value, minimum=0)
    if value > MAX_SEED:
        raise ValueError(f"{name}: expected a seed in [0, {MAX_SEED}], got {value}")
    return value


def check_optional_int(name: str, value: object, minimum: int) -> int | None:
    """``None`` or an int >= ``minimum``."""
    return None if value is None else check_int(name, value, minimum)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return value


def check_dtype(dtype: object) -> torch.dtype | None:
    """A floating-point ``torch.dtype`` or ``None`` (``"float32"``, ``np.float32`` are refused,
    as ``torch.empty`` refuses them)."""
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"dtype: expected a torch.dtype such as torch.float32, got {dtype!r} "
            f"({type(dtype).__name__})"
        )
    if not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point dtype, got {dtype}")
    return dtype


def check_device(device: object) -> torch.device | str | int | None:
    """``None``, a ``torch.device``, a device string or index that torch understands."""
    if device is None or isinstance(device, torch.device):
        return device
    if isinstance(device, bool) or not isinstance(device, str | int):
        raise TypeError(f"device: expected a torch.device or str, got {type(device).__name__}")
    try:
        torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"device: expected a torch device such as 'cpu', got {device!r} ({err})"
        ) from None
    return device


def check_input(what: str, x: Any, features: int, dtype: torch.dtype) -> None:
    """A module input: a floating tensor of the module's dtype (autocast excepted) whose last
    dimension is ``features``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{what}: expected a floating-point tensor, got dtype {x.dtype}")
    if x.dim() == 0 or x.shape[-1] != features:
        raise ValueError(f"{what}: expected shape (..., {features}), got {tuple(x.shape)}")
    if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{what}: expected dtype {dtype} (the layer's), got {x.dtype}; cast the input or "
            f"the layer (layer.to({x.dtype}))"
        )
