"""Run-folder plumbing: atomic writes, and an advisory lock so one process writes a folder at a time.

Atomic writes: a crash leaves the old file or the new one, never a torn one.  The lock is an
``fcntl.flock`` on ``FOLDER/.lock`` holding the owner's PID; the kernel releases it when the owner
exits, however it exits (``kill -9`` included), so a stale lock never blocks a later run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "FolderInUseError",
    "atomic_write_json",
    "atomic_write_text",
    "commit_file",
    "folder_lock",
    "read_json",
    "write_command",
]

LOCK_NAME = ".lock"


class FolderInUseError(ValueError):
    """Another process holds the run folder's lock."""


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


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A JSON-object file of a run folder, or ``None`` if it does not exist.

    Raises:
        ValueError: the file is not a JSON object (the message names it).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise ValueError(
            f"{path}: expected a JSON object written by thermonn, got an unreadable file ({err})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def write_command(folder: str | os.PathLike[str], argv: list[str]) -> Path:
    """``folder/command.txt``: the ``thermonn`` command line that made the folder."""
    return atomic_write_text(Path(folder) / "command.txt", "thermonn " + " ".join(argv) + "\n")


# Folders whose lock this process holds.  flock is per open file, so a nested folder_lock of the
# same folder (a CLI command wrapping a library call) must not take it a second time.
_HELD: set[Path] = set()
_HELD_GUARD = threading.Lock()


@contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive write lock of run folder ``folder`` (created if missing).

    Re-entrant within a process.  Where ``fcntl`` does not exist (Windows) no lock is taken.

    Raises:
        FolderInUseError: another process holds the lock; the message names its PID.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    with _HELD_GUARD:
        nested = key in _HELD
    if nested:
        yield folder
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield folder
        return
    handle = open(folder / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise FolderInUseError(
                f"{folder}: folder in use by PID {owner} (another thermonn process is writing "
                "to it); wait for it to finish or choose another output folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        with _HELD_GUARD:
            _HELD.add(key)
        try:
            yield folder
        finally:
            with _HELD_GUARD:
                _HELD.discard(key)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
