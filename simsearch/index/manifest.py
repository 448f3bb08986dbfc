"""manifest.json: what an index is (model, kind, parameters) and when it was built.

Plain JSON, versioned, so a newer simsearch can read an older index and an older
one refuses a newer index instead of misreading it. The manifest also names the
model that made the vectors, so an index loads that model and refuses any other.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simsearch.atomic import write_text
from simsearch.errors import CorruptIndexError, FormatVersionError, ModelMismatchError

if TYPE_CHECKING:
    from simsearch.encoders import Backend, Encoder, PoolingMode
    from simsearch.vectors import IndexKind

FORMAT_VERSION = 3  # 2: chunk_tokens and chunk_overlap (format 1 manifests read as not chunked); 3: the columns
MANIFEST_FILE = "manifest.json"


@dataclass
class Manifest:
    """Everything needed to reopen, check and describe an index."""

    name: str
    model: dict[str, Any]
    kind: IndexKind  # read back unchecked; load_vector_index refuses an unknown one
    params: dict[str, Any]
    count: int
    build_id: str
    created_at: float = field(default_factory=time.time)
    built_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    build_seconds: float = 0.0
    encoder_backend: Backend = "torch"
    chunk_tokens: int | None = None  # long-text windows (ingest.chunking); 0: off; None: built before chunking
    chunk_overlap: int | None = None
    simsearch_version: str = ""
    format_version: int = FORMAT_VERSION
    reranker: str | None = None  # a cross-encoder folder every search re-ranks with unless told not to
    text_column: str | None = None  # the columns the build read (None: not recorded), for `add` to read the same
    id_column: str | None = None

    @property
    def dimension(self) -> int:
        return int(self.model["dimension"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptIndexError(f"{path} is missing; rebuild the index or drop it.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptIndexError(f"{path} is not valid JSON ({exc}); rebuild the index or drop it.") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise CorruptIndexError(f"{path} has no format_version; rebuild the index or drop it.")
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"index {folder.name!r} uses format version {version}, newer than this simsearch reads "
            f"({FORMAT_VERSION}); upgrade simsearch (pip install -U simsearch)."
        )
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise CorruptIndexError(f"{path} has unexpected fields ({exc}); rebuild the index.") from None


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically, so a reader never sees half of one."""
    write_text(folder / MANIFEST_FILE, json.dumps(manifest.to_dict(), indent=2, sort_keys=True))


def check_encoder(manifest: Manifest, encoder: Encoder) -> Encoder:
    """``encoder`` if it makes the vectors this index holds (same weights, same dimension), else refused."""
    expected = manifest.model
    if (encoder.info.fingerprint, encoder.info.dimension) != (expected["fingerprint"], expected["dimension"]):
        raise ModelMismatchError(
            f"index {manifest.name!r} was built with model {expected['name']!r} "
            f"(fingerprint {expected['fingerprint']}, dimension {expected['dimension']}), but "
            f"{encoder.name!r} differs (fingerprint {encoder.info.fingerprint}, dimension "
            f"{encoder.info.dimension}); open it without a model, or rebuild it with the new one."
        )
    return encoder


def load_own_encoder(manifest: Manifest, backend: Backend | None = None) -> Encoder:
    """Load the model the index was built with, run by ``backend``.

    By default queries run on the model's fp32 ONNX export whatever backend built the
    index (same vectors within 1e-5, and no torch import, so a new process answers fast),
    or on torch when the model cannot be exported (see ``load_query_encoder``).
    """
    from simsearch.encoders import load_encoder, load_query_encoder

    model = manifest.model
    if backend is None:
        return load_query_encoder(model["name"], pooling_to_reload(model))
    return load_encoder(model["name"], pooling_to_reload(model), backend)


def prepare_own_encoder(model: dict[str, Any]) -> None:
    """Export the model of a new build (``Manifest.model``) for queries now, so its first search is fast."""
    from simsearch.encoders import prepare_query_encoder

    prepare_query_encoder(model["name"], pooling_to_reload(model))


def pooling_to_reload(model: dict[str, Any]) -> PoolingMode | None:
    """A plain checkpoint needs its pooling again; a sentence-transformers folder carries its own."""
    path = Path(model["name"])
    if path.is_dir() and not (path / "modules.json").exists() and model["pooling"] in ("mean", "cls", "max"):
        return model["pooling"]
    return None
