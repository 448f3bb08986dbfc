"""Export a sentence-transformers model to ONNX once, and find that export again without torch.

An export folder holds ``model.onnx`` (the transformer: token ids in, last hidden
state out), optionally ``model-int8.onnx`` (its weights quantised to 8 bits),
``tokenizer.json`` and ``meta.json`` (the model's fingerprint, pooling, length
limit). Pooling and normalisation run in numpy at query time, so loading an
export needs only ``onnxruntime`` and ``tokenizers``.

Exports are keyed by the model folder's path and its files' sizes and times, so
a model saved over in place gets a fresh export. They live beside the model
(``<model>/.simsearch-onnx/<key>``) when that folder is writable, else in
``$SIMSEARCH_CACHE`` or ``~/.cache/simsearch``; ``$SIMSEARCH_CACHE`` wins when set.

This is our own export rather than sentence-transformers' ONNX backend because that
backend loads through torch; ours keeps torch out of query time (see onnx_encoder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.atomic import publish_folder, replacing, staged_folder
from simsearch.encoders.models import PoolingMode, build_sentence_transformer, model_fingerprint, pooling_of
from simsearch.errors import InvalidArgumentError, MissingDependencyError, fix

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

EXPORT_VERSION = 2
BESIDE_MODEL = ".simsearch-onnx"
META_FILE = "meta.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class NotExportableError(InvalidArgumentError):
    """The model cannot run on the onnx backends (a hub id, other modules, no writable cache); torch can."""


def find_or_export(name: str, source: str, pooling: PoolingMode | None, quantized: bool) -> Path:
    """The export folder for this model (made now if missing), holding the int8 file when asked."""
    model_dir = Path(source)
    if not model_dir.is_dir():
        raise NotExportableError(
            f"the onnx backends export from a local model folder, and {name!r} is not one; "
            f"{fix('model')}, or {fix('backend_torch')}."
        )
    key = export_key(model_dir, pooling)
    folder = find_export(model_dir, key)
    if folder is None:
        folder = publish_export(name, model_dir, key, lambda staging: _write_export(name, source, pooling, staging))
    if quantized and not (folder / INT8_FILE).exists():
        quantize(folder)
    return folder


def read_meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / META_FILE).read_text(encoding="utf-8"))


def export_key(model_dir: Path, pooling: str | None) -> str:
    """Digest of the folder's path and each file's size and mtime: cheap, and changes on any save."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION}|{model_dir.resolve()}|{pooling}".encode())
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir)
        if relative.parts[0] == BESIDE_MODEL or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{relative}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cache_roots(model_dir: Path) -> list[Path]:
    """Where exports are looked for, in order; the first writable one receives new exports."""
    user = os.environ.get("SIMSEARCH_CACHE")
    home = Path(user).expanduser() if user else Path.home() / ".cache" / "simsearch"
    roots = [model_dir / BESIDE_MODEL, home / "onnx"]
    return roots[::-1] if user else roots


def find_export(model_dir: Path, key: str) -> Path | None:
    """The finished export of ``model_dir`` under ``key`` in any cache root, or None."""
    return next((c / key for c in cache_roots(model_dir) if (c / key / META_FILE).exists()), None)


def publish_export(name: str, model_dir: Path, key: str, write: Callable[[Path], None]) -> Path:
    """Run ``write(staging)`` in a fresh folder of the first writable cache root, then publish it as ``key``.

    Shared by the encoders' exports and the re-rankers' (simsearch.query.rerankers): ``write``
    fills the folder (``model.onnx``, ``tokenizer.json``, ``meta.json`` last).
    """
    root = _writable_root(model_dir)
    if root is None:
        raise NotExportableError(
            f"cannot write an ONNX export of {name!r} beside the model or in the user cache; "
            "set SIMSEARCH_CACHE to a writable folder."
        )
    with staged_folder(root, f".{key}.partial-") as staging:
        write(staging)
        publish_folder(staging, root / key, replace=False)  # kept if another process published it first
    return root / key


def _writable_root(model_dir: Path) -> Path | None:
    """The first cache root that exists or can be made, and that this process may write in."""
    for root in cache_roots(model_dir):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK | os.X_OK):
            return root
    return None


def _write_export(name: str, source: str, pooling: PoolingMode | None, folder: Path) -> None:
    """Trace the transformer on CPU in fp32 and save it with its tokenizer and settings."""
    _require("onnx", "onnx")
    model = build_sentence_transformer(name, source, pooling).to("cpu").float().eval()
    modules = [type(module).__name__ for module in model]
    if modules[:2] != ["Transformer", "Pooling"] or any(m not in _SUPPORTED_MODULES for m in modules):
        raise NotExportableError(
            f"model {name!r} has modules {', '.join(modules)}; the onnx backends handle Transformer + Pooling "
            f"(+ Normalize) only; {fix('backend_torch')}."
        )
    mode = pooling_of(model)
    if mode not in ("mean", "cls", "max"):
        raise NotExportableError(
            f"pooling {mode!r} of {name!r} is not supported by the onnx backends; {fix('backend_torch')}."
        )
    transformer = model[0]
    hf_tokenizer = transformer.tokenizer
    sample = hf_tokenizer(["a short one", "a somewhat longer sentence to pad"], padding=True, return_tensors="pt")
    inputs = [n for n in _INPUTS if n in sample]
    log.info("exporting %s to ONNX (once; cached in %s)", name, folder.parent)
    try:
        trace_to_onnx(transformer.auto_model, sample, inputs, "last_hidden_state", folder / FP32_FILE)
    except Exception as exc:  # an architecture the tracer cannot handle: torch still runs it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotExportableError(
            f"model {name!r} could not be exported to ONNX ({first}); {fix('backend_torch')}."
        ) from None
    hf_tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    meta = {
        "name": name,
        "fingerprint": model_fingerprint(model),
        "dimension": int(model.get_embedding_dimension()),
        "pooling": mode,
        "max_seq_length": int(model.max_seq_length),
        "inputs": inputs,
        "pad_token_id": int(hf_tokenizer.pad_token_id or 0),
        "pad_token": str(hf_tokenizer.pad_token or "[PAD]"),
        "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
        "export_version": EXPORT_VERSION,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def quantize(folder: Path) -> None:
    """Dynamic int8 quantisation of the weights: ~2x faster than fp32 ONNX on CPU, scores move by ~0.01."""
    _require("onnxruntime", "onnxruntime")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_hide_preprocessing_advice)  # onnxruntime logs it on the root logger: not news to a user
    try:
        # The temporary name carries the process id: two first users of onnx-int8 (CLI and UI) may quantise at once.
        with replacing(folder / INT8_FILE) as temporary:
            # MatMul weights only: quantising the embedding Gather too was slower on AVX2 and no more accurate.
            quantize_dynamic(
                str(folder / FP32_FILE),
                str(temporary),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot write the int8 model in {str(folder)!r} ({error.strerror}); "
            "set SIMSEARCH_CACHE to a writable folder."
        ) from None
    finally:
        root.removeFilter(_hide_preprocessing_advice)


def _hide_preprocessing_advice(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


def trace_to_onnx(model: Any, sample: Any, inputs: list[str], output: str, path: Path, per_token: bool = True) -> None:
    """Trace a transformers ``model`` on CPU with the tokenizer's ``sample`` batch and save the graph.

    The graph takes the named ``inputs`` (batch and token axes dynamic) and returns the
    model output field ``output``: ``last_hidden_state`` for encoders (``per_token``), ``logits``
    for re-rankers (one row per pair).
    """
    import torch

    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")  # traces the padding mask as plain tensor ops
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes the dynamic axes already cover
        torch.onnx.export(
            _one_output(model, inputs, output),
            tuple(sample[n] for n in inputs),
            str(path),
            input_names=inputs,
            output_names=[output],
            opset_version=17,
            dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in inputs}
            | {output: {0: "batch", 1: "tokens"} if per_token else {0: "batch"}},
        )


def _one_output(model, inputs: list[str], output: str) -> torch.nn.Module:
    """The model wrapped so the traced graph takes named tensors and returns one output field."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return getattr(self.model(**dict(zip(inputs, tensors))), output)

    return Wrapper().eval()


def _require(module: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise MissingDependencyError(
            f"the onnx backends need {package}; pip install {package}, or {fix('backend_torch')}."
        ) from None
