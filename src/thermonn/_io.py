"""Atomic file writes: a crash leaves the old file or the new one, never a torn one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_json", "atomic_write_text", "commit_file", "write_command"]


def commit_file(tmp: Path, path: Path) -> Path:
    """fsync the finished ``tmp`` and rename it over ``path``."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through ``<path>.tmp``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    return commit_file(tmp, path)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """``data`` as indented JSON, written atomically."""
    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_command(folder: str | os.PathLike[str], argv: list[str]) -> Path:
    """``folder/command.txt``: the ``thermonn`` command line that made the folder."""
    return atomic_write_text(Path(folder) / "command.txt", "thermonn " + " ".join(argv) + "\n")
