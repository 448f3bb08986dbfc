"""The stores users would otherwise pick, given the same vectors: Chroma, LanceDB and Qdrant's local mode.

Run by benchmarks/writes.py, possibly under another interpreter (``--competitors-python``:
their dependencies may not fit simsearch's environment), so this script needs only numpy
and the stores themselves; a store that does not import is skipped with a line. Each store
is persisted in a folder of its own, loaded with the base vectors and their texts in
batches, then measured as simsearch is: one-document add, upsert and delete (p50/p99, bytes
written per operation from /proc/self/io) and quiet single-query searches (k=10, inner
product). No store encodes anything: vectors are given.

    python benchmarks/writes_competitors.py DATA_DIR OUT.json --ops 200
        DATA_DIR holds base.npy, extra.npy, queries.npy and texts.json (base texts, then extra texts)
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
from measure import time_queries, timed_ops  # benchmarks/measure.py, beside this script

_BATCH = 5000  # rows per load call: below Chroma's maximum batch size
# Qdrant's local mode warns above 20,000 points and loaded 95,000 in 37 minutes here (each point pickled into
# SQLite, on the shared 2-core machine): it is measured on the first 5,000 base vectors, and its row says so.
LARGEST = {"qdrant-local": 5_000}


class Chroma:
    """chromadb.PersistentClient: SQLite log plus an HNSW segment, in this process."""

    def __init__(self, folder: Path, dimension: int) -> None:
        import chromadb

        self.collection = chromadb.PersistentClient(path=str(folder)).create_collection(
            "bench", embedding_function=None, configuration={"hnsw": {"space": "ip"}}
        )

    def add(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
        self.collection.add(ids=ids, embeddings=vectors, documents=texts)

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
        self.collection.upsert(ids=ids, embeddings=vectors, documents=texts)

    def delete(self, ids: list[str]) -> None:
        self.collection.delete(ids=ids)

    def search(self, query: np.ndarray) -> object:
        return self.collection.query(query_embeddings=query[None, :], n_results=10, include=["documents"])


class Lance:
    """lancedb.connect: Lance fragments and deletion files; searched by a full scan (no vector index built)."""

    def __init__(self, folder: Path, dimension: int) -> None:
        import lancedb

        self.db, self.table = lancedb.connect(str(folder)), None

    def _rows(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> list[dict]:
        return [{"id": i, "vector": v.tolist(), "text": t} for i, v, t in zip(ids, vectors, texts)]

    def add(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
        if self.table is None:
            self.table = self.db.create_table("bench", data=self._rows(ids, vectors, texts))
        else:
            self.table.add(self._rows(ids, vectors, texts))

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
        (
            self.table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(self._rows(ids, vectors, texts))
        )

    def delete(self, ids: list[str]) -> None:
        self.table.delete("id IN (" + ", ".join(f"'{i}'" for i in ids) + ")")

    def search(self, query: np.ndarray) -> object:
        return self.table.search(query).metric("dot").limit(10).to_list()


class Qdrant:
    """qdrant_client.QdrantClient(path=...): the local mode (no server), exact search in numpy."""

    def __init__(self, folder: Path, dimension: int) -> None:
        from qdrant_client import QdrantClient, models

        self.models = models
        self.client = QdrantClient(path=str(folder))
        self.client.create_collection(
            "bench", vectors_config=models.VectorParams(size=dimension, distance=models.Distance.DOT)
        )

    def _points(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> list:
        return [
            self.models.PointStruct(id=int(i), vector=v.tolist(), payload={"text": t})
            for i, v, t in zip(ids, vectors, texts)
        ]

    def add(self, ids: list[str], vectors: np.ndarray, texts: list[str]) -> None:
        self.client.upsert("bench", points=self._points(ids, vectors, texts))

    upsert = add  # Qdrant's only write is an upsert

    def delete(self, ids: list[str]) -> None:
        self.client.delete("bench", points_selector=self.models.PointIdsList(points=[int(i) for i in ids]))

    def search(self, query: np.ndarray) -> object:
        return self.client.query_points("bench", query=query.tolist(), limit=10, with_payload=True)


STORES = {"chroma": (Chroma, "chromadb"), "lancedb": (Lance, "lancedb"), "qdrant-local": (Qdrant, "qdrant-client")}


def measure_store(name: str, folder: Path, data: dict, ops: int) -> dict:
    """Load the base in batches, then time one-document writes and quiet searches."""
    base, extra, queries, texts = data["base"], data["extra"], data["queries"], data["texts"]
    n = min(len(base), LARGEST.get(name, len(base)))
    texts = texts[:n] + texts[len(base) :]  # the extra texts follow the base ones
    store = STORES[name][0](folder, base.shape[1])
    started = time.perf_counter()
    for start in range(0, n, _BATCH):
        stop = min(n, start + _BATCH)
        store.add([str(i) for i in range(start, stop)], base[start:stop], texts[start:stop])
    load_seconds = time.perf_counter() - started
    quiet = time_queries(store.search, queries)
    add = timed_ops(lambda i: store.add([str(n + i)], extra[i : i + 1], [texts[n + i]]), ops)
    upsert = timed_ops(lambda i: store.upsert([str(i)], extra[ops + i : ops + i + 1], [texts[n + ops + i]]), ops)
    delete = timed_ops(lambda i: store.delete([str(n - 1 - i)]), ops)
    return {
        "system": name,
        "documents": n,
        "load_s": round(load_seconds, 2),
        "quiet": quiet,
        "add": add,
        "upsert": upsert,
        "delete": delete,
    }


def measured_or_skipped(name: str, folder: Path, data: dict, ops: int) -> dict:
    """The store's figures, or why it was skipped (not importable in this interpreter)."""
    try:
        __import__(STORES[name][1].replace("-", "_"))
    except ImportError as exc:
        print(f"skipped {name}: not importable here ({exc}); pip install {STORES[name][1]}", flush=True)
        return {"system": name, "skipped": f"not installed (pip install {STORES[name][1]})"}
    try:
        figures = measure_store(name, folder / name, data, ops)
    finally:
        shutil.rmtree(folder / name, ignore_errors=True)
    print(f"measured {name}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--stores", nargs="+", default=list(STORES), choices=list(STORES))
    args = parser.parse_args()
    data = {key: np.load(args.data / f"{key}.npy") for key in ("base", "extra", "queries")}
    data["texts"] = json.loads((args.data / "texts.json").read_text(encoding="utf-8"))
    rows = []
    for name in args.stores:
        rows.append(measured_or_skipped(name, args.data, data, args.ops))
        args.out.write_text(json.dumps(rows, indent=2))  # after each store: one that fails later keeps these


if __name__ == "__main__":
    main()
