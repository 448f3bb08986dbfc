"""Where a build's heavy work runs: this process (``local``) or a Ray cluster (``ray``).

A build has two costly steps, encoding the texts and filling the vector index; building.py
hands both to a ``BuildEngine`` and does everything else (store, manifest, atomic publish)
itself, so an engine cannot change what an index holds, only where the work is done. The
Ray engine lives in simsearch.index.distributed and is imported only when asked for: the default
install and the CLI's cold start never import ray.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal, Protocol, get_args

import numpy as np

from simsearch.errors import InvalidArgumentError, fix
from simsearch.progress import ProgressCallback

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.vectors import VectorIndex

EngineName = Literal["local", "ray"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)


class BuildEngine(Protocol):
    """Encodes a build's texts and fills its vector index; must give what a local build gives."""

    def encode_texts(
        self, encoder: Encoder, texts: Sequence[str], batch_size: int, on_progress: ProgressCallback | None
    ) -> np.ndarray:
        """Unit float32 vectors, one row per text, in the order of ``texts``."""

    def fill_index(self, vectors: VectorIndex, embeddings: np.ndarray, ids: np.ndarray) -> None:
        """Train (where the kind needs it) and fill the empty ``vectors`` with ``embeddings`` under ``ids``."""


class LocalEngine:
    """Everything in this process: the encoder's own batches, then one ``build`` of the index."""

    def encode_texts(
        self, encoder: Encoder, texts: Sequence[str], batch_size: int, on_progress: ProgressCallback | None
    ) -> np.ndarray:
        return encoder.encode(texts, batch_size, on_progress=on_progress)

    def fill_index(self, vectors: VectorIndex, embeddings: np.ndarray, ids: np.ndarray) -> None:
        vectors.build(embeddings, ids)


@contextmanager
def build_engine(
    name: str = "local",
    *,
    ray_address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
) -> Iterator[BuildEngine]:
    """The engine called ``name``, ready for the length of the ``with`` block.

    ``ray`` connects to the cluster at ``ray_address`` ("auto", "ray://host:10001"), or
    without one starts a local Ray on this machine's cores, and shuts it down afterwards.
    ``workers`` (encoder actors) and ``gpus_per_worker`` apply to ``ray`` only.
    """
    if name not in ENGINES:
        raise InvalidArgumentError(f"unknown build engine {name!r}; valid: {', '.join(ENGINES)}.")
    if name == "local":
        if (ray_address, workers, gpus_per_worker) != (None, None, None):
            raise InvalidArgumentError(
                f"a Ray address, workers and GPUs per worker apply to the ray engine only; "
                f"{fix('engine_ray')}, or leave them out."
            )
        yield LocalEngine()
        return
    from simsearch.index.distributed import ray_engine

    with ray_engine(ray_address, workers, gpus_per_worker) as engine:
        yield engine
