"""Commands that use the model's vectors as data (embed, dedup, cluster) or show how it reads (anatomy, context)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from simsearch.cli.common import AsJson, Backend, BatchSize, IndexDir, Model, Pooling, Quiet, app, loading_model, say
from simsearch.errors import InvalidArgumentError
from simsearch.formatting import count


@app.command()
def embed(
    file: Annotated[Path, typer.Argument(help=".txt, .csv, .jsonl or .parquet file of texts.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help=".npy (vectors only) or .parquet (ids, metadata, vector); --tokens: .parquet."
        ),
    ],
    text_column: Annotated[str, typer.Option(help="Column holding the texts.")] = "text",
    id_column: Annotated[str, typer.Option(help="Column holding ids (optional; else row numbers).")] = "id",
    model: Model = None,
    pooling: Pooling = None,
    backend: Backend = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="One row per word piece instead of one per text.")] = False,
    layers: Annotated[
        str,
        typer.Option(
            help="With --tokens: last, last4-sum, last4-concat or a layer number: 0 is "
            "the static input (token + segment + position embeddings, normalised), "
            "1 and up the contextual layers."
        ),
    ] = "last",
    batch_size: BatchSize = 64,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Quiet = False,
) -> None:
    """Write the model's vectors for the texts of FILE: one unit vector per text, or one vector per word piece."""
    from simsearch import load_encoder, read_corpus
    from simsearch.atomic import check_output
    from simsearch.tools.embedding import SENTENCE_SUFFIXES, embed_documents, embed_tokens

    check_output(output, overwrite, (".parquet",) if tokens else SENTENCE_SUFFIXES)  # before any slow work
    corpus = read_corpus(file, text_column, id_column)
    with loading_model(model, quiet):
        encoder = load_encoder(model, pooling, backend or "torch")
    if tokens:
        done = embed_tokens([doc.text for doc in corpus.documents], output, encoder, layers=layers, overwrite=overwrite)
        what = f"{count(done.rows, 'word piece')} of {count(len(corpus.documents), 'text')}"
    else:
        done = embed_documents(corpus.documents, output, encoder, overwrite=overwrite, batch_size=batch_size)
        what = count(done.rows, "text")
    if done.truncated:
        say(
            f"warning: {count(done.truncated, 'text')} longer than the model's {done.max_tokens} tokens "
            "were cut at that limit",
            quiet,
        )
    say(f"wrote {what}, {done.dimension} dimensions, to {output}", quiet)


@app.command()
def anatomy(
    first: Annotated[str, typer.Argument(help="A sentence (sentence A).")],
    second: Annotated[
        str | None, typer.Argument(help="A second sentence, read together with the first as [CLS] A [SEP] B [SEP].")
    ] = None,
    model: Model = None,
    pooling: Pooling = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """The input BERT builds: per word piece its id, segment, position and the norms of the token, segment and
    position embeddings, of their sum and of the LayerNorm's output (the first layer's input)."""
    from simsearch import load_encoder
    from simsearch.tools.anatomy import input_anatomy

    with loading_model(model, quiet):
        encoder = load_encoder(model, pooling, "torch")
    found = input_anatomy(first, second, encoder)
    if as_json:
        typer.echo(json.dumps({"model": encoder.name, **asdict(found.shape), "pieces": found.rows()}))
        return
    typer.echo(
        f"{'piece':<14}{'id':>6} seg {'pos':>4} {'token':>7} {'segment':>7} {'position':>8} {'sum':>7} {'input':>7}"
    )
    for p in found.pieces:
        typer.echo(
            f"{p.token.text:<14}{p.token.id:>6}   {p.segment} {p.position:>4} {p.token_norm:>7.3f} "
            f"{p.segment_norm:>7.3f} {p.position_norm:>8.3f} {p.summed_norm:>7.3f} {p.input_norm:>7.3f}"
        )
    shape = found.shape
    say(
        f"{encoder.name}: {shape.vocabulary} pieces, {shape.positions} positions, {shape.segments} segments, "
        f"{shape.hidden} dimensions; norms are L2 lengths, 'input' after the LayerNorm",
        quiet,
    )


@app.command()
def context(
    word: Annotated[str, typer.Argument(help="A word that occurs in both sentences.")],
    first: Annotated[str, typer.Argument(help="The first sentence.")],
    second: Annotated[str, typer.Argument(help="The second sentence.")],
    model: Model = None,
    pooling: Pooling = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """How alike WORD's vectors are in two sentences: the static input (token table, embedding layer) against
    the contextual layers, layer by layer."""
    from simsearch import load_encoder
    from simsearch.tools.contextual import word_in_context

    with loading_model(model, quiet):
        encoder = load_encoder(model, pooling, "torch")
    found = word_in_context(word, first, second, encoder)
    if as_json:
        typer.echo(json.dumps({"model": encoder.name, **asdict(found)}))
        return
    typer.echo(f"{found.word!r} as {' '.join(found.pieces)} at positions {found.positions[0]} and {found.positions[1]}")
    typer.echo(f"  token embedding (static)     cosine {found.token_cosine:.3f}")
    last = len(found.layer_cosines) - 1
    for layer, cosine in enumerate(found.layer_cosines):
        name = {0: "embedding layer (input)", last: f"layer {layer} (last)"}.get(layer, f"layer {layer}")
        typer.echo(f"  {name:<28} cosine {cosine:.3f}")


@app.command()
def dedup(
    name: str,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Lowest cosine for a pair to count as near-duplicates, in (0, 1].  [default: 0.83, calibrated]"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line per group: ids, texts, score.")
    ] = False,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove",
            help="Write the corpus less the extra members of each group (the earliest added is kept) to --output.",
        ),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="With --remove: .csv, .jsonl or .parquet.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    index_dir: IndexDir = None,
    backend: Backend = None,
) -> None:
    """Groups of near-duplicate texts in NAME (exact duplicates always), largest groups first."""
    from simsearch import Index
    from simsearch.atomic import check_output
    from simsearch.neighbours.dedup import CORPUS_SUFFIXES, check_threshold, write_without_duplicates

    if threshold is not None:
        check_threshold(threshold)  # before opening the index or loading anything
    if remove != (output is not None):
        raise InvalidArgumentError("--remove and --output go together: --remove --output FILE.csv|.jsonl|.parquet.")
    if output is not None:
        check_output(output, overwrite, CORPUS_SUFFIXES)
    index = Index.open(name, index_dir=index_dir, backend=backend)
    groups = index.duplicates(threshold)
    if output is not None:
        kept, removed = write_without_duplicates(groups, index.documents(), output, overwrite)
        typer.echo(f"wrote {count(kept, 'text')} to {output}, {removed} near-duplicate(s) left out", err=True)
        return
    for number, group in enumerate(groups, start=1):
        if as_json:
            typer.echo(json.dumps(group.to_dict(), ensure_ascii=False))
            continue
        typer.echo(f"group {number}: {count(len(group.ids), 'text')}, lowest similarity {group.score:.3f}")
        for id_, text in zip(group.ids, group.texts):
            typer.echo(f"  [{id_}] {text}")
    if not as_json:
        typer.echo(f"{count(len(groups), 'group')} of near-duplicates in {name!r}", err=True)


@app.command()
def cluster(
    name: str,
    threshold: Annotated[
        float | None, typer.Option(help="Lowest cosine between neighbours of one cluster, in (0, 1].  [default: 0.4]")
    ] = None,
    min_size: Annotated[int, typer.Option("--min-size", help="Smallest cluster kept (at least 2).")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line per cluster.")] = False,
    save: Annotated[bool, typer.Option(help="Store each document's cluster as metadata column 'cluster'.")] = True,
    index_dir: IndexDir = None,
    backend: Backend = None,
) -> None:
    """Clusters of texts about one thing in NAME, largest first: label words, most central text, members."""
    from simsearch import Index
    from simsearch.neighbours.clustering import check_min_size
    from simsearch.neighbours.dedup import check_threshold

    if threshold is not None:
        check_threshold(threshold)  # before opening the index or loading anything
    check_min_size(min_size)
    clusters = Index.open(name, index_dir=index_dir, backend=backend).clusters(threshold, min_size, save=save)
    for found in clusters:
        if as_json:
            typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
            continue
        typer.echo(f"cluster {found.number}: {count(found.size, 'text')}; {', '.join(found.words)}")
        typer.echo(f"  central: [{found.central_id}] {found.central_text}")
        typer.echo(f"  members: {' '.join(found.ids[:20])}{' ...' if found.size > 20 else ''}")
    clustered = sum(found.size for found in clusters)
    stored = "; stored as metadata column 'cluster'" if save else ""
    typer.echo(f"{count(len(clusters), 'cluster')} covering {count(clustered, 'text')} in {name!r}{stored}", err=True)
