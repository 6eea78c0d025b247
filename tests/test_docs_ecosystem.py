"""The examples of docs/ecosystem.md run as written, and say what the text says they do.

The Python blocks of one section run in order in one scope, in a temporary directory (they save
checkpoints); a section whose library is not installed is skipped.  Sections added by others have
their own tests: only the sections named in :data:`SECTIONS` run here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported

pytestmark = pytest.mark.usefixtures("one_thread")

DOC = Path(__file__).resolve().parents[1] / "docs" / "ecosystem.md"

# section title -> the library it needs (None: torch and thermonn only)
SECTIONS = {
    "Converting a model zoo's MLPs": None,
    "timm": "timm",
    "HuggingFace transformers": "transformers",
    "Reloading any converted model": None,
    "Logging diagnostics (TensorBoard, Lightning, wandb)": "tensorboard",
    "ONNX": "onnxruntime",
    "torch.export": None,
    "torch.func": None,
    "TorchScript": None,
}


def _section(title: str) -> list[str]:
    """The Python blocks of the ``## title`` section (its ``###`` subsections included)."""
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.M)
    bodies = dict(zip(parts[1::2], parts[2::2], strict=True))
    return re.findall(r"```python\n(.*?)```", bodies[title], re.S)


def _run(title: str, tmp_path, monkeypatch) -> tuple[dict, str]:
    needs = SECTIONS[title]
    if needs == "timm":
        try:
            import timm  # noqa: F401
        except Exception as err:  # a torchvision built for another torch raises RuntimeError
            pytest.skip(f"timm unavailable: {type(err).__name__}: {err}")
    elif needs is not None:
        pytest.importorskip(needs)
    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "docs_ecosystem"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in _section(title):
            exec(block, scope)
    return scope, out.getvalue()


def test_every_section_with_code_is_run_here():
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.M)
    with_code = {t for t, b in zip(parts[1::2], parts[2::2], strict=True) if "```python" in b}
    assert set(SECTIONS) <= with_code


def test_the_recognition_examples(tmp_path, monkeypatch):
    scope, out = _run("Converting a model zoo's MLPs", tmp_path, monkeypatch)
    assert "['0.fc1', '1.fc1']\n{'steps': 4}\n" in out
    assert "Near misses: '<model>' (fc1/act/fc2): fc2 takes 32 features but fc1 gives 64" in out
    assert scope["report"].paths == ["0.fc1"]  # the no-gates block converts the timm-like Mlp
    assert "gate_proj/up_proj/act_fn/down_proj" not in scope["no_gates"]


def test_the_timm_examples(tmp_path, monkeypatch):
    _, out = _run("timm", tmp_path, monkeypatch)
    assert "| blocks.0.mlp.fc1 | Mlp | 192 → 768 | GELU | fc1/act/fc2 |" in out
    assert (tmp_path / "vit-tel" / "thermonn_tel.json").is_file()


def test_the_huggingface_examples(tmp_path, monkeypatch):
    scope, out = _run("HuggingFace transformers", tmp_path, monkeypatch)
    row = "| GPT2MLP | 64 → 256 | NewGELUActivation | c_fc/act/c_proj (Conv1D, transposed) |"
    assert f"| transformer.h.0.mlp.c_fc {row}" in out and f"| transformer.h.1.mlp.c_fc {row}" in out
    assert scope["report"].paths == ["model.layers.0.mlp.gate_proj"]
    assert {"config.json", "model.safetensors", "thermonn_tel.json"} <= {
        p.name for p in (tmp_path / "gpt2-tel").iterdir()
    }


def test_the_reload_example(tmp_path, monkeypatch):
    scope, _ = _run("Reloading any converted model", tmp_path, monkeypatch)
    assert scope["report"].options == {"steps": 3, "entropy": "gate"}


@pytest.mark.parametrize(
    "title",
    [
        "Logging diagnostics (TensorBoard, Lightning, wandb)",
        "ONNX",
        "torch.export",
        "torch.func",
        "TorchScript",
    ],
)
def test_the_export_and_logging_examples(title, tmp_path, monkeypatch):
    """These blocks carry their own assertions (outputs against eager PyTorch)."""
    if title == "ONNX":
        pytest.importorskip("onnx")
        pytest.importorskip("onnxscript")
    scope, _ = _run(title, tmp_path, monkeypatch)
    if title.startswith("Logging"):
        assert any(
            p.name.startswith("events.out.tfevents") for p in (tmp_path / "runs" / "tel").iterdir()
        )
        assert callable(scope["training_step"])
