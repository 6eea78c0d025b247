"""Regression: a small ConvNeXt-like model with TEL feed-forwards under ``torch.compile`` on CPU.

Reported: Inductor aborted the process (double free) with TEL diagnostics on, and worked with them
off.  Diagnostics now stay out of compiled graphs.  The model runs in a subprocess so that an
abort fails this test instead of killing the test session.
"""

import subprocess
import sys

import pytest

SCRIPT = r"""
import sys

import torch
from torch import nn
import thermonn

torch.set_num_threads(1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.ln = nn.LayerNorm(c)
        self.tel = thermonn.TEL(c, 4 * c, diagnostics=True)
        self.pw = nn.Linear(4 * c, c)

    def forward(self, x):
        h = self.dw(x).permute(0, 2, 3, 1)
        return x + self.pw(self.tel(self.ln(h))).permute(0, 3, 1, 2)


for d in map(int, sys.argv[1:]):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, d, 4, stride=4), Block(d), Block(d))
    x = torch.randn(4, 3, 32, 32)
    compiled = torch.compile(model)
    for _ in range(2):
        out = compiled(x)
        out.square().mean().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    eager = model(x)
    eager.square().mean().backward()
    torch.testing.assert_close(out, eager, rtol=1e-4, atol=1e-5)
    for g, p in zip(grads, model.parameters()):
        torch.testing.assert_close(g / 2, p.grad, rtol=1e-3, atol=1e-5)
    assert model[1].tel.last_trace is not None  # the eager call recorded
    print("ok", d, flush=True)
"""


def _run(sizes):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, sizes)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [w for d in sizes for w in ("ok", str(d))]


def test_compiled_convnext_with_tel_diagnostics_does_not_abort():
    _run([16])


@pytest.mark.slow
def test_compiled_convnext_every_reported_width():
    _run([8, 16, 32, 64])
