"""Contrastive fine-tuning of the Siamese BERT on a user's own pairs, on top of SentenceTransformerTrainer.

Three separate ideas, as in sentence-transformers: the pairs (simsearch.pairs), a loss
chosen to fit them, and an evaluation after every epoch (simsearch.evaluate). The best
epoch on the evaluation file is kept. The result is an ordinary sentence-transformers
folder, written next to its destination and moved into place only when training has
finished, so a failed or interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from transformers import TrainerCallback

from simsearch.errors import InvalidArgumentError
from simsearch.pairs import PairFormat, PairSet, read_pairs

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

LossName = Literal["contrastive", "online-contrastive", "mnrl", "cosent"]
LOSSES: tuple[str, ...] = get_args(LossName)
# which losses fit which pair layout; the first is the default
LOSSES_FOR: dict[PairFormat, tuple[LossName, ...]] = {
    "labelled": ("online-contrastive", "contrastive", "cosent", "mnrl"),
    "scored": ("cosent",),
    "triplets": ("mnrl",),
}


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float = 0.1  # share of the steps over which the learning rate ramps up


# Graded scores: tuned on STS-B train/dev with the default model (README, "Fine-tuning and evaluation").
DEFAULTS: dict[PairFormat, Hyperparameters] = {
    "scored": Hyperparameters(epochs=6, batch_size=16, learning_rate=5e-5),
    "labelled": Hyperparameters(epochs=2, batch_size=32, learning_rate=2e-5),
    "triplets": Hyperparameters(epochs=1, batch_size=32, learning_rate=2e-5),  # bigger batches, more negatives
}


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

    @property
    def best_metrics(self) -> dict[str, float]:
        return self.history[self.best_epoch].metrics

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


def train_model(
    pairs: str | Path | PairSet, output: str | Path, *, base: str | Path | None = None,
    loss: LossName | None = None, pooling: str | None = None, epochs: int | None = None,
    batch_size: int | None = None, learning_rate: float | None = None,
    eval_pairs: str | Path | PairSet | None = None, seed: int = 42, overwrite: bool = False,
    progress: bool = False, say: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fine-tune ``base`` (default model, sentence-transformers folder or plain BERT + ``pooling``).

    Hyperparameters left as None take the defaults for the pair layout (``DEFAULTS``).
    With ``eval_pairs`` the model is evaluated after every epoch and the best epoch is
    saved; without, the last. ``output`` receives the model plus training.json and
    training.png; an existing ``output`` is refused unless ``overwrite``. ``say`` receives
    one line for the chosen loss and one per epoch (the CLI prints them; default: the log).
    """
    say = say or log.info
    started = time.perf_counter()
    output = _check_output(Path(output), overwrite)
    train_set = pairs if isinstance(pairs, PairSet) else read_pairs(pairs)
    eval_set = eval_pairs if isinstance(eval_pairs, PairSet) or eval_pairs is None else read_pairs(eval_pairs)
    loss_name = choose_loss(train_set, loss)
    if loss is None:
        say(f"loss: {loss_name} (the default for {train_set.format} pairs; choose another with --loss)")
    hyper = _hyperparameters(train_set.format, epochs, batch_size, learning_rate)
    settings = {"pairs": train_set.source, "pairs_count": len(train_set), "format": train_set.format,
                "eval": eval_set.source if eval_set else None, "base": str(base or "default"),
                "pooling": pooling, "seed": seed, "output": str(output)}

    from transformers import set_seed

    from simsearch.encoder import load_sentence_transformer

    set_seed(seed)
    model = load_sentence_transformer(base, pooling)  # type: ignore[arg-type]
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the published model should read like any folder
    try:
        monitor = _Monitor(model, eval_set, staging, progress, say)
        _run_trainer(model, train_set, loss_name, hyper, seed, monitor, staging)
        if eval_set is None:
            _save_model(model, staging)
        result = TrainingResult(output, loss_name, hyper, monitor.history, monitor.best_epoch,
                                monitor.selection_metric, time.perf_counter() - started, settings)
        write_training_report(result, staging)
        _move_into_place(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("saved %s (epoch %d kept) in %.0f s", output, result.best_epoch, result.wall_seconds)
    return result


def choose_loss(pairs: PairSet, loss: str | None) -> LossName:
    """The requested loss if it fits the pair layout, else the layout's default (logged)."""
    fitting = LOSSES_FOR[pairs.format]
    if loss is None:
        return fitting[0]
    if loss not in LOSSES:
        raise InvalidArgumentError(f"invalid loss {loss!r}; valid: {', '.join(LOSSES)}.")
    if loss not in fitting:
        raise InvalidArgumentError(f"loss {loss!r} does not fit {pairs.format} pairs ({pairs.source}); "
                                   f"valid for them: {', '.join(fitting)}.")
    return loss  # type: ignore[return-value]


def _hyperparameters(pair_format: PairFormat, epochs: int | None, batch_size: int | None,
                     learning_rate: float | None) -> Hyperparameters:
    chosen = DEFAULTS[pair_format]
    hyper = Hyperparameters(epochs if epochs is not None else chosen.epochs,
                            batch_size if batch_size is not None else chosen.batch_size,
                            learning_rate if learning_rate is not None else chosen.learning_rate,
                            chosen.warmup_ratio)
    if hyper.epochs < 1 or hyper.batch_size < 2:
        raise InvalidArgumentError(f"need epochs >= 1 and batch size >= 2 (got {hyper.epochs}, {hyper.batch_size}).")
    if not 0 < hyper.learning_rate < 1:
        raise InvalidArgumentError(f"learning rate {hyper.learning_rate:g} is out of range; try 2e-5 to 1e-4.")
    return hyper


def _check_output(output: Path, overwrite: bool) -> Path:
    output = output.expanduser().resolve()
    if output.exists() and not output.is_dir():
        raise InvalidArgumentError(f"output {str(output)!r} is a file; give a folder path for the trained model.")
    if output.exists() and not overwrite:
        raise InvalidArgumentError(f"output folder {str(output)!r} exists; choose a new folder or pass --overwrite.")
    output.parent.mkdir(parents=True, exist_ok=True)
    return output


def _loss_module(name: LossName, model: SentenceTransformer):
    from sentence_transformers.sentence_transformer import losses

    return {
        "contrastive": losses.ContrastiveLoss,  # Hadsell et al., cosine distance, margin 0.5
        "online-contrastive": losses.OnlineContrastiveLoss,  # the same on the hard pairs of each batch
        "mnrl": losses.MultipleNegativesRankingLoss,  # InfoNCE, other rows' positives as negatives
        "cosent": losses.CoSENTLoss,  # ranks pairs by their gold scores
    }[name](model)


def _run_trainer(model: SentenceTransformer, pairs: PairSet, loss_name: LossName, hyper: Hyperparameters,
                 seed: int, monitor: _Monitor, staging: Path) -> None:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers import PrinterCallback

    if loss_name == "mnrl" and pairs.format == "labelled":
        pairs = pairs.positives()
    from simsearch.batching import LengthBucketBatchSampler

    # MNRL takes other rows as negatives, so a batch must not repeat a text; other losses batch by length.
    sampler = BatchSamplers.NO_DUPLICATES if loss_name == "mnrl" else LengthBucketBatchSampler
    args = SentenceTransformerTrainingArguments(
        output_dir=str(staging / "trainer"), num_train_epochs=hyper.epochs,
        per_device_train_batch_size=hyper.batch_size, learning_rate=hyper.learning_rate,
        warmup_steps=hyper.warmup_ratio, seed=seed, data_seed=seed, batch_sampler=sampler,
        save_strategy="no", eval_strategy="no", logging_steps=1, report_to="none", disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs.to_dataset(),
                                         loss=_loss_module(loss_name, model), callbacks=[monitor])
    trainer.remove_callback(PrinterCallback)  # our bar shows the loss; the printer would dump every log
    trainer.train()
    shutil.rmtree(staging / "trainer", ignore_errors=True)


class _Monitor(TrainerCallback):
    """Progress bar with the running loss; per-epoch loss, evaluation and best-checkpoint saving."""

    def __init__(self, model: SentenceTransformer, eval_set: PairSet | None, staging: Path, progress: bool,
                 say: Callable[[str], None]) -> None:
        self.model, self.eval_set, self.staging, self.progress, self.say = model, eval_set, staging, progress, say
        self.history: list[EpochRecord] = []
        self.step_losses: list[float] = []
        self.best_epoch = 0
        self.selection_metric: str | None = None
        self._best: float | None = None
        self._bar = None
        self._epoch_started = time.perf_counter()
        self._epoch_first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        from simsearch.progress import progress_bar

        self.history.append(EpochRecord(0, None, self._evaluate(), 0.0))
        if self.history[0].metrics:
            self.say(f"epoch 0 (base model): {_shown(self.history[0].metrics)}")
        self._bar_context = progress_bar(state.max_steps, "training", unit="step", enabled=self.progress)
        self._bar = self._bar_context.__enter__()
        self._epoch_started = time.perf_counter()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_first_step = len(self.step_losses)
        self._epoch_started = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.step_losses.append(float(logs["loss"]))
            recent = self.step_losses[-50:]
            self._bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}")

    def on_step_end(self, args, state, control, **kwargs):
        self._bar.update(1)

    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = len(self.history)
        losses = self.step_losses[self._epoch_first_step :] or self.step_losses[-1:]
        seconds = time.perf_counter() - self._epoch_started
        metrics = self._evaluate()
        self.history.append(EpochRecord(epoch, sum(losses) / len(losses), metrics, seconds))
        self.say(f"epoch {epoch}: loss {self.history[-1].loss:.4f}, {seconds:.0f} s"
                 + (f", {_shown(metrics)}" if metrics else ""))
        if metrics:
            self.selection_metric = next(iter(metrics))
            value = metrics[self.selection_metric]
            if math.isnan(value):  # a collapsed model (constant cosines) has no correlation
                log.warning("epoch %d: %s is undefined (constant similarities); not kept", epoch,
                            self.selection_metric)
            elif self._best is None or value > self._best:
                self._best, self.best_epoch = value, epoch
                _save_model(self.model, self.staging)
        else:
            self.best_epoch = epoch

    def on_train_end(self, args, state, control, **kwargs):
        if self._bar is not None:
            self._bar_context.__exit__(None, None, None)
        if self.selection_metric and self.history[0].metrics:
            before = self.history[0].metrics[self.selection_metric]
            if self._best is not None and self._best < before:
                log.warning("no epoch beat the base model on %s (%.2f < %.2f); try a lower learning rate",
                            self.selection_metric, self._best, before)

    def _evaluate(self) -> dict[str, float]:
        if self.eval_set is None:
            return {}
        from simsearch.encoder import Encoder
        from simsearch.evaluate import pair_metrics

        was_training = self.model.training
        metrics = pair_metrics(Encoder(self.model, "training", "-"), self.eval_set)
        self.model.train(was_training)
        return metrics


def _shown(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in metrics.items())


def _save_model(model: SentenceTransformer, folder: Path) -> None:
    model.save(str(folder), create_model_card=False)


def write_training_report(result: TrainingResult, folder: Path) -> None:
    """training.json (settings, seed, per-epoch loss and metrics, wall time) and training.png (curves)."""
    import sentence_transformers
    import torch

    report = result.to_dict()
    report["versions"] = {"sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                          "python": platform.python_version()}
    report["machine"] = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                         "device": str(torch.device("cuda" if torch.cuda.is_available() else "cpu"))}
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


def _move_into_place(staging: Path, output: Path) -> None:
    """Swap the finished folder in; an old folder (with --overwrite) is removed only after."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        os.replace(output, old)
    try:
        os.replace(staging, output)
    except OSError as error:
        if old is not None:
            os.replace(old, output)  # the previous model stays where it was
        raise InvalidArgumentError(f"could not move the trained model into {str(output)!r} ({error.strerror}); "
                                   "check the folder's permissions.") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
