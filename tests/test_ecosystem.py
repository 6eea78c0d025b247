"""TEL models through the export and transform tools of PyTorch, each against eager PyTorch.

Every test runs a TEL model (a bare :class:`~thermonn.TEL`, a :class:`~thermonn.TELFeedForward` on
token sequences, and an MLP made by :func:`~thermonn.convert`) through one tool -- ONNX (both
exporters, run by onnxruntime), ``torch.export``, ``torch.func``, TorchScript -- and compares
the result with the eager module: outputs, gradients, Jacobians.  They test what a user sees, not
how TEL computes it, so they hold whatever the descent is written as.
"""

import io

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jacfwd, jacrev, vmap

import thermonn
from thermonn.functional import ENTROPIES

pytestmark = pytest.mark.usefixtures("one_thread")

# the legacy (TorchScript-based) exporter and torch.jit.trace warn that they are deprecated, and
# trace the shape checks of the forward (input width, "is the batch empty") as constants
LEGACY = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")

ONNX_ATOL = 1e-5  # float32, onnxruntime against eager


def _perturbed(model: nn.Module) -> nn.Module:
    """Move every step size and temperature parameter off its initial value, in eval mode."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "weight" not in name and "bias" not in name:
                p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _tel():
    return thermonn.TEL(8, 16, steps=4)


def _tel_ffn():
    return thermonn.TELFeedForward(8, 24, steps=3)


def _converted_mlp():
    mlp = nn.Sequential(nn.Linear(6, 12), nn.GELU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3))
    model, _ = thermonn.convert(mlp, steps=3)
    assert [type(m) for m in model] == [thermonn.TEL, nn.Identity] * 2 + [nn.Linear]
    return model


# name -> (builder, example input shape, the dimensions exported as dynamic, other sizes for them)
MODELS = {
    "tel": (_tel, (4, 8), {0: "batch"}, (7,)),
    "tel_ffn": (_tel_ffn, (2, 5, 8), {0: "batch", 1: "seq"}, (3, 9)),
    "converted_mlp": (_converted_mlp, (4, 6), {0: "batch"}, (1,)),
}


def _case(name: str):
    """The model (perturbed, eval), an example input, the dynamic dims and an input resized on them."""
    build, shape, dims, sizes = MODELS[name]
    model = _perturbed(build())
    other = list(shape)
    for dim, size in zip(dims, sizes, strict=True):
        other[dim] = size
    return model, torch.randn(shape), dims, torch.randn(other)


def _eager(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


# ---------------------------------------------------------------------------------------------
# ONNX


def _onnxruntime(data: bytes, x: torch.Tensor) -> torch.Tensor:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(y)


def _check_onnx(data: bytes, model: nn.Module, *inputs: torch.Tensor) -> None:
    onnx = pytest.importorskip("onnx")
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    for x in inputs:
        torch.testing.assert_close(_onnxruntime(data, x), _eager(model, x), rtol=0, atol=ONNX_ATOL)


def _legacy_onnx(model: nn.Module, x: torch.Tensor, dims: dict[int, str]) -> bytes:
    f = io.BytesIO()
    torch.onnx.export(
        model, (x,), f, dynamo=False, input_names=["x"], output_names=["y"],
        dynamic_axes={"x": dims, "y": dims},
    )  # fmt: skip
    return f.getvalue()


@LEGACY
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_legacy_export_runs_in_onnxruntime(name):
    pytest.importorskip("onnx")
    model, x, dims, other = _case(name)
    _check_onnx(_legacy_onnx(model, x, dims), model, x, other)


@LEGACY
@pytest.mark.parametrize("temperature", ["adaptive", "fixed"])
@pytest.mark.parametrize("entropy", sorted(ENTROPIES))
def test_onnx_legacy_export_of_every_entropy(entropy, temperature):
    pytest.importorskip("onnx")
    model = _perturbed(thermonn.TEL(8, 16, steps=3, entropy=entropy, temperature=temperature))
    x = 3 * torch.randn(5, 8)  # wide enough to reach the saturated part of every entropy
    _check_onnx(_legacy_onnx(model, x, {0: "batch"}), model, x, torch.randn(2, 8))


def _dynamo_onnx(model: nn.Module, x: torch.Tensor, dims: dict[int, str]) -> bytes:
    pytest.importorskip("onnxscript")
    shapes = ({d: torch.export.Dim(n) for d, n in dims.items()},)
    program = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=shapes, verbose=False)
    return program.model_proto.SerializeToString()


@pytest.mark.filterwarnings(
    "ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"
)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_dynamo_export_runs_in_onnxruntime(name):
    pytest.importorskip("onnx")
    model, x, dims, other = _case(name)
    _check_onnx(_dynamo_onnx(model, x, dims), model, x, other)


# ---------------------------------------------------------------------------------------------
# torch.export


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torch_export_with_dynamic_shapes_matches_eager(name, tmp_path):
    model, x, dims, other = _case(name)
    shapes = ({d: torch.export.Dim(n) for d, n in dims.items()},)
    exported = torch.export.export(model, (x,), dynamic_shapes=shapes)
    torch.export.save(exported, tmp_path / "model.pt2")
    loaded = torch.export.load(tmp_path / "model.pt2").module()
    for inp in (x, other):
        torch.testing.assert_close(exported.module()(inp), _eager(model, inp))
        torch.testing.assert_close(loaded(inp), _eager(model, inp))


# ---------------------------------------------------------------------------------------------
# torch.func


@pytest.mark.parametrize("name", sorted(MODELS))
def test_func_grad_of_functional_call_matches_backward(name):
    model, x, _, _ = _case(name)
    params = {k: p.detach() for k, p in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def loss(params, x):
        return functional_call(model, (params, buffers), (x,)).square().sum()

    grads = grad(loss)(params, x)
    model(x).square().sum().backward()
    assert set(grads) == {k for k, _ in model.named_parameters()}
    for k, p in model.named_parameters():
        torch.testing.assert_close(grads[k], p.grad, msg=k)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_func_vmap_over_samples_matches_the_batched_forward(name):
    model, x, _, _ = _case(name)
    torch.testing.assert_close(vmap(model)(x), _eager(model, x))


def test_func_per_sample_gradients_match_a_loop_of_backward():
    model, x, _, _ = _case("tel")
    target = torch.randn(x.shape[0], model.out_features)
    params = {k: p.detach() for k, p in model.named_parameters()}

    def loss(params, x, t):
        return (functional_call(model, params, (x[None],)) - t).square().sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, target)
    for i in range(x.shape[0]):
        model.zero_grad()
        (model(x[i : i + 1]) - target[i]).square().sum().backward()
        for k, p in model.named_parameters():
            torch.testing.assert_close(per_sample[k][i], p.grad, msg=f"{k}[{i}]")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # jacfwd
@pytest.mark.parametrize("name", sorted(MODELS))
def test_func_jacobians_match_autograd(name):
    model, x, _, _ = _case(name)
    model, x = model.double(), x.double()
    expected = torch.autograd.functional.jacobian(model, x)
    assert expected.abs().max() > 0
    torch.testing.assert_close(jacrev(model)(x), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(jacfwd(model)(x), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# TorchScript


@LEGACY
@pytest.mark.parametrize("build", [_tel, _tel_ffn], ids=["tel", "tel_ffn"])
def test_torchscript_scripting_is_unsupported(build):
    """TEL is not scriptable.  The first thing the compiler meets is the class annotation
    ``temperature: TemperatureRule`` (string annotations, ``from __future__ import annotations``)::

        ValueError: Unknown type annotation: 'TemperatureRule' at

    then ``last_trace: TELTrace | None``, then the Python-only forward (input checks, entropy
    strategy objects).  If this test fails, scripting works: test the scripted output and
    update docs/ecosystem.md."""
    with pytest.raises((ValueError, RuntimeError, torch.jit.frontend.NotSupportedError)):
        torch.jit.script(build())


@LEGACY
@pytest.mark.parametrize("name", sorted(MODELS))
def test_torch_jit_trace_matches_eager(name, tmp_path):
    model, x, _, other = _case(name)
    traced = torch.jit.trace(model, (x,))
    torch.jit.save(traced, tmp_path / "model.pt")
    loaded = torch.jit.load(tmp_path / "model.pt")
    for inp in (x, other):  # the trace holds no batch size
        torch.testing.assert_close(traced(inp), _eager(model, inp))
        torch.testing.assert_close(loaded(inp), _eager(model, inp))
