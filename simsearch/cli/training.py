"""Commands that fine-tune a model and measure models and indexes: train and eval sts|retrieval|paraphrase|longtext."""

from __future__ import annotations

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
    Quiet,
    Rerank,
    RerankDepth,
    app,
    chunking_flags,
    eval_app,
    print_metrics,
    say,
)
from simsearch.encoders import PoolingMode
from simsearch.errors import InputError
from simsearch.extras import require_extra


@app.command()
def train(
    pairs: Annotated[Path, typer.Option("--pairs", help="Pairs: sentence1,sentence2,label|score or anchor,positive.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the trained model (must not exist).")],
    base: Annotated[str | None, typer.Option(help="Model to start from: default, a model folder or a BERT.")] = None,
    loss: Annotated[
        str | None,
        typer.Option(
            help="contrastive, online-contrastive, mnrl or cosent (bce or mse with --cross-encoder).  "
            "[default: chosen from the columns]"
        ),
    ] = None,
    pooling: Pooling = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Passes over the pairs.  [default: per layout]")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=2, help="Pairs per step.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate.")] = None,
    eval: Annotated[
        Path | None, typer.Option("--eval", help="Pairs to evaluate on after each epoch; the best epoch is kept.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (shuffling, dropout).")] = 42,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    cross_encoder: Annotated[
        bool,
        typer.Option(
            "--cross-encoder",
            help="Train a re-ranker (query and text read together; loss bce or mse) for `search --rerank DIR`.",
        ),
    ] = False,
    blend_model: Annotated[
        str,
        typer.Option(
            "--blend-model",
            help="With --cross-encoder and --eval: bi-encoder whose cosine is blended in, "
            "weight chosen on --eval; 'none' for no blend.",
        ),
    ] = "default",
    layers: Annotated[
        int | None,
        typer.Option("--layers", help="With --cross-encoder: keep only the base's first N layers (faster re-ranking)."),
    ] = None,
    augment: Annotated[
        str,
        typer.Option(
            help="Scored pairs: add pairs of nearest training sentences scored by a cross-encoder: 'auto' trains "
            "one on your pairs first (about 3x the time in all), a cross-encoder folder is used as it is, "
            "'none' trains on your pairs alone."
        ),
    ] = "none",
    quiet: Quiet = False,
) -> None:
    """Fine-tune the Siamese BERT on your pairs (use it with `build/rebuild --model DIR`), or a cross-encoder."""
    require_extra("train", "simsearch train")
    from simsearch.progress import progress_wanted
    from simsearch.training.bi_encoder import check_loss, train_model

    if cross_encoder:
        if augment != "none":
            raise InputError("--augment applies to the bi-encoder; drop it with --cross-encoder.")
        _train_cross(
            pairs,
            output,
            base,
            loss,
            pooling,
            epochs,
            batch_size,
            lr,
            eval,
            blend_model,
            layers,
            seed,
            overwrite,
            quiet,
        )
        return
    if layers is not None:
        raise InputError("--layers applies to --cross-encoder; a bi-encoder keeps its base's layers.")
    result = train_model(
        pairs,
        output,
        base=base,
        loss=check_loss(loss) if loss is not None else None,
        pooling=pooling,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        eval_pairs=eval,
        augment=augment,
        seed=seed,
        overwrite=overwrite,
        progress=progress_wanted(quiet),
        say=lambda line: say(line, quiet),
    )
    kept = f"epoch {result.best_epoch}"
    if result.selection_metric:
        kept += f", {result.selection_metric} {result.best_metrics[result.selection_metric]:.2f}"
    say(f"saved {result.output} ({kept}; {result.wall_seconds:.0f} s); report in training.json", quiet)


def _train_cross(
    pairs: Path,
    output: Path,
    base: str | None,
    loss: str | None,
    pooling: PoolingMode | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    eval: Path | None,
    blend_model: str,
    layers: int | None,
    seed: int,
    overwrite: bool,
    quiet: bool,
) -> None:
    from simsearch.progress import progress_wanted
    from simsearch.training.cross_encoder import check_cross_loss, train_cross_encoder

    if pooling is not None:
        raise InputError("--pooling does not apply to --cross-encoder: it scores the pair, it pools no vectors.")
    result = train_cross_encoder(
        pairs,
        output,
        base=base,
        loss=check_cross_loss(loss or "bce"),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        eval_pairs=eval,
        seed=seed,
        overwrite=overwrite,
        blend_model=None if blend_model == "none" else blend_model,
        layers=layers,
        progress=progress_wanted(quiet),
        say=lambda line: say(line, quiet),
    )
    kept = f"epoch {result.best_epoch}"
    if result.selection_metric:
        kept += f", {result.selection_metric} {result.best_metrics[result.selection_metric]:.2f}"
    say(
        f"saved cross-encoder {result.output} ({kept}; {result.wall_seconds:.0f} s); report in training.json; "
        f"re-rank with `simsearch search NAME QUERY --rerank {result.output}`",
        quiet,
    )


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
    from simsearch.training.evaluate import sts_metrics
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
    from simsearch.training.evaluate import correlation_metrics

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
    from simsearch.training.evaluate import (
        index_retrieval_metrics,
        lexical_retrieval_metrics,
        mode_retrieval_metrics,
        read_beir,
    )

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
    from simsearch.training.evaluate import mode_retrieval_metrics, paraphrase_retrieval_set

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
    from simsearch.training.evaluate import mode_retrieval_metrics
    from simsearch.training.longtext import longtext_retrieval_set, write_beir

    mode = check_mode(mode)
    data = longtext_retrieval_set(pairs, sentences, documents, queries, seed).data
    encoder = load_encoder(model, pooling)
    if write is not None:
        write_beir(data, write)
    metrics = mode_retrieval_metrics(encoder, data, mode, batch_size, chunking_flags(chunk_tokens, chunk_overlap))
    print_metrics(encoder.name, len(data.qrels), metrics, as_json)
