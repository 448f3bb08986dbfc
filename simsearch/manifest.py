"""manifest.json: what an index is (model, kind, parameters) and when it was built.

Plain JSON, versioned, so a newer simsearch can read an older index and an older
one refuses a newer index instead of misreading it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simsearch.errors import CorruptIndexError, FormatVersionError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass
class Manifest:
    """Everything needed to reopen, check and describe an index."""

    name: str
    model: dict[str, Any]
    kind: str
    params: dict[str, Any]
    count: int
    build_id: str
    created_at: float = field(default_factory=time.time)
    built_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    build_seconds: float = 0.0
    encoder_backend: str = "torch"
    simsearch_version: str = ""
    format_version: int = FORMAT_VERSION

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
    """Write via a temporary file and rename, so a reader never sees half a manifest."""
    path = folder / MANIFEST_FILE
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest.to_dict(), handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
