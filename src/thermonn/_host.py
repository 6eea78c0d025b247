"""The computer an experiment runs on (not the thermodynamic machine it may simulate)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["Host", "host_info"]


class Host(NamedTuple):
    """What an experiment records about the computer it ran on.

    Attributes:
        cpu: the CPU model (``model name`` in ``/proc/cpuinfo``; ``unknown`` elsewhere).
        cores: logical CPUs (``os.cpu_count()``; ``None`` when undeterminable).
        platform: ``platform.platform()``, e.g. ``Linux-6.1-x86_64-with-glibc2.36``.
        python: the Python version.
        torch: ``torch.__version__``.
        cuda: the name of the current CUDA device, ``None`` without CUDA.
        threads: torch's intra-op threads in this process (``torch.get_num_threads()``).
    """

    cpu: str
    cores: int | None
    platform: str
    python: str
    torch: str
    cuda: str | None
    threads: int


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def host_info() -> Host:
    """Probe the host: CPU model, cores, OS, Python, torch, CUDA device and torch threads.

    Example:
        >>> host = host_info()
        >>> host.cores == os.cpu_count()
        True
    """
    return Host(
        cpu=_cpu_model(),
        cores=os.cpu_count(),
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        threads=torch.get_num_threads(),
    )
