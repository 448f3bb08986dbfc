"""Contrastive fine-tuning of the Siamese BERT on a user's own pairs, on top of SentenceTransformerTrainer.

Three separate ideas, as in sentence-transformers: the pairs (simsearch.pairs), a loss
chosen to fit them, and an evaluator (our pair metrics from simsearch.evaluate) that the
trainer runs after every epoch; the trainer's own best-model selection keeps the best epoch
on the evaluation file. The result is an ordinary sentence-transformers
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator
from transformers import TrainerCallback, set_seed

from simsearch.augment import Encode, augmented_pairs, check_augment
from simsearch.encoders.models import load_sentence_transformer
from simsearch.errors import InvalidArgumentError, fix
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
# Scored pairs with silver ones beside them (three times as many pairs): 4 epochs beat 3 on STS-B dev (README).
AUGMENTED_DEFAULTS = Hyperparameters(epochs=4, batch_size=16, learning_rate=5e-5)


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


def train_model(
    pairs: str | Path | PairSet, output: str | Path, *, base: str | Path | None = None,
    loss: LossName | None = None, pooling: str | None = None, epochs: int | None = None,
    batch_size: int | None = None, learning_rate: float | None = None,
    eval_pairs: str | Path | PairSet | None = None, augment: str | Path | None = None, seed: int = 42,
    overwrite: bool = False, progress: bool = False, say: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fine-tune ``base`` (default model, sentence-transformers folder or plain BERT + ``pooling``).

    Hyperparameters left as None take the defaults for the pair layout (``DEFAULTS``).
    With ``eval_pairs`` the model is evaluated after every epoch and the best epoch is
    saved, or the base model's own weights when no epoch beats them (``kept_base_model``,
    with a warning); without, the last epoch. ``output`` receives the model plus training.json and
    training.png; an existing ``output`` is refused unless ``overwrite``. ``say`` receives
    one line for the chosen loss and one per epoch (the CLI prints them; default: the log).
    ``augment`` adds silver pairs to scored pairs (simsearch.augment): ``auto`` trains a cross-encoder on
    them first, a cross-encoder folder is used as it is, None (the default) or ``none`` trains on the pairs
    alone: on STS-B the silver pairs gained 0.19 dev Spearman for about three times the time (README).
    """
    say = say or log.info
    started = time.perf_counter()
    output = check_output(Path(output), overwrite)
    train_set = pairs if isinstance(pairs, PairSet) else read_pairs(pairs)
    eval_set = eval_pairs if isinstance(eval_pairs, PairSet) or eval_pairs is None else read_pairs(eval_pairs)
    loss_name = choose_loss(train_set, loss)
    augment = check_augment(augment, train_set)
    if loss is None:
        say(f"loss: {loss_name} (the default for {train_set.format} pairs; choose another with --loss)")
    recipe = DEFAULTS[train_set.format] if augment is None else AUGMENTED_DEFAULTS
    hyper = chosen_hyperparameters(recipe, epochs, batch_size, learning_rate)
    settings = {"pairs": train_set.source, "pairs_count": len(train_set), "format": train_set.format,
                "eval": eval_set.source if eval_set else None, "base": str(base or "default"),
                "pooling": pooling, "seed": seed, "output": str(output)}

    set_seed(seed)
    model = load_sentence_transformer(base, pooling)  # type: ignore[arg-type]
    if augment is not None:
        train_set, settings["augment"] = augmented_pairs(train_set, augment, _encoding(model), base=base,
                                                         eval_pairs=eval_set, seed=seed, say=say)
        set_seed(seed)  # the same bi-encoder run whether the cross-encoder was trained here or not
    with staged_output(output) as staging:
        evaluator = _PairEvaluator(eval_set, str(base or "default")) if eval_set is not None else None
        epochs_log = EpochLog(evaluator(model) if evaluator else {}, progress, say)
        base_weights = _weights_copy(model) if evaluator is not None else None
        best_step = _run_trainer(model, train_set, loss_name, hyper, seed, evaluator, epochs_log, staging)
        best_epoch = epochs_log.kept_epoch(best_step)  # the trainer has loaded that epoch's weights back
        kept_base = base_weights is not None and not _beats_base(epochs_log.history, best_epoch,
                                                                 epochs_log.selection_metric)
        if kept_base:
            model.load_state_dict(base_weights)
            best_epoch = 0
        _save_model(model, staging)
        result = TrainingResult(output, loss_name, hyper, epochs_log.history, best_epoch,
                                epochs_log.selection_metric, time.perf_counter() - started, settings, kept_base)
        if kept_base:
            log.warning("no epoch beat the base model on %s (%.2f); its weights are saved unchanged "
                        "(kept_base_model in training.json); try a lower learning rate",
                        result.selection_metric, result.best_metrics[result.selection_metric])
        write_training_report(result, staging)
    log.info("saved %s (epoch %d kept) in %.0f s", output, result.best_epoch, result.wall_seconds)
    return result


def _encoding(model: SentenceTransformer) -> Encode:
    """The model's unit vectors for a list of texts, as the augmenting step wants them."""
    return lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)


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


def chosen_hyperparameters(chosen: Hyperparameters, epochs: int | None, batch_size: int | None,
                           learning_rate: float | None) -> Hyperparameters:
    """``chosen`` (a recipe's defaults) with whatever the caller set instead, checked (both trainers use it)."""
    hyper = Hyperparameters(epochs if epochs is not None else chosen.epochs,
                            batch_size if batch_size is not None else chosen.batch_size,
                            learning_rate if learning_rate is not None else chosen.learning_rate,
                            chosen.warmup_ratio)
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


def _loss_module(name: LossName, model: SentenceTransformer):
    from sentence_transformers.sentence_transformer import losses

    return {
        "contrastive": losses.ContrastiveLoss,  # Hadsell et al., cosine distance, margin 0.5
        "online-contrastive": losses.OnlineContrastiveLoss,  # the same on the hard pairs of each batch
        "mnrl": losses.MultipleNegativesRankingLoss,  # InfoNCE, other rows' positives as negatives
        "cosent": losses.CoSENTLoss,  # ranks pairs by their gold scores
    }[name](model)


def _run_trainer(model: SentenceTransformer, pairs: PairSet, loss_name: LossName, hyper: Hyperparameters,
                 seed: int, evaluator: _PairEvaluator | None, epochs_log: EpochLog, staging: Path) -> int | None:
    """Train in place; with an evaluator, leave the best epoch's weights in ``model``. Returns its global step.

    Checkpoints (one per epoch, weights only) go to ``staging/checkpoints`` and are removed
    here; the trainer keeps the best and the latest of them while it runs.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from simsearch.batching import LengthBucketBatchSampler

    if loss_name == "mnrl" and pairs.format == "labelled":
        pairs = pairs.positives()
    # MNRL takes other rows as negatives, so a batch must not repeat a text; other losses batch by length.
    sampler = BatchSamplers.NO_DUPLICATES if loss_name == "mnrl" else LengthBucketBatchSampler
    checkpoints = staging / "checkpoints"
    args = SentenceTransformerTrainingArguments(**epoch_arguments(hyper, seed, evaluator, checkpoints, sampler))
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs.to_dataset(),
                                         loss=_loss_module(loss_name, model), evaluator=evaluator,
                                         callbacks=[epochs_log])
    return train_keeping_best(trainer, checkpoints)


def epoch_arguments(hyper: Hyperparameters, seed: int, evaluator: SentenceEvaluator | None, checkpoints: Path,
                    batch_sampler: Any) -> dict[str, Any]:
    """The training arguments both trainers (bi- and cross-encoder) share.

    With an evaluator: one weights-only checkpoint per epoch, at most the best and the latest
    kept, the best loaded back at the end. Logging every step feeds our progress bar.
    """
    per_epoch = "epoch" if evaluator is not None else "no"
    return {"output_dir": str(checkpoints), "num_train_epochs": hyper.epochs,
            "per_device_train_batch_size": hyper.batch_size, "learning_rate": hyper.learning_rate,
            "warmup_steps": hyper.warmup_ratio, "seed": seed, "data_seed": seed, "batch_sampler": batch_sampler,
            "eval_strategy": per_epoch, "save_strategy": per_epoch, "save_only_model": True, "save_total_limit": 1,
            "load_best_model_at_end": evaluator is not None,
            "metric_for_best_model": evaluator.primary_metric if evaluator is not None else None,
            "greater_is_better": True, "logging_steps": 1, "report_to": "none", "disable_tqdm": True}


def train_keeping_best(trainer: Any, checkpoints: Path) -> int | None:
    """Run ``trainer`` (either kind) and delete its checkpoints; the global step of the epoch it kept."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # our bar shows the loss; the printer would dump every log
    try:
        trainer.train()
    finally:
        shutil.rmtree(checkpoints, ignore_errors=True)
    return trainer.state.best_global_step


class _PairEvaluator(SentenceEvaluator):
    """Our pair metrics (simsearch.evaluate.pair_metrics) as a sentence-transformers evaluator.

    The first metric pair_metrics reports for the layout (average precision, Spearman or
    nDCG@10) is the one the trainer selects the best epoch by; a NaN (a collapsed model
    with constant similarities) never compares greater, so it is never kept.
    """

    def __init__(self, pairs: PairSet, model_name: str) -> None:
        super().__init__()
        self.pairs, self.model_name = pairs, model_name

    def __call__(self, model: SentenceTransformer, output_path: str | None = None, epoch: float = -1,
                 steps: int = -1) -> dict[str, float]:
        from simsearch.encoders.models import model_fingerprint
        from simsearch.encoders.torch_encoder import TorchEncoder
        from simsearch.evaluate import pair_metrics

        was_training = model.training
        metrics = pair_metrics(TorchEncoder(model, self.model_name, model_fingerprint(model)), self.pairs)
        model.train(was_training)  # encoding switched the model to eval mode
        if self.primary_metric is None:  # the base model's evaluation names it, before the trainer starts
            self.primary_metric = next(iter(metrics))
        return metrics


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


def _weights_copy(model: SentenceTransformer) -> dict[str, Any]:
    """The model's weights as they are now, on the CPU, untouched by the training that follows."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def _beats_base(history: list[EpochRecord], epoch: int, metric: str | None) -> bool:
    """Whether ``epoch`` scores higher than the base model (epoch 0); an undefined (NaN) base is beaten by anything."""
    if metric is None or epoch == 0:
        return True
    base, kept = history[0].metrics[metric], history[epoch].metrics[metric]
    if math.isnan(base):
        return True
    return not math.isnan(kept) and kept > base


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


@contextmanager
def staged_output(output: Path) -> Iterator[Path]:
    """A private folder beside ``output`` to write a model into, published as ``output`` when the block ends
    without an error and removed either way, so an interrupted run leaves nothing half-written."""
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the published model should read like any folder
    try:
        yield staging
        _move_into_place(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
