"""Atomic safetensors files for teachers, machines and resumable training state.

Every file is written to ``<name>.tmp``, fsynced and renamed over the target, so a crash leaves
either the old file or the new one, never a torn one. Loading checks names and shapes against
the module and says what was expected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from thermonn._io import commit_file

__all__ = [
    "load_module",
    "load_tensors",
    "optimizer_from_tensors",
    "optimizer_tensors",
    "save_tensors",
]


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, Tensor], meta: dict[str, Any] | None = None
) -> Path:
    """Write ``tensors`` (and JSON-able ``meta``) atomically to ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    flat = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(flat, str(tmp), metadata={"meta": json.dumps(meta or {})})
    return commit_file(tmp, path)


def load_tensors(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The tensors and metadata of a file written by :func:`save_tensors`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a safetensors file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such parameter file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("meta", "{}"))
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except (SafetensorError, OSError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path}: expected a safetensors file written by thermonn, got an unreadable file ({err})"
        ) from None


def _finite(t: Tensor) -> bool:
    """No NaN or inf: no trainer ever saves one, so a file holding one is corrupt."""
    return not t.is_floating_point() or bool(torch.isfinite(t).all())


def load_module(
    module: nn.Module, tensors: dict[str, Tensor], *, source: str, prefix: str = ""
) -> nn.Module:
    """Copy ``tensors[prefix + name]`` into ``module``'s state, checking every name and shape.

    Raises:
        ValueError: a missing or extra tensor, a shape that differs from the module's, or a
            non-finite value (no trainer ever saves one).
    """
    state = module.state_dict()
    given = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    missing, extra = sorted(set(state) - set(given)), sorted(set(given) - set(state))
    if missing or extra:
        raise ValueError(
            f"{source}: expected tensors {sorted(state)}, missing {missing}, unexpected {extra}"
        )
    for name, value in given.items():
        if value.shape != state[name].shape:
            raise ValueError(
                f"{source}: {name} has shape {tuple(value.shape)}, expected {tuple(state[name].shape)} "
                "for this machine/teacher configuration"
            )
        if not _finite(value):
            raise ValueError(
                f"{source}: {name} holds NaN or inf values; the file is corrupt (delete it to "
                "recompute that stage)"
            )
    module.load_state_dict({k: v.to(state[k].dtype) for k, v in given.items()})
    return module


def optimizer_tensors(
    optimizer: torch.optim.Optimizer, prefix: str = "opt."
) -> tuple[dict[str, Tensor], list[dict[str, Any]]]:
    """Flatten an optimizer's per-parameter state into tensors; the groups' hyper-parameters
    (JSON-able) come back separately for the metadata."""
    sd = optimizer.state_dict()
    tensors = {
        f"{prefix}{index}.{key}": torch.as_tensor(value)
        for index, state in sd["state"].items()
        for key, value in state.items()
    }
    return tensors, sd["param_groups"]


def optimizer_from_tensors(
    optimizer: torch.optim.Optimizer,
    tensors: dict[str, Tensor],
    groups: list[dict[str, Any]],
    prefix: str = "opt.",
) -> None:
    """Inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix):
            index, key = name[len(prefix) :].split(".", 1)
            if not _finite(value):
                raise ValueError(f"optimizer state {name} holds NaN or inf values")
            state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})
