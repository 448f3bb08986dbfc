"""The work a Ray build sends out: the encoder actor, the IVF fill task, and reading back what they return.

The Ray engine (distributed.py) hands Ray Data the texts as Arrow blocks of BLOCK_TEXTS texts,
each tagged with its position, and ``EncoderWorker`` actors encode one block per call. The
IVF fill tasks each add one slice of the vectors to a copy of the trained empty index.
Connecting to Ray, sizing the pool and putting the vectors back in order stay with the engine.

An error a worker raised comes back wrapped by Ray, as an object or only as the text of its
traceback; ``worker_failure`` finds the worker's own SimsearchError in either.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch import errors
from simsearch.errors import ModelMismatchError, SimsearchError

if TYPE_CHECKING:
    from simsearch.encoders import Encoder

BLOCK_TEXTS = 1024  # texts per Ray Data block and per actor call: the local encoder's own chunk size
TASK_RETRIES = 3  # re-runs of an IVF fill task whose worker died
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the actor names in its messages


class EncoderWorker:
    """A Ray Data actor: loads the build's model once, then encodes one block of texts per call.

    It refuses to run if the model it loads is not the driver's (same fingerprint): a
    node with other weights at the same path would otherwise write foreign vectors.
    """

    def __init__(self, model: dict[str, Any], batch_size: int) -> None:
        from simsearch.encoders import load_encoder

        self.encoder = load_encoder(model["name"], model["pooling"], model["backend"])
        self.batch_size = batch_size
        if self.encoder.info.fingerprint != model["fingerprint"]:
            raise ModelMismatchError(
                f"the Ray worker on {socket.gethostname()} loaded {model['name']!r} with fingerprint "
                f"{self.encoder.info.fingerprint}, not the driver's {model['fingerprint']}; "
                "give every node the same model files."
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        return {"position": batch["position"], "vector": self.encoder.encode(texts, self.batch_size)}


def worker_failure(error: BaseException) -> SimsearchError:
    """The SimsearchError a worker raised (a model mismatch), else one naming Ray's own failure.

    Ray passes a worker's exception back as an object, or (an actor that died in ``__init__``)
    only as the text of its traceback; both are read, so the user sees the worker's own line.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, SimsearchError):
            return seen
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    text = _ANSI.sub("", str(error))
    raised = re.findall(r"simsearch\.errors\.(\w+): (.+)", text)
    if raised:
        kind = getattr(errors, raised[-1][0], SimsearchError)
        return kind(raised[-1][1]) if issubclass(kind, SimsearchError) else SimsearchError(raised[-1][1])
    first = (text.strip().splitlines() or [type(error).__name__])[0]
    return SimsearchError(f"the Ray build failed ({type(error).__name__}: {first}); the index is unchanged.")


def fill_parts_on_ray(trained: np.ndarray, parts: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Each part added to its own copy of the trained empty index, in Ray tasks; results in the parts' order."""
    import ray

    fill = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(filled_copy)
    trained_ref = ray.put(trained)
    return ray.get([fill.remote(trained_ref, part_vectors, part_ids) for part_vectors, part_ids in parts])


def filled_copy(trained: np.ndarray, vectors: np.ndarray, ids: np.ndarray) -> np.ndarray:
    import faiss

    index = faiss.deserialize_index(trained)
    index.add_with_ids(vectors, ids)
    return faiss.serialize_index(index)


def text_blocks(texts: Sequence[str]) -> list[Any]:
    """Arrow tables of at most BLOCK_TEXTS texts and their positions: Ray Data's blocks, in order."""
    import pyarrow as pa

    return [
        pa.table(
            {
                "position": np.arange(start, min(start + BLOCK_TEXTS, len(texts)), dtype=np.int64),
                "text": pa.array(list(texts[start : start + BLOCK_TEXTS]), type=pa.large_string()),
            }
        )
        for start in range(0, len(texts), BLOCK_TEXTS)
    ]


def model_spec(encoder: Encoder) -> dict[str, Any]:
    """How a worker loads the driver's model: name or path, pooling for plain checkpoints, runtime, fingerprint."""
    from simsearch.index.manifest import pooling_to_reload

    info = encoder.info.to_dict()
    return {
        "name": info["name"],
        "pooling": pooling_to_reload(info),
        "backend": encoder.backend,
        "fingerprint": info["fingerprint"],
    }
