"""How both trainers run: their shared arguments checked once, the trainer with one checkpoint per epoch, the
evaluator it selects the best epoch by, and the staged publish of the finished model.

The bi-encoder's training (simsearch.training.bi_encoder) and the cross-encoder's (simsearch.training.cross_encoder)
differ in the model, the loss and what the evaluator measures; around those they run the same way: the
sentence-transformers trainer with one checkpoint per epoch, the best epoch on the evaluation pairs loaded
back, and a folder written beside its destination and moved into place only when training has finished, so
a failed or interrupted run never leaves a half-written model behind. What a run records (its per-epoch
history, training.json and training.png) is simsearch.training.history's.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from simsearch.atomic import publish_folder, staged_folder
from simsearch.errors import InvalidArgumentError, fix
from simsearch.training.pairs import PairSet


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float = 0.1  # share of the steps over which the learning rate ramps up


@dataclass(frozen=True)
class TrainingRun:
    """The arguments both trainers take besides the model and its loss, checked once by ``start_run``."""

    pairs: PairSet
    eval_pairs: PairSet | None  # None: every epoch is trained, the last one kept
    output: Path  # absolute, its parent made; free, or to be replaced (overwrite)
    base: str | Path | None  # None: the default model
    hyperparameters: Hyperparameters
    seed: int
    progress: bool  # show the terminal progress bar
    say: Callable[[str], None]  # receives one line per epoch (the CLI prints them)
    started: float  # time.perf_counter() when the run began, for the report's wall time

    def settings(self) -> dict[str, Any]:
        """What training.json records of the run for either model; each trainer adds its own keys."""
        return {
            "pairs": self.pairs.source,
            "pairs_count": len(self.pairs),
            "format": self.pairs.format,
            "eval": self.eval_pairs.source if self.eval_pairs else None,
            "base": str(self.base or "default"),
            "seed": self.seed,
            "output": str(self.output),
        }


def start_run(
    pairs: PairSet,
    eval_pairs: PairSet | None,
    output: str | Path,
    recipe: Hyperparameters,
    *,
    epochs: int | None,
    batch_size: int | None,
    learning_rate: float | None,
    base: str | Path | None,
    seed: int,
    overwrite: bool,
    progress: bool,
    say: Callable[[str], None],
) -> TrainingRun:
    """The run both trainers were asked for: ``recipe`` (the model's and layout's defaults) with the
    hyperparameters the caller set instead, and the output folder checked, before any model is loaded."""
    hyper = chosen_hyperparameters(recipe, epochs, batch_size, learning_rate)
    output = check_output(Path(output), overwrite)
    return TrainingRun(pairs, eval_pairs, output, base, hyper, seed, progress, say, time.perf_counter())


def chosen_hyperparameters(
    chosen: Hyperparameters, epochs: int | None, batch_size: int | None, learning_rate: float | None
) -> Hyperparameters:
    """``chosen`` (a recipe's defaults) with whatever the caller set instead, checked."""
    hyper = Hyperparameters(
        epochs if epochs is not None else chosen.epochs,
        batch_size if batch_size is not None else chosen.batch_size,
        learning_rate if learning_rate is not None else chosen.learning_rate,
        chosen.warmup_ratio,
    )
    if hyper.epochs < 1 or hyper.batch_size < 2:
        raise InvalidArgumentError(f"need epochs >= 1 and batch size >= 2 (got {hyper.epochs}, {hyper.batch_size}).")
    if not 0 < hyper.learning_rate < 1:
        raise InvalidArgumentError(f"learning rate {hyper.learning_rate:g} is out of range; try 2e-5 to 1e-4.")
    return hyper


def check_output(output: Path, overwrite: bool) -> Path:
    """``output`` as an absolute folder path that may be written, its parent made; else one line naming the fix."""
    output = output.expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise InvalidArgumentError(f"output {str(output)!r} is a file; give a folder path for the trained model.")
    if output.exists() and not overwrite:
        raise InvalidArgumentError(f"output folder {str(output)!r} exists; choose a new folder or {fix('overwrite')}.")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder should be, or a folder nobody may write
        raise InvalidArgumentError(
            f"cannot make {str(output.parent)!r} ({exc.strerror}); choose an output folder you can write to."
        ) from None
    return output


class EpochEvaluator(SentenceEvaluator):
    """Our metrics (simsearch.training.pair_metrics) as the evaluator the trainer runs after every epoch.

    ``measure`` scores a model (a SentenceTransformer or a CrossEncoder) on the evaluation pairs. The first
    metric it reports is the one the trainer selects the best epoch by; a NaN (a collapsed model with
    constant similarities) never compares greater, so it is never kept.
    """

    def __init__(self, measure: Callable[[Any], dict[str, float]]) -> None:
        super().__init__()
        self.measure = measure

    def __call__(
        self, model: Any, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        was_training = model.training
        metrics = self.measure(model)
        model.train(was_training)  # encoding and predicting switch the model to eval mode
        if self.primary_metric is None:  # the base model's evaluation names it, before the trainer starts
            self.primary_metric = next(iter(metrics))
        return metrics


def epoch_arguments(
    run: TrainingRun, evaluator: EpochEvaluator | None, checkpoints: Path, batch_sampler: Any
) -> dict[str, Any]:
    """The training arguments both trainers (bi- and cross-encoder) share.

    With an evaluator: one weights-only checkpoint per epoch, at most the best and the latest
    kept, the best loaded back at the end. Logging every step feeds our progress bar.
    """
    hyper = run.hyperparameters
    per_epoch = "epoch" if evaluator is not None else "no"
    return {
        "output_dir": str(checkpoints),
        "num_train_epochs": hyper.epochs,
        "per_device_train_batch_size": hyper.batch_size,
        "learning_rate": hyper.learning_rate,
        "warmup_steps": hyper.warmup_ratio,
        "seed": run.seed,
        "data_seed": run.seed,
        "batch_sampler": batch_sampler,
        "eval_strategy": per_epoch,
        "save_strategy": per_epoch,
        "save_only_model": True,
        "save_total_limit": 1,
        "load_best_model_at_end": evaluator is not None,
        "metric_for_best_model": evaluator.primary_metric if evaluator is not None else None,
        "greater_is_better": True,
        "logging_steps": 1,
        "report_to": "none",
        "disable_tqdm": True,
    }


def train_keeping_best(trainer: Any, checkpoints: Path) -> int | None:
    """Run ``trainer`` (either kind) and delete its checkpoints; the global step of the epoch it kept."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our bar shows the loss; the printer would dump every log
    try:
        trainer.train()
    finally:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return trainer.state.best_global_step


@contextmanager
def staged_output(output: Path) -> Iterator[Path]:
    """A hidden folder beside ``output`` to write a model into, published as ``output`` when the block ends
    without an error (an old folder, with --overwrite, removed only then) and removed otherwise, so an
    interrupted run leaves nothing half-written."""
    with staged_folder(output.parent, f".{output.name}.partial-") as staging:
        yield staging
        try:
            publish_folder(staging, output)
        except OSError as error:
            raise InvalidArgumentError(
                f"could not move the trained model into {str(output)!r} ({error.strerror}); "
                "check the folder's permissions."
            ) from None
