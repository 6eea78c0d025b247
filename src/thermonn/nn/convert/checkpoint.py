"""Save a converted model beside its conversion record, and load it back exactly.

The weights go where the model's own library puts them — HuggingFace's ``save_pretrained``
(``config.json``, ``model.safetensors``) or, for any other module, ``model.safetensors`` — and
the conversion record (:meth:`ConversionReport.to_dict`) goes beside them as
:data:`OPTIONS_FILE`.  Loading builds the model *from its config* (or a factory), converts it with
the record (:func:`reconvert`) and loads the safetensors into it: HuggingFace's
``from_pretrained`` alone would build the unconverted architecture, drop the TEL's own parameters
(``step_logits``, ``temperature.*``, ``entropy.*``) as unexpected keys, and refuse a ``Conv1D``'s
weight, which the TEL holds transposed.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_model
from torch import nn

from thermonn._io import atomic_write_json
from thermonn.nn.convert.core import reconvert
from thermonn.nn.convert.report import ConversionReport
from thermonn.nn.tel import TEL

__all__ = ["OPTIONS_FILE", "load_converted", "save_converted"]

OPTIONS_FILE = "thermonn_tel.json"
"""The conversion record's file name, beside the weights."""

_WEIGHTS = "model.safetensors"
_INDEX = "model.safetensors.index.json"


def _check_describes(model: nn.Module, report: ConversionReport) -> None:
    for r in report.replacements:
        try:
            tel = model.get_submodule(r.path)
        except AttributeError:
            tel = None
        if not (
            isinstance(tel, TEL)
            and (tel.in_features, tel.out_features) == (r.in_features, r.out_features)
        ):
            raise ValueError(
                f"save_converted: expected a TEL {r.in_features} → {r.out_features} at {r.path!r} "
                f"(the report's), got {type(tel).__name__}; pass the report convert returned "
                "with this model"
            )


def save_converted(
    model: nn.Module,
    report: ConversionReport,
    directory: str | os.PathLike[str],
    **save_kwargs: Any,
) -> Path:
    """Write ``model``'s weights and ``report``'s record to ``directory`` (created if missing).

    A model with ``save_pretrained`` (HuggingFace) is saved by it, ``save_kwargs`` passed on;
    any other module to ``model.safetensors`` (shared tensors stored once).  The record goes to
    ``directory/thermonn_tel.json``.

    Returns:
        The record's path.

    Raises:
        TypeError: ``model`` or ``report`` has the wrong type, an option cannot be written as
            JSON (an Entropy object), or ``save_kwargs`` are given for a non-HuggingFace model.
        ValueError: ``report`` does not describe ``model`` (a recorded site holds no TEL).

    Example:
        >>> mlp, report = convert(nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2)))
        >>> save_converted(mlp, report, tmp_dir).name
        'thermonn_tel.json'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(report, ConversionReport):
        raise TypeError(f"report: expected a ConversionReport, got {type(report).__name__}")
    record = report.to_dict()  # before any write: an unserialisable option writes nothing
    _check_describes(model, report)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_pretrained = getattr(model, "save_pretrained", None)
    if callable(save_pretrained):
        save_pretrained(directory, **save_kwargs)
    elif save_kwargs:
        raise TypeError(
            f"save_converted: {sorted(save_kwargs)} are save_pretrained arguments, and "
            f"{type(model).__name__} has no save_pretrained"
        )
    else:
        save_model(model, str(directory / _WEIGHTS))
    return atomic_write_json(directory / OPTIONS_FILE, record)


def _read_record(directory: Path) -> ConversionReport:
    path = directory / OPTIONS_FILE
    if not path.is_file():
        raise ValueError(
            f"load_converted: expected {OPTIONS_FILE} in {directory} (save_converted writes it), "
            f"found {sorted(p.name for p in directory.iterdir())}"
        )
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path}: expected the JSON record save_converted writes ({err})"
        ) from None
    return ConversionReport.from_dict(data)


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    if (directory / _WEIGHTS).is_file():
        return load_file(directory / _WEIGHTS)
    if (directory / _INDEX).is_file():
        shards = sorted(set(json.loads((directory / _INDEX).read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in load_file(directory / shard).items()}
    raise ValueError(
        f"load_converted: expected {_WEIGHTS} or {_INDEX} in {directory}, found "
        f"{sorted(p.name for p in directory.iterdir())}"
    )


def _load_exactly(model: nn.Module, tensors: dict[str, torch.Tensor], directory: Path) -> None:
    """Load every tensor, allowing only tied parameters (stored once) to be absent, and no
    silent cast: the round trip is bit for bit."""
    state = model.state_dict(keep_vars=True)
    stored_ids = {id(state[k]) for k in tensors if k in state}
    missing = [k for k in state if k not in tensors and id(state[k]) not in stored_ids]
    unexpected = sorted(set(tensors) - set(state))
    if missing or unexpected:
        raise ValueError(
            f"load_converted: the weights in {directory} do not match the converted model built "
            f"from it: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}; load with the class that "
            "saved them"
        )
    for key, value in tensors.items():
        if (state[key].dtype, state[key].shape) != (value.dtype, value.shape):
            raise ValueError(
                f"load_converted: expected {key} as {state[key].dtype} {tuple(state[key].shape)} "
                f"(the model built from the config), got {value.dtype} {tuple(value.shape)} in "
                f"{directory}; build the model in the saved dtype (e.g. dtype={value.dtype})"
            )
    model.load_state_dict(tensors, strict=False)


def _build(factory: Any, directory: Path, config: Any, kwargs: dict[str, Any]) -> nn.Module:
    """The unconverted model: from the config for a HuggingFace class, else ``factory(**kwargs)``."""
    # Auto* classes have from_config, PreTrainedModel subclasses _from_config
    build = getattr(factory, "from_config", None) or getattr(factory, "_from_config", None)
    if callable(build):
        if config is None:
            config_class = getattr(factory, "config_class", None)
            if config_class is None:
                config_class = importlib.import_module("transformers").AutoConfig
            config = config_class.from_pretrained(directory, local_files_only=True)
        model = build(config, **kwargs)
    elif callable(factory):
        if config is not None:
            raise TypeError(
                f"load_converted: config is for HuggingFace classes; {factory!r} is a factory: "
                "pass its arguments as keywords"
            )
        model = factory(**kwargs)
    else:
        raise TypeError(
            "load_converted: expected a HuggingFace model class (AutoModel..., GPT2Model, ...) or "
            f"a callable returning an nn.Module, got {type(factory).__name__}"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"load_converted: expected the factory to return an nn.Module, got {type(model).__name__}"
        )
    return model


def load_converted(
    factory: type | Callable[..., nn.Module],
    directory: str | os.PathLike[str],
    *,
    config: Any = None,
    **kwargs: Any,
) -> tuple[nn.Module, ConversionReport]:
    """The model :func:`save_converted` wrote, TELs included, bit for bit; in eval mode.

    Nothing is downloaded: the config and the weights are read from ``directory``.

    Args:
        factory: a HuggingFace class — an ``Auto*`` class (``AutoModelForCausalLM``) or a
            model class (``GPT2LMHeadModel``) — whose model is built from ``directory``'s
            ``config.json`` (or ``config``), as ``from_pretrained(directory)`` would build it; or
            any callable returning the unconverted ``nn.Module`` (e.g.
            ``functools.partial(timm.create_model, "vit_tiny_patch16_224")``), called with
            ``kwargs``.
        directory: the folder :func:`save_converted` wrote.
        config: a HuggingFace config to build from instead of ``directory/config.json``.
        **kwargs: passed to ``from_config`` (``dtype=torch.bfloat16`` for a bfloat16
            checkpoint, ``attn_implementation=...``), or to the factory.

    Returns:
        ``(model, report)``.

    Raises:
        TypeError: ``factory`` is neither, or it returns something other than a module.
        ValueError: ``directory`` lacks the record or the weights, or they do not match the
            converted model (names, shapes or dtypes; the message lists the first ones).

    Example:
        >>> mlp = lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2))
        >>> save_converted(*convert(mlp()), tmp_dir)  # doctest: +ELLIPSIS
        PosixPath(...)
        >>> model, report = load_converted(mlp, tmp_dir)
        >>> report.paths
        ['0']
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"load_converted: expected a directory, got {str(directory)!r}")
    record = _read_record(directory)
    model = _build(factory, directory, config, kwargs)
    model, report = reconvert(model, record, inplace=True)
    _load_exactly(model, _read_weights(directory), directory)
    return model.eval(), report
