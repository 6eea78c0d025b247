"""The configuration of the consistency study, checked before anything runs or is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thermonn._validation import check_bool, check_seed

__all__ = ["MACHINE_FILES", "ConsistencyConfig"]

MACHINE_FILES = ("config.json", "teacher.safetensors", "machine.safetensors")
"""What a ``thermonn computer train`` run folder holds that the machine section loads."""


@dataclass(frozen=True)
class ConsistencyConfig:
    """``machine``: the folder of a ``thermonn computer train`` run whose trained machine is
    audited (section B and its temperature monitor; None skips them). ``quick``: one Δt per
    system — the engine's test systems at their fine step, where every law must hold, the
    machine at its own Δt — instead of the Δt comparisons. ``seed``: every random stream of
    the study derives from it (0 reproduces the committed audit).

    Raises:
        ValueError: naming the field — a seed outside [0, 2³² − 1], or a ``machine`` that is
            not a run folder (missing, not a folder, or without its config and parameters).
        TypeError: a field of the wrong type.
    """

    machine: str | None = None
    quick: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        check_bool("quick", self.quick)
        check_seed("seed", self.seed)
        if self.machine is None:
            return
        if not isinstance(self.machine, str):
            raise TypeError(
                f"machine: expected a path (str) or None, got {type(self.machine).__name__}"
            )
        folder = Path(self.machine)
        if not folder.is_dir():
            raise ValueError(
                f"machine: expected the folder of a `thermonn computer train` run, got "
                f"{self.machine!r}, which is {'a file' if folder.exists() else 'missing'}"
            )
        missing = [name for name in MACHINE_FILES if not (folder / name).is_file()]
        if missing:
            raise ValueError(
                f"machine: expected a trained `thermonn computer train` run folder holding "
                f"{', '.join(MACHINE_FILES)}, got {self.machine!r} without {', '.join(missing)}"
            )
