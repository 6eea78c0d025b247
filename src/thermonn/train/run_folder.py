"""The run-folder helper every experiment writes through (demo, benchmark sweeps, the
thermodynamic computer): one writer at a time, a configuration that must match what the folder
already holds, the command line that made it, atomic files.

    folder = RunFolder(out)
    with folder.writing(check=lambda: folder.check_config(config), command=argv):
        folder.write_json("config.json", config)   # nothing was written before both checks

Built on :mod:`thermonn._io` (atomic writes, the ``fcntl`` lock that names its holder's PID),
which the experiments also use directly for their other files (reports, rows).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thermonn._io import atomic_write_json, folder_lock, read_json, write_command

__all__ = ["RunFolder"]


class RunFolder:
    """A run folder at ``path`` (created on the first write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def check(self) -> RunFolder:
        """Refuse a path that is an existing file.

        Raises:
            ValueError: naming the path.
        """
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path}: expected a run folder, got a file")
        return self

    def check_config(self, expected: Mapping[str, Any], *, name: str = "config.json") -> None:
        """Refuse a folder whose ``name`` holds another configuration than ``expected``; an
        absent file passes. Writes nothing.

        Raises:
            ValueError: naming the folder and every differing field (was, now), or the
                unreadable file.
        """
        self.check()
        old = read_json(self.path / name)
        if old is None:
            return
        diff = {
            k: (old.get(k), expected.get(k))
            for k in [*expected, *(k for k in old if k not in expected)]
            if old.get(k) != expected.get(k)
        }
        if diff:
            raise ValueError(
                f"{self.path} holds a run with a different configuration (was, now): {diff}; "
                "use a new output folder"
            )

    @contextmanager
    def writing(
        self,
        check: Callable[[], object] | None = None,
        *,
        command: Sequence[str] | None = None,
    ) -> Iterator[RunFolder]:
        """Hold the folder's write lock: ``check()`` runs before the lock is taken (a refused
        run leaves no trace, not even the folder) and again under it; then ``command`` (the
        ``thermonn`` arguments) goes to ``command.txt`` and the body runs. Re-entrant.

        Raises:
            FolderInUseError: another process writes the folder (its PID is named).
        """
        self.check()
        if check is not None:
            check()
        with folder_lock(self.path):
            if check is not None:
                check()
            if command is not None:
                self.write_command(command)
            yield self

    def write_command(self, command: Sequence[str]) -> Path:
        """``command.txt``: the ``thermonn`` command line (its arguments ``command``)."""
        return write_command(self.path, list(command))

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``name`` atomically."""
        return atomic_write_json(self.path / name, data)
