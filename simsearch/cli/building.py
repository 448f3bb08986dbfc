"""Commands that make an index from scratch: build (from a file) and rebuild (from its own stored texts).

Both encode every text, in this process or on a Ray cluster (--engine ray), and swap the new
build in only when it is complete; their shared options are declared once below.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from simsearch.cli.common import (
    Backend,
    BatchSize,
    ChunkOverlap,
    ChunkTokens,
    IndexDir,
    Model,
    Pooling,
    Quiet,
    TextColumn,
    app,
    chunking_flags,
    loading_model,
    say,
    timing,
)
from simsearch.formatting import count

Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where encoding runs: local (this process) or ray (a Ray cluster; pip install 'simsearch[ray]').",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address", help="auto, HOST:PORT or ray://HOST:10001.  [default: start Ray on this machine's cores]"
    ),
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Ray encoder actors.  [default: one per CPU, or per --gpus-per-worker GPUs]"),
]
GpusPerWorker = Annotated[float | None, typer.Option("--gpus-per-worker", help="GPUs for each Ray encoder actor.")]


@app.command()
def build(
    name: str,
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help=".txt, .csv, .jsonl or .parquet file, or a folder of files of one such type."
        ),
    ],
    text_column: TextColumn = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (optional; else numbered).")] = "id",
    model: Model = None,
    pooling: Pooling = None,
    backend: Backend = None,
    kind: Annotated[str, typer.Option(help="auto, flat, hnsw, ivf, ivfpq or ivfsq.")] = "auto",
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards", help="Split the index over N FAISS files, searched together (any kind).  [default: 1]"
        ),
    ] = None,
    batch_size: BatchSize = 64,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing index of this name.")] = False,
    chunk_tokens: ChunkTokens = None,
    chunk_overlap: ChunkOverlap = None,
    engine: Engine = "local",
    ray_address: RayAddress = None,
    workers: Workers = None,
    gpus_per_worker: GpusPerWorker = None,
    index_dir: IndexDir = None,
    quiet: Quiet = False,
) -> None:
    """Build a new index NAME from a file of texts (or a folder of such files)."""
    from simsearch import Index, load_encoder, read_corpus
    from simsearch.index.building import check_new_index
    from simsearch.index.engines import build_engine
    from simsearch.index.layout import index_home
    from simsearch.progress import progress_wanted, terminal_progress

    started = time.perf_counter()
    index_kind = check_new_index(index_home(index_dir), name, overwrite, kind)  # name, existence, files, columns first:
    corpus = read_corpus(input, text_column, id_column)  # the model takes seconds to load
    chunking = chunking_flags(chunk_tokens, chunk_overlap)
    with build_engine(engine, ray_address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker) as chosen:
        with loading_model(model, quiet) as load:
            encoder = load_encoder(model, pooling, backend or "torch")
        with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
            index = Index.build(
                name,
                corpus,
                encoder=encoder,
                kind=index_kind,
                batch_size=batch_size,
                params=None if shards is None else {"shards": shards},
                index_dir=index_dir,
                overwrite=overwrite,
                on_progress=on_progress,
                engine=chosen,
                chunking=chunking,
            )
    # blank texts skipped are reported by read_corpus's own warning line
    split = f" in {index.manifest.params['shards']} shards" if "shards" in index.manifest.params else ""
    say(
        f"built {name!r}: {count(len(index), 'text')}, kind {index.manifest.kind}{split}, {timing(started, load)}",
        quiet,
    )


@app.command()
def rebuild(
    name: str,
    model: Model = None,
    pooling: Pooling = None,
    backend: Backend = None,
    kind: Annotated[str | None, typer.Option(help="New index kind.  [default: keep the current one]")] = None,
    batch_size: BatchSize = 64,
    chunk_tokens: ChunkTokens = None,
    chunk_overlap: ChunkOverlap = None,
    engine: Engine = "local",
    ray_address: RayAddress = None,
    workers: Workers = None,
    gpus_per_worker: GpusPerWorker = None,
    index_dir: IndexDir = None,
    quiet: Quiet = False,
) -> None:
    """Re-encode the stored texts of NAME (no source file needed) and swap the new index in."""
    from simsearch import Index, load_encoder
    from simsearch.index.engines import build_engine
    from simsearch.progress import progress_wanted, terminal_progress
    from simsearch.vectors import check_kind

    started = time.perf_counter()
    index = Index.open(name, index_dir=index_dir, backend=backend)  # no --model: its own model, maybe new runtime
    with build_engine(engine, ray_address=ray_address, workers=workers, gpus_per_worker=gpus_per_worker) as chosen:
        with loading_model(model or index.manifest.model["name"], quiet) as load:
            if model is not None:
                encoder = load_encoder(model, pooling, backend or index.manifest.encoder_backend)
            else:
                encoder = index.encoder
        with terminal_progress("encoding", progress_wanted(quiet), unit="text") as on_progress:
            new = index.rebuild(
                encoder=encoder,
                kind=check_kind(kind) if kind is not None else None,
                batch_size=batch_size,
                on_progress=on_progress,
                engine=chosen,
                chunking=chunking_flags(chunk_tokens, chunk_overlap),
            )
    say(f"rebuilt {name!r}: {count(len(new), 'text')}, kind {new.manifest.kind}, {timing(started, load)}", quiet)
