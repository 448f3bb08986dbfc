"""What an opened index says about itself: its manifest with live figures, and a key that moves with every commit."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

from simsearch.index.generations import Generation
from simsearch.index.layout import folder_size
from simsearch.index.opening import OpenedBuild


def index_info(build: OpenedBuild, generation: Generation) -> dict[str, Any]:
    """The manifest, the documents now, bytes on disk, the folder, the segments' figures, the last compaction."""
    compacted_at = build.store.meta("compacted_at")
    return {
        **build.manifest.to_dict(),
        "count": build.store.count(),
        "size_bytes": folder_size(build.folder),
        "path": str(build.folder),
        **generation.vectors.figures(),
        "compacted_at": float(compacted_at) if compacted_at else None,
    }


def version_key(build: OpenedBuild) -> tuple:
    """The build, its last metadata change and the store's write position: equal only if nothing was committed."""
    return (build.manifest.build_id, build.manifest.updated_at, *astuple(build.store.write_position()))
