"""The command that fine-tunes a model: train, the Siamese BERT (bi-encoder) or, with --cross-encoder, a re-ranker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict

import typer

from simsearch.cli.common import Pooling, Quiet, app, say
from simsearch.errors import InputError
from simsearch.extras import require_extra

if TYPE_CHECKING:
    from collections.abc import Callable

    from simsearch.training.history import TrainingResult


class _SharedArguments(TypedDict):
    """The keyword arguments both trainers take (simsearch.training.run.start_run checks them)."""

    base: str | None
    epochs: int | None
    batch_size: int | None
    learning_rate: float | None
    eval_pairs: Path | None
    seed: int
    overwrite: bool
    progress: bool
    say: Callable[[str], None]


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

    shared = _SharedArguments(
        base=base,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        eval_pairs=eval,
        seed=seed,
        overwrite=overwrite,
        progress=progress_wanted(quiet),
        say=lambda line: say(line, quiet),
    )
    if cross_encoder:
        from simsearch.training.cross_encoder import check_cross_loss, train_cross_encoder

        if augment != "none":
            raise InputError("--augment applies to the bi-encoder; drop it with --cross-encoder.")
        if pooling is not None:
            raise InputError("--pooling does not apply to --cross-encoder: it scores the pair, it pools no vectors.")
        result = train_cross_encoder(
            pairs,
            output,
            loss=check_cross_loss(loss or "bce"),
            blend_model=None if blend_model == "none" else blend_model,
            layers=layers,
            **shared,
        )
        say(
            f"saved cross-encoder {result.output} ({_kept(result)}; {result.wall_seconds:.0f} s); report in "
            f"training.json; re-rank with `simsearch search NAME QUERY --rerank {result.output}`",
            quiet,
        )
        return
    from simsearch.training.bi_encoder import check_loss, train_model

    if layers is not None:
        raise InputError("--layers applies to --cross-encoder; a bi-encoder keeps its base's layers.")
    result = train_model(
        pairs,
        output,
        loss=check_loss(loss) if loss is not None else None,
        pooling=pooling,
        augment=augment,
        **shared,
    )
    say(f"saved {result.output} ({_kept(result)}; {result.wall_seconds:.0f} s); report in training.json", quiet)


def _kept(result: TrainingResult) -> str:
    """Which epoch was kept and, with --eval, its figure: what a run's last line reports."""
    kept = f"epoch {result.best_epoch}"
    if result.selection_metric:
        kept += f", {result.selection_metric} {result.best_metrics[result.selection_metric]:.2f}"
    return kept
