"""The generator alone, in formats other programs load without ganzoo: safetensors, TorchScript, ONNX.

Every export writes ``PATH`` and a ``PATH.json`` beside it (safetensors also carries the JSON in its header) with
what a user needs to call the generator: latent size, class count, output shape and range, which weights (EMA or
raw) and, for rebuilding from safetensors in plain torch, the layers in order with their constructor text.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.store.checkpoint import atomic_write_bytes
from ganzoo.use.sampling import num_classes
from ganzoo.version import __version__

FORMATS = ("safetensors", "torchscript", "onnx")
SUFFIXES = {"safetensors": ".safetensors", "torchscript": ".pt", "onnx": ".onnx"}
EXTRAS = {"safetensors": "safetensors", "onnx": "onnx"}
FORMAT_TAG = "ganzoo-generator/1"


def describe(gan, fmt: str) -> dict[str, Any]:
    """The JSON written beside an export: inputs, outputs and architecture hints."""
    classes = num_classes(gan)
    G = gan.generator
    recipe = getattr(gan, "recipe", None)
    layers = [{"name": name, "module": repr(m)} for name, m in G.named_modules() if name and not list(m.children())]
    inputs = [{"name": "z", "shape": ["N", gan.latent_dim], "dtype": "float32", "distribution": "standard normal"}]
    if classes:
        inputs.append({"name": "labels", "shape": ["N"], "dtype": "int64", "range": [0, classes - 1]})
    return {
        "format": FORMAT_TAG,
        "export_format": fmt,
        "model": gan.name,
        "components": dict(getattr(gan, "components", {})),
        "generator_class": f"{type(G).__module__}.{type(G).__qualname__}",
        "generator_options": dict(getattr(recipe, "generator_options", {}) or {}),
        "latent_dim": int(gan.latent_dim),
        "num_classes": classes,
        "inputs": inputs,
        "output": {"name": "samples", "shape": ["N", *gan.shape], "dtype": "float32",
                   "range": [-1.0, 1.0] if len(gan.shape) == 3 else None},
        "call": "G(z, labels)" if classes else "G(z)",
        "tensors": {k: list(v.shape) for k, v in G.state_dict().items()},
        "layers": layers,
        "loaded_from": getattr(gan, "loaded_from", None),
        "ganzoo": __version__,
        "torch": torch.__version__,
    }


def _example_inputs(gan, n: int = 2) -> tuple[torch.Tensor, ...]:
    z = torch.randn(n, gan.latent_dim, generator=torch.Generator().manual_seed(0))
    classes = num_classes(gan)
    return (z, torch.arange(n) % classes) if classes else (z,)


def _require(module: str, fmt: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise GanzooError(f"--format {fmt} needs the {module!r} package; pip install 'ganzoo[{EXTRAS[fmt]}]'") from None


def export(gan, path: Union[str, Path], fmt: str) -> Path:
    """Write gan.generator (moved to the CPU, eval mode, float32) as `fmt` to `path`, plus PATH.json."""
    if fmt not in FORMATS:
        raise GanzooError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    if path.suffix == "" or path.is_dir():
        raise GanzooError(f"--out {str(path)!r} must be a file name, e.g. generator{SUFFIXES[fmt]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    G: nn.Module = gan.generator
    device, was_training = next(G.parameters()).device, G.training
    G.cpu().float().eval()
    info = describe(gan, fmt)
    try:
        with torch.no_grad():
            if fmt == "onnx":  # the exporter writes the file itself
                _write_replacing(path, lambda tmp: _onnx(gan, G, tmp, info))
            else:  # serialised in memory, then written by Python: a full disk is an OSError, never a C++ abort
                payload = {"safetensors": _safetensors, "torchscript": _torchscript}[fmt](gan, G, info)
                atomic_write_bytes(path, payload)
    finally:
        G.to(device).train(was_training)
    atomic_write_bytes(path.with_name(path.name + ".json"), (json.dumps(info, indent=2) + "\n").encode())
    return path


def _write_replacing(path: Path, write) -> None:
    """Run `write(tmp)` on a temp file beside `path`, then os.replace it into place: a failed or interrupted export
    (full disk, a tracing error, a kill) leaves neither a truncated `path` nor its temp file, and an older export
    at `path` stays whole until the new one is complete."""
    import os
    import tempfile

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _safetensors(gan, G: nn.Module, info: dict) -> bytes:
    st = _require("safetensors.torch", "safetensors")
    state = {k: v.detach().contiguous() for k, v in G.state_dict().items()}
    return st.save(state, metadata={"ganzoo": json.dumps(info)})


def _torchscript(gan, G: nn.Module, info: dict) -> bytes:
    inputs = _example_inputs(gan)
    try:
        traced = torch.jit.trace(G, inputs, check_inputs=[_example_inputs(gan, 3)])
    except Exception as exc:  # data-dependent control flow, unsupported ops, ...
        raise GanzooError(f"TorchScript tracing of {info['generator_class']} failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160]}); try --format onnx or safetensors") from None
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={"ganzoo.json": json.dumps(info)})
    return buffer.getvalue()


def _onnx(gan, G: nn.Module, path: Path, info: dict) -> None:
    _require("onnx", "onnx")
    _require("onnxscript", "onnx")
    inputs = _example_inputs(gan)
    names = ["z", "labels"][: len(inputs)]
    batch = torch.export.Dim("batch")
    try:
        with warnings.catch_warnings():  # the exporter's own deprecation chatter is not the user's concern
            warnings.simplefilter("ignore")
            torch.onnx.export(G, inputs, str(path), input_names=names, output_names=["samples"],
                              dynamic_shapes=[{0: batch} for _ in inputs], dynamo=True, verbose=False,
                              external_data=False)
    except Exception as exc:
        raise GanzooError(f"ONNX export of {info['generator_class']} failed ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:160]}); try --format torchscript or safetensors"
                          ) from None
