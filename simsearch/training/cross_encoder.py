"""Train a cross-encoder (the re-ranker of simsearch.query.rerankers) on scored or labelled pairs.

The same three ideas as the bi-encoder's training (simsearch.training.bi_encoder): the pairs, a loss
(binary cross-entropy on the 0-1 targets by default), an evaluator (our pair metrics on the
cross-encoder's scores) that sentence-transformers' CrossEncoderTrainer runs after every
epoch and selects the best epoch by. Both orders of every pair are trained on, because
BERT reads ``[CLS] A [SEP] B [SEP]`` asymmetrically while similarity is symmetric.

After training, the weight of a blend with a bi-encoder's cosine is chosen on the
evaluation pairs and recorded beside the weights (simsearch.query.blend.Blend): the two
models err differently, so the mix ranks better than either. The arguments' checks, the staging folder and
the final atomic move (simsearch.training.run), the history and the report (training.json, training.png:
simsearch.training.history) are the bi-encoder's too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from transformers import set_seed

from simsearch.encoders.models import DEFAULT_MODEL
from simsearch.errors import InputError, InvalidArgumentError, ModelNotFoundError, fix
from simsearch.extras import require_extra
from simsearch.numbers import is_whole_number
from simsearch.query.blend import Blend, blended, write_settings
from simsearch.training.history import EpochLog, TrainingResult, finished_result, write_training_report
from simsearch.training.pair_metrics import pair_cosines, pair_score_metrics
from simsearch.training.pairs import PairSet, read_pairs
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
    from datasets import Dataset
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

CrossLoss = Literal["bce", "mse"]
CROSS_LOSSES: tuple[CrossLoss, ...] = get_args(CrossLoss)
# Chosen on STS-B train/dev with the default model's weights (README, "Re-ranking"): every run is listed there.
CROSS_DEFAULTS = Hyperparameters(epochs=2, batch_size=16, learning_rate=8e-5)
MAX_LENGTH = 256  # word pieces of query + text together; STS pairs are far shorter, passages are cut here
BLEND_STEPS = 20  # blend weights tried: 0, 1/20, ..., 1


def train_cross_encoder(
    pairs: str | Path | PairSet,
    output: str | Path,
    *,
    base: str | Path | None = None,
    loss: CrossLoss = "bce",
    epochs: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    eval_pairs: str | Path | PairSet | None = None,
    blend_model: str | None = DEFAULT_MODEL,
    layers: int | None = None,
    seed: int = 42,
    overwrite: bool = False,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train a cross-encoder from ``base`` (default model's transformer, any BERT checkpoint or cross-encoder).

    ``layers`` keeps only the base's first layers: a pass costs about that share of the whole model's, so a
    re-ranker with fewer layers scores its candidates faster, at some cost in quality (README, "Re-ranking").

    With ``eval_pairs`` the best epoch is kept, and the blend with ``blend_model``'s cosine
    (None: no blend) is weighted to score best on them; without, the last epoch, unblended.
    ``output`` receives the model, simsearch-cross-encoder.json, training.json and training.png.
    """
    require_extra("train", "training a cross-encoder")
    train_set = graded_pairs(pairs)
    eval_set = graded_pairs(eval_pairs) if eval_pairs is not None else None
    loss = check_cross_loss(loss)
    run = start_run(
        train_set,
        eval_set,
        output,
        CROSS_DEFAULTS,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        base=base,
        seed=seed,
        overwrite=overwrite,
        progress=progress,
        say=say or log.info,
    )
    settings = {
        **run.settings(),
        "cross_encoder": True,
        "both_orders": True,
        "max_length": MAX_LENGTH,
        "layers": layers,
    }

    set_seed(seed)
    model = base_cross_encoder(base, layers)
    with staged_output(run.output) as staging:
        evaluator = _cross_pair_evaluator(eval_set) if eval_set is not None else None
        epochs_log = EpochLog(evaluator(model) if evaluator else {}, progress, run.say)
        best_step = _run_trainer(model, loss, run, evaluator, epochs_log, staging)
        best_epoch = epochs_log.kept_epoch(best_step)
        blend, blend_report = choose_blend(model, eval_set, blend_model, run.say)
        model.save_pretrained(str(staging))
        write_settings(staging, blend, {"chosen_on": blend_report})
        result = finished_result(run, loss, epochs_log, best_epoch, {**settings, "blend": blend_report})
        write_training_report(result, staging)
    log.info("saved %s (epoch %d kept) in %.0f s", run.output, result.best_epoch, result.wall_seconds)
    return result


def check_cross_loss(loss: str) -> CrossLoss:
    """``loss`` itself when it names a cross-encoder loss; else a one-line error listing them."""
    if loss not in CROSS_LOSSES:
        raise InvalidArgumentError(f"invalid cross-encoder loss {loss!r}; valid: {', '.join(CROSS_LOSSES)}.")
    return loss


def graded_pairs(pairs: str | Path | PairSet) -> PairSet:
    """Pairs with a score or a 0/1 label: what a cross-encoder learns to predict; anchor/positive rows are refused."""
    pair_set = pairs if isinstance(pairs, PairSet) else read_pairs(pairs)
    if pair_set.format == "triplets":
        raise InputError(
            f"{pair_set.source} has anchor/positive rows without scores or labels; a cross-encoder "
            "learns from sentence1,sentence2,score (graded) or sentence1,sentence2,label (0/1)."
        )
    return pair_set


def base_cross_encoder(base: str | Path | None, layers: int | None = None) -> CrossEncoder:
    """A CrossEncoder with one output from ``base`` (its first ``layers`` layers, or all): a bi-encoder's
    transformer gains a fresh scoring head."""
    from sentence_transformers import CrossEncoder
    from transformers.utils import logging as hf_logging

    from simsearch.encoders.models import pick_device, resolve_model

    hf_logging.disable_progress_bar()
    name, source = resolve_model(str(base) if base is not None else DEFAULT_MODEL)
    config = {"num_hidden_layers": _checked_layers(name, source, layers)} if layers is not None else None
    try:
        return CrossEncoder(source, num_labels=1, max_length=MAX_LENGTH, device=pick_device(), config_kwargs=config)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelNotFoundError(f"cannot start a cross-encoder from {name!r} ({first}); {fix('model')}.") from None


def _checked_layers(name: str, source: str, layers: int) -> int:
    from transformers import AutoConfig

    try:
        available = AutoConfig.from_pretrained(source).num_hidden_layers
    except (OSError, ValueError):
        raise ModelNotFoundError(
            f"cannot start a cross-encoder from {name!r} (no readable config.json); {fix('model')}."
        ) from None
    if not is_whole_number(layers) or not 1 <= layers <= available:
        raise InvalidArgumentError(f"layers must be 1 to {available}, the base model's layers (got {layers}).")
    return layers


def both_orders(pairs: PairSet) -> Dataset:
    """Every pair as (A, B) and (B, A) with the same 0-1 target, the columns the trainer's losses expect."""
    from datasets import Dataset

    first, second = pairs.texts["sentence1"], pairs.texts["sentence2"]
    return Dataset.from_dict(
        {"sentence1": first + second, "sentence2": second + first, "label": [float(t) for t in pairs.targets] * 2}
    )


def choose_blend(
    model: CrossEncoder, eval_set: PairSet | None, blend_model: str | None, say: Callable[[str], None]
) -> tuple[Blend, dict[str, Any]]:
    """The blend weight (0 to 1 in steps of 1/BLEND_STEPS) scoring best on the eval pairs; ties go to less blend."""
    if eval_set is None or blend_model is None:
        return Blend(), {}
    from simsearch.encoders import load_encoder

    probabilities = cross_scores(model, eval_set)
    encoder = load_encoder(blend_model)
    cosines = pair_cosines(encoder, eval_set)
    tried = {}
    for step in range(BLEND_STEPS + 1):
        blend = Blend(encoder.name, step / BLEND_STEPS)
        metrics = pair_score_metrics(blended(probabilities, cosines, blend), eval_set)
        tried[round(blend.weight, 4)] = metrics
    metric = next(iter(tried[0.0]))
    weight = max(tried, key=lambda w: (tried[w][metric], -w))
    say(
        f"blend with {encoder.name}: weight {weight:g} gives {metric} {tried[weight][metric]:.2f} on "
        f"{eval_set.source} (cross-encoder alone {tried[0.0][metric]:.2f}, bi-encoder alone {tried[1.0][metric]:.2f})"
    )
    report = {
        "model": encoder.name,
        "weight": weight,
        "metric": metric,
        "pairs": eval_set.source,
        "cross_encoder_alone": tried[0.0],
        "bi_encoder_alone": tried[1.0],
        "blended": tried[weight],
    }
    return Blend(encoder.name if weight > 0 else None, weight), report


def cross_scores(model: CrossEncoder, pairs: PairSet) -> np.ndarray:
    """The cross-encoder's probability for each (sentence1, sentence2), as the re-ranker computes it."""
    was_training = model.training
    scores = model.predict(
        list(zip(pairs.texts["sentence1"], pairs.texts["sentence2"])), batch_size=64, show_progress_bar=False
    )
    model.train(was_training)  # predict switched the model to eval mode
    return np.asarray(scores, dtype=np.float64)


def _run_trainer(
    model: CrossEncoder,
    loss_name: CrossLoss,
    run: TrainingRun,
    evaluator: EpochEvaluator | None,
    epochs_log: EpochLog,
    staging: Path,
) -> int | None:
    """Train in place; with an evaluator, leave the best epoch's weights in ``model``. Returns its global step."""
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses

    from simsearch.training.batching import LengthBucketBatchSampler

    checkpoints = staging / "checkpoints"
    args = CrossEncoderTrainingArguments(**epoch_arguments(run, evaluator, checkpoints, LengthBucketBatchSampler))
    loss = losses.BinaryCrossEntropyLoss(model) if loss_name == "bce" else losses.MSELoss(model)
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=both_orders(run.pairs),
        loss=loss,
        evaluator=evaluator,
        callbacks=[epochs_log],
    )
    return train_keeping_best(trainer, checkpoints)


def _cross_pair_evaluator(pairs: PairSet) -> EpochEvaluator:
    """Our pair metrics (simsearch.training.pair_metrics.pair_score_metrics) of the cross-encoder's scores: the
    first (Spearman for scored pairs, average precision for labelled ones) selects the best epoch."""
    return EpochEvaluator(lambda model: pair_score_metrics(cross_scores(model, pairs), pairs))
