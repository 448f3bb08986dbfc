"""Commands that measure models and indexes: eval sts, retrieval, paraphrase and longtext."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from simsearch.cli.common import (
    AsJson,
    Backend,
    BatchSize,
    ChunkOverlap,
    ChunkTokens,
    IndexDir,
    Mode,
    Model,
    Pooling,
    Rerank,
    RerankDepth,
    chunking_flags,
    eval_app,
)
from simsearch.errors import InputError


def print_metrics(name: str, count: int, metrics: dict[str, float], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"model": name, "count": count, **metrics}))
        return
    typer.echo(f"{name} ({count} evaluated)")
    for metric, value in metrics.items():
        typer.echo(f"{metric:>12}  {value:.2f}")


@eval_app.command("sts")
def eval_sts(
    file: Annotated[Path, typer.Argument(help="sentence1,sentence2,score file (.csv, .jsonl, .parquet).")],
    model: Model = None,
    pooling: Pooling = None,
    as_json: AsJson = False,
    batch_size: BatchSize = 64,
    backend: Backend = None,
) -> None:
    """Spearman and Pearson (x100) of cosine similarity, or of a cross-encoder's score, against the gold scores."""
    from simsearch.encoders import load_encoder
    from simsearch.query import is_cross_encoder
    from simsearch.training.pair_metrics import sts_metrics
    from simsearch.training.pairs import read_pairs

    pairs = read_pairs(file)
    if model is not None and is_cross_encoder(model):
        _eval_sts_cross(model, pooling, pairs, as_json)
        return
    encoder = load_encoder(model, pooling, backend or "torch")
    print_metrics(encoder.name, len(pairs), sts_metrics(encoder, pairs, batch_size), as_json)


def _eval_sts_cross(model: str, pooling: str | None, pairs, as_json: bool) -> None:
    """``eval sts`` with a cross-encoder: its (blended) pair scores, the ones `--rerank` ranks by."""
    from simsearch.query import load_reranker
    from simsearch.training.pair_metrics import correlation_metrics

    if pooling is not None:
        raise InputError("--pooling does not apply to a cross-encoder: it scores the pair, it pools no vectors.")
    if pairs.format != "scored":
        raise InputError(f"{pairs.source} has no score column; STS evaluation needs sentence1,sentence2,score.")
    reranker = load_reranker(model)
    scores = reranker.pair_scores(pairs.texts["sentence1"], pairs.texts["sentence2"])
    print_metrics(reranker.name, len(pairs), correlation_metrics(scores, pairs), as_json)


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option("--corpus", help="BEIR corpus.jsonl (_id, title, text).")],
    queries: Annotated[Path, typer.Option("--queries", help="BEIR queries.jsonl (_id, text).")],
    qrels: Annotated[Path, typer.Option("--qrels", help="BEIR qrels .tsv (query-id, corpus-id, score).")],
    model: Model = None,
    pooling: Pooling = None,
    index: Annotated[str | None, typer.Option("--index", help="Search this index instead of a model.")] = None,
    as_json: AsJson = False,
    batch_size: BatchSize = 64,
    index_dir: IndexDir = None,
    mode: Mode = "hybrid",
    backend: Backend = None,
    chunk_tokens: ChunkTokens = None,
    chunk_overlap: ChunkOverlap = None,
    rerank: Rerank = None,
    rerank_depth: RerankDepth = None,
) -> None:
    """nDCG@10, MRR@10, Recall@1/10/100 and MAP@100 (x100): exact search with a model, or an index.

    With --rerank the ranking is the re-ranked first --rerank-depth hits (50), so @100 figures see that many."""
    from simsearch.query.checks import check_mode
    from simsearch.training.retrieval_metrics import (
        index_retrieval_metrics,
        lexical_retrieval_metrics,
        mode_retrieval_metrics,
    )
    from simsearch.training.retrieval_sets import read_beir

    if index is not None and (model is not None or pooling is not None):
        raise InputError("give --model or --index, not both: an index searches with its own model.")
    if index is not None and (chunk_tokens is not None or chunk_overlap is not None):
        raise InputError(
            "--chunk-tokens and --chunk-overlap apply to a model's evaluation; an index keeps the "
            "windows it was built with (`simsearch rebuild NAME --chunk-tokens N` changes them)."
        )
    mode = check_mode(mode)
    data = read_beir(corpus, queries, qrels)
    reranker = _reranker(rerank, rerank_depth)
    if index is not None:
        from simsearch import Index

        opened = Index.open(index, index_dir=index_dir, backend=backend)
        name, metrics = (
            f"index {index}",
            index_retrieval_metrics(opened, data, batch_size, mode, rerank=reranker, rerank_depth=rerank_depth),
        )
    elif mode == "lexical" and reranker is None:  # BM25 reads words: no model to load, no corpus to encode
        name, metrics = "BM25 (lexical mode, no model)", lexical_retrieval_metrics(data)
    else:
        from simsearch.encoders import load_encoder

        encoder = load_encoder(model, pooling, backend or "torch")
        chunking = chunking_flags(chunk_tokens, chunk_overlap)
        name, metrics = (
            encoder.name,
            mode_retrieval_metrics(
                encoder, data, mode, batch_size, chunking, rerank=reranker, rerank_depth=rerank_depth
            ),
        )
    if reranker is not None:
        name += f" re-ranked by {reranker.name}"
    print_metrics(name, len(data.qrels), metrics, as_json)


@eval_app.command("paraphrase")
def eval_paraphrase(
    files: Annotated[list[Path], typer.Argument(help="STS-style pair files; their sentences form the corpus.")],
    model: Model = None,
    pooling: Pooling = None,
    as_json: AsJson = False,
    batch_size: BatchSize = 64,
    mode: Mode = "hybrid",
    backend: Backend = None,
    rerank: Rerank = None,
    rerank_depth: RerankDepth = None,
) -> None:
    """Retrieval built from pairs: each sentence1 scored >= 4 must find its sentence2 among all sentences."""
    from simsearch.encoders import load_encoder
    from simsearch.query.checks import check_mode
    from simsearch.training.retrieval_metrics import mode_retrieval_metrics
    from simsearch.training.retrieval_sets import paraphrase_retrieval_set

    mode = check_mode(mode)
    data = paraphrase_retrieval_set(files)
    reranker = _reranker(rerank, rerank_depth)
    encoder = load_encoder(model, pooling, backend or "torch")
    metrics = mode_retrieval_metrics(encoder, data, mode, batch_size, rerank=reranker, rerank_depth=rerank_depth)
    name = encoder.name + (f" re-ranked by {reranker.name}" if reranker is not None else "")
    print_metrics(name, len(data.qrels), metrics, as_json)


def _reranker(rerank: str | None, rerank_depth: int | None):
    """The --rerank folder loaded (a bad one fails here, before any encoding); --rerank-depth alone is refused."""
    from simsearch.query import load_reranker

    if rerank is None or rerank == "none":
        if rerank_depth is not None:
            raise InputError("--rerank-depth needs a re-ranker; pass --rerank with a cross-encoder folder.")
        return None
    return load_reranker(rerank)


@eval_app.command("longtext")
def eval_longtext(
    pairs: Annotated[Path, typer.Option("--pairs", help="STS-style scored pairs; those scored >= 4 are planted.")],
    sentences: Annotated[
        Path,
        typer.Option(
            "--sentences",
            help="Wikipedia sentences (.tsv.gz: id, page_id, "
            "title, sentence), e.g. ../shared/data/wikipedia_sentences.",
        ),
    ],
    documents: Annotated[int, typer.Option(min=1, help="Long documents in the corpus.")] = 600,
    queries: Annotated[int | None, typer.Option(min=1, help="Plant at most this many pairs.  [default: all]")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every random choice: the same seed gives the same set.")] = 0,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write", help="Also write the set as BEIR files into this folder (for `eval retrieval` or `build`)."
        ),
    ] = None,
    model: Model = None,
    pooling: Pooling = None,
    as_json: AsJson = False,
    batch_size: BatchSize = 64,
    mode: Mode = "hybrid",
    chunk_tokens: ChunkTokens = None,
    chunk_overlap: ChunkOverlap = None,
) -> None:
    """Retrieval in long texts: each pair's partner must find the long document its sentence was planted in."""
    from simsearch.encoders import load_encoder
    from simsearch.query.checks import check_mode
    from simsearch.training.longtext import longtext_retrieval_set, write_beir
    from simsearch.training.retrieval_metrics import mode_retrieval_metrics

    mode = check_mode(mode)
    data = longtext_retrieval_set(pairs, sentences, documents, queries, seed).data
    encoder = load_encoder(model, pooling)
    if write is not None:
        write_beir(data, write)
    metrics = mode_retrieval_metrics(encoder, data, mode, batch_size, chunking_flags(chunk_tokens, chunk_overlap))
    print_metrics(encoder.name, len(data.qrels), metrics, as_json)
