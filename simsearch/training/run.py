"""What both trainers share: hyperparameters, the run with a checkpoint per epoch, the epoch log, the report.

The bi-encoder's training (simsearch.training.bi_encoder) and the cross-encoder's (simsearch.training.cross_encoder)
differ in the model, the loss and the evaluator; around those they run the same way: the
sentence-transformers trainer with one checkpoint per epoch, the best epoch on the evaluation
pairs loaded back, a history of loss and metrics per epoch, training.json and training.png,
and a folder written beside its destination and moved into place only when training has
finished, so a failed or interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from transformers import TrainerCallback

from simsearch.atomic import publish_folder, staged_folder
from simsearch.errors import InvalidArgumentError, fix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float = 0.1  # share of the steps over which the learning rate ramps up


@dataclass
class EpochRecord:
    """One row of the training history; epoch 0 is the base model before any step."""

    epoch: int
    loss: float | None
    metrics: dict[str, float]
    seconds: float


@dataclass
class TrainingResult:
    output: Path
    loss: str
    hyperparameters: Hyperparameters
    history: list[EpochRecord]
    best_epoch: int
    selection_metric: str | None  # None: no --eval file, the last epoch is kept
    wall_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)
    kept_base_model: bool = False  # no epoch beat the base model on the eval pairs, so its weights were kept

    @property
    def best_metrics(self) -> dict[str, float]:
        return self.history[self.best_epoch].metrics

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


def chosen_hyperparameters(
    chosen: Hyperparameters, epochs: int | None, batch_size: int | None, learning_rate: float | None
) -> Hyperparameters:
    """``chosen`` (a recipe's defaults) with whatever the caller set instead, checked (both trainers use it)."""
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
    output = output.expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise InvalidArgumentError(f"output {str(output)!r} is a file; give a folder path for the trained model.")
    if output.exists() and not overwrite:
        raise InvalidArgumentError(f"output folder {str(output)!r} exists; choose a new folder or {fix('overwrite')}.")
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


def epoch_arguments(
    hyper: Hyperparameters, seed: int, evaluator: SentenceEvaluator | None, checkpoints: Path, batch_sampler: Any
) -> dict[str, Any]:
    """The training arguments both trainers (bi- and cross-encoder) share.

    With an evaluator: one weights-only checkpoint per epoch, at most the best and the latest
    kept, the best loaded back at the end. Logging every step feeds our progress bar.
    """
    per_epoch = "epoch" if evaluator is not None else "no"
    return {
        "output_dir": str(checkpoints),
        "num_train_epochs": hyper.epochs,
        "per_device_train_batch_size": hyper.batch_size,
        "learning_rate": hyper.learning_rate,
        "warmup_steps": hyper.warmup_ratio,
        "seed": seed,
        "data_seed": seed,
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


class EpochLog(TrainerCallback):
    """The per-epoch history and ``say`` lines, and the terminal progress bar with the running loss.

    Display and bookkeeping only: evaluation and best-epoch selection belong to the trainer.
    """

    def __init__(self, base_metrics: dict[str, float], progress: bool, say: Callable[[str], None]) -> None:
        self.history = [EpochRecord(0, None, base_metrics, 0.0)]
        self.selection_metric = next(iter(base_metrics), None)
        self.progress, self.say = progress, say
        if base_metrics:
            say(f"epoch 0 (base model): {_shown(base_metrics)}")
        self._step_losses: list[float] = []
        self._steps_of_epoch: dict[int, int] = {0: 0}
        self._epoch_first_loss = 0
        self._epoch_started = time.perf_counter()
        self._pending: tuple[float, float] | None = None  # (loss, seconds) of an epoch awaiting its evaluation
        self._bar_context: Any = None
        self._bar: Any = None

    def kept_epoch(self, best_step: int | None) -> int:
        """The epoch whose weights the trainer kept: the best one's, or the last when none had a defined metric."""
        last = self.history[-1].epoch
        if self.selection_metric is None:
            return last
        if best_step is None:
            log.warning("no epoch had a defined %s", self.selection_metric)
            return last
        return next(epoch for epoch, step in self._steps_of_epoch.items() if step == best_step)

    def on_train_begin(self, args, state, control, **kwargs):
        from simsearch.progress import progress_bar

        self._bar_context = progress_bar(state.max_steps, "training", unit="step", enabled=self.progress)
        self._bar = self._bar_context.__enter__()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_first_loss = len(self._step_losses)
        self._epoch_started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self._step_losses.append(float(logs["loss"]))
            recent = self._step_losses[-50:]
            self._bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}")

    def on_step_end(self, args, state, control, **kwargs):
        self._bar.update(1)

    def on_epoch_end(self, args, state, control, **kwargs):
        losses = self._step_losses[self._epoch_first_loss :] or self._step_losses[-1:]
        self._pending = (sum(losses) / len(losses), time.perf_counter() - self._epoch_started)
        if self.selection_metric is None:  # no evaluation follows
            self._record(state.global_step, {})

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._record(state.global_step, {name: float(metrics[f"eval_{name}"]) for name in self.history[0].metrics})

    def on_train_end(self, args, state, control, **kwargs):
        if self._bar_context is not None:
            self._bar_context.__exit__(None, None, None)

    def _record(self, step: int, metrics: dict[str, float]) -> None:
        loss, seconds = self._pending or (float("nan"), 0.0)
        epoch = len(self.history)
        self.history.append(EpochRecord(epoch, loss, metrics, seconds))
        self._steps_of_epoch[epoch] = step
        self.say(f"epoch {epoch}: loss {loss:.4f}, {seconds:.0f} s" + (f", {_shown(metrics)}" if metrics else ""))
        if self.selection_metric and math.isnan(metrics[self.selection_metric]):
            log.warning("epoch %d: %s is undefined (constant similarities); not kept", epoch, self.selection_metric)


def _shown(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in metrics.items())


def write_training_report(result: TrainingResult, folder: Path) -> None:
    """training.json (settings, seed, per-epoch loss and metrics, wall time) and training.png (curves)."""
    import sentence_transformers
    import torch

    report = result.to_dict()
    report["versions"] = {
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    report["machine"] = {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
    }
    (folder / "training.json").write_text(json.dumps(report, indent=2))
    _plot_curves(result, folder / "training.png")


def _plot_curves(result: TrainingResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trained = [r for r in result.history if r.loss is not None]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot([r.epoch for r in trained], [r.loss for r in trained], marker="o")
    left.set(title=f"training loss ({result.loss})", xlabel="epoch", ylabel="mean loss")
    names = list(result.history[0].metrics)
    for name in names:
        right.plot([r.epoch for r in result.history], [r.metrics[name] for r in result.history], marker="o", label=name)
    if names:
        right.axvline(result.best_epoch, color="grey", linestyle=":", label=f"kept: epoch {result.best_epoch}")
        right.legend()
    right.set(title="evaluation (epoch 0 = base model)" if names else "no --eval file", xlabel="epoch")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
