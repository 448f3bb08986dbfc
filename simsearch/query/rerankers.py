"""Re-rankers on disk: telling a cross-encoder folder apart, exporting and loading it, choosing one per search.

A cross-encoder folder is a sentence-transformers ``CrossEncoder`` (told apart from a
bi-encoder by ``config_sentence_transformers.json`` or a ``...ForSequenceClassification``
config with one output). It is exported to ONNX once (simsearch.encoders.onnx_export, cached
beside the model and keyed by its files) and loaded once per process and folder contents, with
the bi-encoder of its blend (simsearch.query.blend) when training recorded one.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from simsearch.encoders.onnx_export import (
    FP32_FILE,
    INT8_FILE,
    META_FILE,
    TOKENIZER_FILE,
    export_key,
    find_export,
    publish_export,
    quantize,
    trace_to_onnx,
)
from simsearch.errors import InvalidArgumentError, fix
from simsearch.query.blend import read_blend
from simsearch.query.pair_scoring import Reranker

log = logging.getLogger(__name__)

_CROSS_EXPORT = "cross-encoder"  # part of the export key: never mistaken for a bi-encoder export of the folder


def _fix_for(role: str) -> str:
    return fix("rerank") if role == "rerank" else fix("augment")


def is_cross_encoder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a cross-encoder (one score per pair)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return False
    settings = _json(folder / "config_sentence_transformers.json")
    if settings.get("model_type") == "CrossEncoder":
        return True
    config = _json(folder / "config.json")
    architectures = config.get("architectures") or []
    classifier = any(str(name).endswith("ForSequenceClassification") for name in architectures)
    return classifier and not (folder / "modules.json").exists()


def check_cross_encoder(path: str | Path, role: str = "rerank") -> Path:
    """The resolved folder when ``path`` is a cross-encoder with one output; else one line saying what it is,
    with the fix for the argument it came in (``role``: rerank or augment)."""
    folder = Path(path).expanduser()
    shown = str(path)
    if not folder.exists():
        raise InvalidArgumentError(f"cross-encoder {shown!r} does not exist; {_fix_for(role)}.")
    if not folder.is_dir() or not (folder / "config.json").is_file():
        raise InvalidArgumentError(f"cross-encoder {shown!r} is not a model folder (no config.json); {_fix_for(role)}.")
    if not is_cross_encoder(folder):
        raise InvalidArgumentError(
            f"{shown!r} is a bi-encoder (it embeds each text alone, for the first stage), not a cross-encoder "
            f"that reads the query and a text together; {_fix_for(role)}."
        )
    outputs = len(_json(folder / "config.json").get("id2label") or {"0": ""})
    if outputs != 1:
        raise InvalidArgumentError(
            f"cross-encoder {shown!r} has {outputs} outputs (a classifier); a re-ranker "
            f"gives one score per pair; {_fix_for(role)}."
        )
    return folder.resolve()


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def choose_reranker(rerank: str | Path | Reranker | bool | None, default: str | None) -> Reranker | None:
    """The re-ranker a search uses: ``rerank`` itself, none for False, the index's ``default`` for None."""
    if rerank is False or (rerank is None and default is None):
        return None
    if rerank is True:
        if default is None:
            raise InvalidArgumentError(f"this index records no default re-ranker; {fix('rerank')}.")
        rerank = default
    return load_reranker(default if rerank is None else rerank)  # type: ignore[arg-type]


def load_reranker(rerank: str | Path | Reranker, quantized: bool = True) -> Reranker:
    """A loaded Reranker for a cross-encoder folder (cached per process and folder contents), or ``rerank`` itself.

    ``quantized``: int8 weights (the default), less CPU than fp32; on STS-B dev the trained re-ranker's
    Spearman moved from 86.05 to 85.90 alone and from 89.51 to 89.49 blended (README, "Re-ranking").
    fp32 gives torch's scores within 1e-5.
    """
    if isinstance(rerank, Reranker):
        return rerank
    folder = check_cross_encoder(rerank)
    return _load_cached(str(folder), export_key(folder, _CROSS_EXPORT), quantized)


@lru_cache(maxsize=4)
def _load_cached(folder: str, key: str, quantized: bool) -> Reranker:
    model_dir = Path(folder)
    export = find_export(model_dir, key) or publish_export(
        folder, model_dir, key, lambda staging: _write_export(model_dir, staging)
    )
    if quantized and not (export / INT8_FILE).exists():
        quantize(export)
    blend = read_blend(model_dir)
    encoder = None
    if blend.active:
        from simsearch.encoders import load_encoder

        encoder = load_encoder(blend.model, backend="onnx")
    log.info("loaded re-ranker %s with ONNX Runtime from %s", folder, export)
    return Reranker(model_dir, export, blend, encoder, quantized)


def _write_export(model_dir: Path, staging: Path) -> None:
    """Trace the cross-encoder's transformer (token ids in, one logit out) on CPU in fp32, with its tokenizer."""
    from sentence_transformers import CrossEncoder
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = CrossEncoder(str(model_dir), device="cpu")
    activation = type(model.activation_fn).__name__.lower()
    if activation not in ("sigmoid", "identity"):
        raise InvalidArgumentError(
            f"cross-encoder {str(model_dir)!r} ends in {activation}; "
            f"re-ranking handles sigmoid or identity outputs; {fix('rerank')}."
        )
    tokenizer = model.tokenizer
    sample = tokenizer(
        [["a query", "a short text"], ["another query", "a somewhat longer text to pad"]],
        padding=True,
        return_tensors="pt",
    )
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    log.info("exporting cross-encoder %s to ONNX (once; cached in %s)", model_dir, staging.parent)
    trace_to_onnx(model.model.float().eval(), sample, inputs, "logits", staging / FP32_FILE, per_token=False)
    tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
    meta = {
        "name": str(model_dir),
        "max_seq_length": int(model.max_length),
        "inputs": inputs,
        "activation": activation,
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
    }
    (staging / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
