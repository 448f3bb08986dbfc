"""Contrastive fine-tuning of the Siamese BERT on a user's own pairs, on top of SentenceTransformerTrainer.

Three separate ideas, as in sentence-transformers: the pairs (simsearch.training.pairs), a loss
chosen to fit them, and an evaluator (our pair metrics from simsearch.training.pair_metrics) that the
trainer runs after every epoch; the trainer's own best-model selection keeps the best epoch
on the evaluation file. The result is an ordinary sentence-transformers folder. Scored pairs
can gain silver pairs first (simsearch.training.augment). What the cross-encoder's training shares is
written once: the arguments checked, the trainer's epochs and the atomic publish (simsearch.training.run),
the history and the report (simsearch.training.history).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from transformers import set_seed

from simsearch.encoders.models import load_sentence_transformer
from simsearch.errors import InvalidArgumentError
from simsearch.extras import require_extra
from simsearch.training.augment import Encode, augmented_pairs, check_augment
from simsearch.training.history import EpochLog, EpochRecord, TrainingResult, finished_result, write_training_report
from simsearch.training.pairs import PairFormat, PairSet, read_pairs
from simsearch.training.run import (
    EpochEvaluator,
    Hyperparameters,
    TrainingRun,
    epoch_arguments,
    staged_output,
    start_run,
    train_keeping_best,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

LossName = Literal["contrastive", "online-contrastive", "mnrl", "cosent"]
LOSSES: tuple[LossName, ...] = get_args(LossName)
# which losses fit which pair layout; the first is the default
LOSSES_FOR: dict[PairFormat, tuple[LossName, ...]] = {
    "labelled": ("online-contrastive", "contrastive", "cosent", "mnrl"),
    "scored": ("cosent",),
    "triplets": ("mnrl",),
}


# Graded scores: tuned on STS-B train/dev with the default model (README, "Fine-tuning and evaluation").
DEFAULTS: dict[PairFormat, Hyperparameters] = {
    "scored": Hyperparameters(epochs=6, batch_size=16, learning_rate=5e-5),
    "labelled": Hyperparameters(epochs=2, batch_size=32, learning_rate=2e-5),
    "triplets": Hyperparameters(epochs=1, batch_size=32, learning_rate=2e-5),  # bigger batches, more negatives
}
# Scored pairs with silver ones beside them (three times as many pairs): 4 epochs beat 3 on STS-B dev (README).
AUGMENTED_DEFAULTS = Hyperparameters(epochs=4, batch_size=16, learning_rate=5e-5)


def train_model(
    pairs: str | Path | PairSet,
    output: str | Path,
    *,
    base: str | Path | None = None,
    loss: LossName | None = None,
    pooling: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    eval_pairs: str | Path | PairSet | None = None,
    augment: str | Path | None = None,
    seed: int = 42,
    overwrite: bool = False,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Fine-tune ``base`` (default model, sentence-transformers folder or plain BERT + ``pooling``).

    Hyperparameters left as None take the defaults for the pair layout (``DEFAULTS``).
    With ``eval_pairs`` the model is evaluated after every epoch and the best epoch is
    saved, or the base model's own weights when no epoch beats them (``kept_base_model``,
    with a warning); without, the last epoch. ``output`` receives the model plus training.json and
    training.png; an existing ``output`` is refused unless ``overwrite``. ``say`` receives
    one line for the chosen loss and one per epoch (the CLI prints them; default: the log).
    ``augment`` adds silver pairs to scored pairs (simsearch.training.augment): ``auto`` trains a cross-encoder on
    them first, a cross-encoder folder is used as it is, None (the default) or ``none`` trains on the pairs
    alone: on STS-B the silver pairs gained 0.19 dev Spearman for about three times the time (README).
    """
    require_extra("train", "fine-tuning")
    say = say or log.info
    train_set = pairs if isinstance(pairs, PairSet) else read_pairs(pairs)
    eval_set = eval_pairs if isinstance(eval_pairs, PairSet) or eval_pairs is None else read_pairs(eval_pairs)
    loss_name = choose_loss(train_set, loss)
    augment = check_augment(augment, train_set)
    recipe = DEFAULTS[train_set.format] if augment is None else AUGMENTED_DEFAULTS
    run = start_run(
        train_set,
        eval_set,
        output,
        recipe,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        base=base,
        seed=seed,
        overwrite=overwrite,
        progress=progress,
        say=say,
    )
    if loss is None:
        say(f"loss: {loss_name} (the default for {train_set.format} pairs; choose another with --loss)")
    settings = {**run.settings(), "pooling": pooling}

    set_seed(seed)
    model = load_sentence_transformer(base, pooling)  # type: ignore[arg-type]
    if augment is not None:
        train_set, settings["augment"] = augmented_pairs(
            train_set,
            augment,
            _encoding(model, progress),
            base=base,
            eval_pairs=eval_set,
            seed=seed,
            say=say,
            progress=progress,
        )
        set_seed(seed)  # the same bi-encoder run whether the cross-encoder was trained here or not
    with staged_output(run.output) as staging:
        evaluator = _pair_evaluator(eval_set, str(base or "default")) if eval_set is not None else None
        epochs_log = EpochLog(evaluator(model) if evaluator else {}, progress, say)
        base_weights = _weights_copy(model) if evaluator is not None else None
        best_step = _run_trainer(model, train_set, loss_name, run, evaluator, epochs_log, staging)
        best_epoch = epochs_log.kept_epoch(best_step)  # the trainer has loaded that epoch's weights back
        kept_base = base_weights is not None and not _beats_base(
            epochs_log.history, best_epoch, epochs_log.selection_metric
        )
        if kept_base and base_weights is not None:
            model.load_state_dict(base_weights)
            best_epoch = 0
        _save_model(model, staging)
        result = finished_result(run, loss_name, epochs_log, best_epoch, settings, kept_base)
        if kept_base and result.selection_metric is not None:  # kept_base needs a metric to compare by
            log.warning(
                "no epoch beat the base model on %s (%.2f); its weights are saved unchanged "
                "(kept_base_model in training.json); try a lower learning rate",
                result.selection_metric,
                result.best_metrics[result.selection_metric],
            )
        write_training_report(result, staging)
    log.info("saved %s (epoch %d kept) in %.0f s", run.output, result.best_epoch, result.wall_seconds)
    return result


def _encoding(model: SentenceTransformer, progress: bool) -> Encode:
    """The model's unit vectors for a list of texts, as the augmenting step wants them."""
    return lambda texts: model.encode(
        texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
    )


def check_loss(loss: str) -> LossName:
    """``loss`` itself when it names a bi-encoder loss; else a one-line error listing them."""
    if loss not in LOSSES:
        raise InvalidArgumentError(f"invalid loss {loss!r}; valid: {', '.join(LOSSES)}.")
    return loss


def choose_loss(pairs: PairSet, loss: str | None) -> LossName:
    """The requested loss if it fits the pair layout, else the layout's default (logged)."""
    fitting = LOSSES_FOR[pairs.format]
    if loss is None:
        return fitting[0]
    loss = check_loss(loss)
    if loss not in fitting:
        raise InvalidArgumentError(
            f"loss {loss!r} does not fit {pairs.format} pairs ({pairs.source}); valid for them: {', '.join(fitting)}."
        )
    return loss


def _loss_module(name: LossName, model: SentenceTransformer):
    from sentence_transformers.sentence_transformer import losses

    return {
        "contrastive": losses.ContrastiveLoss,  # Hadsell et al., cosine distance, margin 0.5
        "online-contrastive": losses.OnlineContrastiveLoss,  # the same on the hard pairs of each batch
        "mnrl": losses.MultipleNegativesRankingLoss,  # InfoNCE, other rows' positives as negatives
        "cosent": losses.CoSENTLoss,  # ranks pairs by their gold scores
    }[name](model)


def _run_trainer(
    model: SentenceTransformer,
    pairs: PairSet,
    loss_name: LossName,
    run: TrainingRun,
    evaluator: EpochEvaluator | None,
    epochs_log: EpochLog,
    staging: Path,
) -> int | None:
    """Train in place; with an evaluator, leave the best epoch's weights in ``model``. Returns its global step.

    Checkpoints (one per epoch, weights only) go to ``staging/checkpoints`` and are removed
    here; the trainer keeps the best and the latest of them while it runs.
    """
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from simsearch.training.batching import LengthBucketBatchSampler

    if loss_name == "mnrl" and pairs.format == "labelled":
        pairs = pairs.positives()
    # MNRL takes other rows as negatives, so a batch must not repeat a text; other losses batch by length.
    sampler = BatchSamplers.NO_DUPLICATES if loss_name == "mnrl" else LengthBucketBatchSampler
    checkpoints = staging / "checkpoints"
    args = SentenceTransformerTrainingArguments(**epoch_arguments(run, evaluator, checkpoints, sampler))
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=pairs.to_dataset(),
        loss=_loss_module(loss_name, model),
        evaluator=evaluator,
        callbacks=[epochs_log],
    )
    return train_keeping_best(trainer, checkpoints)


def _pair_evaluator(pairs: PairSet, model_name: str) -> EpochEvaluator:
    """Our pair metrics (simsearch.training.pair_metrics.pair_metrics) of the model being trained: the first
    (average precision, Spearman or nDCG@10, by the layout) selects the best epoch."""
    from simsearch.encoders.models import model_fingerprint
    from simsearch.encoders.torch_encoder import TorchEncoder
    from simsearch.training.pair_metrics import pair_metrics

    return EpochEvaluator(lambda model: pair_metrics(TorchEncoder(model, model_name, model_fingerprint(model)), pairs))


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


def _save_model(model: SentenceTransformer, folder: Path) -> None:
    model.save(str(folder), create_model_card=False)
