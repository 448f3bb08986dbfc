"""What a training run records: the loss and metrics of every epoch as it trains, the result, and the report
beside the model (training.json and training.png); the same for the bi-encoder and the cross-encoder."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from simsearch.training.run import Hyperparameters, TrainingRun

log = logging.getLogger(__name__)


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


def finished_result(
    run: TrainingRun,
    loss: str,
    epochs_log: EpochLog,
    best_epoch: int,
    settings: dict[str, Any],
    kept_base_model: bool = False,
) -> TrainingResult:
    """The result of ``run`` once its model is saved: the history ``epochs_log`` kept, the wall time so far."""
    return TrainingResult(
        run.output,
        loss,
        run.hyperparameters,
        epochs_log.history,
        best_epoch,
        epochs_log.selection_metric,
        time.perf_counter() - run.started,
        settings,
        kept_base_model,
    )


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
