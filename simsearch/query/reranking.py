"""Re-ranking: a cross-encoder reads the query and each candidate together and scores the pair.

A bi-encoder embeds every text alone, which is what makes the first stage fast; a
cross-encoder (BERT over ``[CLS] query [SEP] text [SEP]``) sees both at once and orders
near-ties better, but costs a forward pass per pair, so it only re-scores the first
stage's best few dozen candidates.

A cross-encoder folder is a sentence-transformers ``CrossEncoder`` (told apart from a
bi-encoder by ``config_sentence_transformers.json`` or a ``...ForSequenceClassification``
config with one output). Training (simsearch.training.cross_encoder) adds ``simsearch-cross-encoder.json``
recording the *blend*: the final score is ``(1 - weight) * p + weight * cosine``, p the
cross-encoder's probability and cosine that of a bi-encoder's vectors, with the weight
chosen on the evaluation pairs. ``eval sts``, ``--rerank`` and the server all score
through ``Reranker.pair_scores``, so they agree.

The cross-encoder runs in ONNX Runtime like the encoders (simsearch.encoders.onnx_export:
exported with torch once, cached beside the model and keyed by its files), so a search
process re-ranks without importing torch.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.encoders.onnx_export import (
    FP32_FILE,
    INT8_FILE,
    META_FILE,
    TOKENIZER_FILE,
    export_key,
    find_export,
    publish_export,
    quantize,
    read_meta,
    trace_to_onnx,
)
from simsearch.errors import InvalidArgumentError, fix

if TYPE_CHECKING:
    from simsearch.encoders import Encoder

log = logging.getLogger(__name__)

SETTINGS_FILE = "simsearch-cross-encoder.json"
RERANK_DEPTH = 50  # first-stage candidates re-scored per query (never fewer than k)
BATCH_SIZE = 16  # pairs per forward pass; pairs are sorted by length first, so little padding
VECTOR_CACHE = 20_000  # blend vectors kept per re-ranker (384 floats each: ~30 MB for the default model)
_CROSS_EXPORT = "cross-encoder"  # part of the export key: never mistaken for a bi-encoder export of the folder


@dataclass(frozen=True)
class Blend:
    """How the cross-encoder's probability p is mixed with a bi-encoder's cosine: ``(1 - weight) * p + weight * cos``.

    ``model`` names the bi-encoder (as ``load_encoder`` takes it); weight 0 or no model: p alone.
    """

    model: str | None = None
    weight: float = 0.0

    @property
    def active(self) -> bool:
        return self.model is not None and self.weight > 0


def blended(probabilities: np.ndarray, cosines: np.ndarray | None, blend: Blend) -> np.ndarray:
    """The final pair score; the one formula training's weight search and every scorer use."""
    if cosines is None or not blend.active:
        return probabilities
    return (1 - blend.weight) * probabilities + blend.weight * cosines


def write_settings(folder: Path, blend: Blend, details: dict[str, Any]) -> None:
    """Record the blend (and how it was chosen, in ``details``) beside the trained weights."""
    (folder / SETTINGS_FILE).write_text(json.dumps({"blend": asdict(blend), **details}, indent=2), encoding="utf-8")


def read_blend(folder: Path) -> Blend:
    """The recorded blend; a cross-encoder trained elsewhere has none (its probability alone)."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return Blend()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["blend"]
        return Blend(data.get("model"), float(data.get("weight", 0.0)))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgumentError(
            f"{path} is not a valid re-ranker settings file; "
            "train the cross-encoder again, or delete the file to use it unblended."
        ) from None


# --- telling a cross-encoder folder apart ------------------------------------------------------
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


# --- the ONNX runtime --------------------------------------------------------------------------
class Reranker:
    """A cross-encoder in ONNX Runtime, plus the bi-encoder of its blend. Thread-safe.

    Scores are comparable across queries: the blended probability (0-1 when unblended).
    """

    def __init__(
        self, folder: Path, export: Path, blend: Blend, blend_encoder: Encoder | None, quantized: bool = True
    ) -> None:
        from simsearch.encoders.onnx_encoder import load_session, load_tokenizer

        self.folder, self.blend = folder, blend
        self._meta = read_meta(export)
        self._lock = threading.Lock()
        self._tokenizer = load_tokenizer(export / TOKENIZER_FILE, self._meta)
        self._tokenizer.no_padding()  # each batch is padded to its own longest pair in _run
        self.quantized = quantized
        # int8 runs one pair at a time on one thread each, the runs side by side (_each_alone); fp32 batches
        # use every core for each batch
        self._session = load_session(export / (INT8_FILE if quantized else FP32_FILE), threads=1 if quantized else 0)
        self._blend_encoder = blend_encoder
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # the blend's text vectors, most recent last

    @property
    def name(self) -> str:
        return str(self.folder)

    def rerank_scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text for this query, higher is better."""
        return self.pair_scores([query] * len(texts), texts)

    def pair_scores(self, firsts: Sequence[str], seconds: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The blended score of each (first, second) pair, in order."""
        probabilities = self.probabilities(firsts, seconds, batch_size)
        cosines = self._cosines(firsts, seconds) if self.blend.active else None
        return blended(probabilities, cosines, self.blend)

    def probabilities(self, firsts: Sequence[str], seconds: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The cross-encoder's own score per pair (its activation applied: sigmoid for one logit), unblended."""
        if len(firsts) != len(seconds):
            raise InvalidArgumentError(f"got {len(firsts)} first texts and {len(seconds)} second texts; pair them up.")
        pairs = list(zip(firsts, seconds))
        with self._lock:  # a Tokenizer's padding/truncation state is shared; sessions are thread-safe
            encoded = self._tokenizer.encode_batch(pairs) if pairs else []
        logits = self._each_alone(encoded) if self.quantized else self._batched(encoded, batch_size)
        return 1 / (1 + np.exp(-logits)) if self._meta["activation"] == "sigmoid" else logits

    def _batched(self, encoded: list, batch_size: int) -> np.ndarray:
        """One logit per pair, fp32 batches of pairs of similar length (little padding)."""
        order = np.argsort([len(e.ids) for e in encoded], kind="stable")
        logits = np.zeros(len(encoded), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            logits[rows] = self._run([encoded[i] for i in rows])
        return logits

    def _each_alone(self, encoded: list) -> np.ndarray:
        """One logit per pair, one pair a run. int8 activations are scaled per run, so a pair batched with
        others could score up to 0.12 apart from alone (STS-B dev); alone, its score is its own. A 40-piece
        pair splits badly across threads, so the runs go side by side, one thread each (50 pairs on 2 cores:
        269 ms one after another, 165 ms side by side; benchmarks/rerank_int8.py)."""
        return np.array(list(_pool().map(lambda item: self._run([item])[0], encoded)), dtype=np.float32)

    def _run(self, encoded: list) -> np.ndarray:
        """One logit per encoded pair: the batch padded to its longest pair and run through the session."""
        width = max(len(e.ids) for e in encoded)
        feeds = {
            "input_ids": np.full((len(encoded), width), self._meta["pad_token_id"], dtype=np.int64),
            "attention_mask": np.zeros((len(encoded), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encoded), width), dtype=np.int64),
        }
        for row, item in enumerate(encoded):
            feeds["input_ids"][row, : len(item.ids)] = item.ids
            feeds["attention_mask"][row, : len(item.ids)] = 1
            feeds["token_type_ids"][row, : len(item.ids)] = item.type_ids
        return self._session.run(None, {name: feeds[name] for name in self._meta["inputs"]})[0][:, 0]

    @property
    def blend_fingerprint(self) -> str | None:
        """The fingerprint of the bi-encoder whose cosines the blend mixes in; None when unblended."""
        return self._blend_encoder.info.fingerprint if self._blend_encoder is not None else None

    def remember(self, texts: Sequence[str], vectors: np.ndarray, fingerprint: str) -> None:
        """Keep vectors a caller already has (a search's query vectors, an index's stored ones) for the blend,
        so those texts are not encoded again; ignored unless ``fingerprint`` is the blend model's own."""
        if fingerprint == self.blend_fingerprint:
            self._keep(texts, vectors)

    def _keep(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors):
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
            while len(self._vectors) > VECTOR_CACHE:
                self._vectors.popitem(last=False)

    def _cosines(self, firsts: Sequence[str], seconds: Sequence[str]) -> np.ndarray:
        """The blend's cosines; texts seen lately (the same documents come back query after query) are not
        encoded again."""
        vectors = self._blend_vectors(list(dict.fromkeys([*firsts, *seconds])))
        return np.array([float(vectors[a] @ vectors[b]) for a, b in zip(firsts, seconds)])

    def _blend_vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {text: self._vectors[text] for text in texts if text in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = [text for text in texts if text not in found]
        if missing:
            found.update(zip(missing, self._blend_encoder.encode(missing)))  # type: ignore[union-attr]
            self._keep(missing, np.stack([found[text] for text in missing]))
        return found


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """One pool for every re-ranker in the process: ONNX Runtime releases the GIL, so runs share the cores."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="simsearch-rerank")


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
