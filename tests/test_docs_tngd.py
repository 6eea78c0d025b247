"""The examples of docs/tngd.md run as written, and say what the text says they do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_thread")

DOC = Path(__file__).resolve().parents[1] / "docs" / "tngd.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_ou_example_fits_the_drift_back():
    scope: dict = {}
    exec(_blocks()[0], scope)
    fitted = scope["fit_ou"](scope["times"], scope["path"].states).process.drift
    assert torch.allclose(fitted, scope["a"], atol=0.25)  # 2000 points at Δt = 0.1


def test_the_tngd_example_takes_a_converged_step():
    scope: dict = {}
    exec(_blocks()[1], scope)
    step = scope["opt"].last_step
    assert step.converged and step.ggn_products >= 2
