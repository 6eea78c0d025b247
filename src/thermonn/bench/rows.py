"""The rows file of a sweep folder: ``rows.jsonl``, one JSON object per finished run.

Rows are appended (flushed and fsynced per row), so an interrupted sweep loses at most the run in
flight; readers never rewrite the file, and only the folder's lock holder drops a torn last line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from thermonn._io import atomic_write_text

__all__ = ["ROW_FIELDS", "RowFile", "append_row", "drop_torn_line", "load_rows", "read_rows"]

ROW_FIELDS = (
    "key", "task", "model", "budget", "depth", "seed", "status", "metric", "value", "finished",
    "train_seconds", "ms_per_step", "saved_activation_mib", "peak_memory_mib", "traces",
)  # fmt: skip
"""Fields every row must have (the report reads them)."""


class RowFile(NamedTuple):
    """What a ``rows.jsonl`` holds: ``rows`` with one row per cell key (the first written wins),
    the keys of the ignored ``duplicates`` (two processes that once wrote one folder), and whether
    the last line was ``torn`` (a run killed mid-write)."""

    rows: list[dict[str, Any]]
    duplicates: list[str]
    torn: bool


def read_rows(path: Path) -> RowFile:
    """Parse a ``rows.jsonl`` without changing it; a duplicate key never reaches the rows.

    Raises:
        ValueError: a line other than the last is not JSON, or a line is not a JSON object with
            a string ``key`` (the message names the file and the line).
    """
    if not path.exists():
        return RowFile([], [], False)
    if not path.is_file():
        raise ValueError(f"{path}: expected a rows file, got a directory")
    lines = path.read_text().splitlines()
    rows: dict[str, dict[str, Any]] = {}
    duplicates, torn = [], False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise ValueError(
                    f"{path}: line {i + 1} is not JSON (only a torn last line is repaired)"
                ) from None
            torn = True
            continue
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            raise ValueError(
                f"{path}: line {i + 1}: expected a JSON object with a string 'key' (one "
                f"benchmark run), got {type(row).__name__}"
                + (f" with keys {sorted(row)[:6]}" if isinstance(row, dict) else "")
            )
        missing = [f for f in ROW_FIELDS if f not in row]
        if missing:
            raise ValueError(f"{path}: line {i + 1}: run {row['key']!r} lacks fields {missing}")
        if row["key"] in rows:
            duplicates.append(row["key"])
        else:
            rows[row["key"]] = row
    return RowFile(list(rows.values()), duplicates, torn)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The unique rows of a ``rows.jsonl`` (see :func:`read_rows`); changes nothing on disk."""
    return read_rows(path).rows


def drop_torn_line(path: Path) -> None:
    """Remove a torn last line from ``path`` atomically (only the folder's lock holder may)."""
    text = path.read_text()
    atomic_write_text(path, text[: text.rstrip("\n").rfind("\n") + 1])


def append_row(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())
