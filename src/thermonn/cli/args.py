"""Argument types and the parser class shared by every ``thermonn`` sub-command.

Every value is checked when it is parsed, before any work starts; a bad one ends the command with
exit status 2 and one line ``thermonn: error: argument --NAME: expected …, got …``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from thermonn._validation import MAX_SEED

__all__ = [
    "MAX_SEED",
    "Parser",
    "UsageError",
    "add_config_arguments",
    "add_run_folder_options",
    "boolean",
    "check_out_folder",
    "config_from_args",
    "fraction",
    "nonnegative_float",
    "nonnegative_int",
    "optional_positive_int",
    "positive_float",
    "positive_int",
    "seed",
]


class UsageError(ValueError):
    """A command-line value that passed parsing but fails a check that needs the file system."""


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that shows defaults in ``--help`` and reports a usage error as
    one line ``thermonn: error: …`` (exit 2), without the usage block."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        print(f"thermonn: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


def _number(kind: Callable[[str], int | float], text: str, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = int(_number(int, text, "an integer >= 1"))
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def optional_positive_int(text: str) -> int | None:
    """``all`` (no limit) or an integer >= 1."""
    return None if text == "all" else positive_int(text)


def nonnegative_int(text: str) -> int:
    value = int(_number(int, text, "an integer >= 0"))
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def seed(text: str) -> int:
    what = f"an integer seed in [0, {MAX_SEED}]"
    value = int(_number(int, text, what))
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(_number(float, text, "a finite number > 0"))
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value:g}")
    return value


def nonnegative_float(text: str) -> float:
    value = float(_number(float, text, "a finite number >= 0"))
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {value:g}")
    return value


def boolean(text: str) -> bool:
    """``true``/``false`` (also yes/no, on/off, 1/0; any case)."""
    value = {
        "true": True,
        "yes": True,
        "on": True,
        "1": True,
        "false": False,
        "no": False,
        "off": False,
        "0": False,
    }.get(text.lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1]."""
    value = float(_number(float, text, "a number in (0, 1]"))
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {value:g}")
    return value


def check_out_folder(path: Path, option: str = "--out") -> Path:
    """Check that ``path`` can be a run folder — an existing folder, or a new one whose nearest
    existing ancestor is a writable folder — without creating anything.

    Raises:
        UsageError: naming ``option`` and the path.
    """
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"argument {option}: expected a folder, got the existing file {path}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"argument {option}: the folder {path} is not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"argument {option}: cannot create {path}: {parent} is a file, not a folder"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"argument {option}: cannot create {path}: {parent} is not writable")
    return path


Config = TypeVar("Config")


def add_run_folder_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--out`` (default ``runs/<name>-<timestamp>``, chosen by the command) and
    ``--no-progress``, shared by every experiment command."""
    parser.add_argument(
        "--out", type=Path, default=None, help=f"run folder (default: runs/{name}-<timestamp>)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_config_arguments(
    parser: argparse.ArgumentParser,
    config: type[Any],
    helps: Mapping[str, str],
    *,
    types: Mapping[str, Callable[[str], Any]] | None = None,
    choices: Mapping[str, Sequence[Any]] | None = None,
) -> None:
    """One ``--field-name`` option per field of the frozen dataclass ``config`` named in
    ``helps``, with the dataclass's own default (so the CLI never copies a default); tuple
    fields take one or more values. ``types`` and ``choices`` refine fields by name."""
    types, choices = types or {}, choices or {}
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(helps) - names)
    if unknown:
        raise TypeError(f"{config.__name__}: expected field names, got {unknown}")
    defaults = config()
    for f in dataclasses.fields(config):
        if f.name not in helps:
            continue
        default = getattr(defaults, f.name)
        options: dict[str, Any] = {"help": helps[f.name], "dest": f.name}
        if isinstance(default, tuple):
            options.update(nargs="+", default=list(default))
        else:
            options["default"] = default
        if f.name in types:
            options["type"] = types[f.name]
        if f.name in choices:
            options["choices"] = choices[f.name]
        parser.add_argument("--" + f.name.replace("_", "-"), **options)


def config_from_args(config: type[Config], args: argparse.Namespace) -> Config:
    """The ``config`` dataclass from parsed arguments (fields the parser lacks keep their
    defaults); validation is the dataclass's own."""
    defaults = config()
    values = {}
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            values[f.name] = tuple(value) if isinstance(getattr(defaults, f.name), tuple) else value
    return config(**values)
