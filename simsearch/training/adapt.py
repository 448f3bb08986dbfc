"""Unsupervised domain adaptation: continue training an index's encoder on its own texts, without labels.

The loss is TSDAE (Wang, Reimers and Gurevych, 2021; sentence-transformers' DenoisingAutoEncoderLoss):
60% of each sentence's words are deleted, and a decoder (the encoder's own weights, tied) must
rebuild the sentence from the pooled sentence vector alone. It was chosen over masked-language
modelling followed by a contrastive pass because it trains the sentence vector itself in one
pass (MLM trains the token outputs and would need the second, contrastive stage to repair the
pooled vector) and because the TSDAE paper reports it as the strongest of the unsupervised
objectives it compared for domain adaptation. Long texts are split into sentences first, as
the method was designed for sentences.

The run is resumable: everything goes into ``.NAME.partial`` beside the output folder, with a
checkpoint (weights and optimiser state) every ``checkpoint_steps`` steps; running the same
command again continues from the latest one. The finished model is moved into place only at
the end, so the output folder is either absent or complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from simsearch.errors import InvalidArgumentError
from simsearch.training.run import EpochLog, check_output

log = logging.getLogger(__name__)

DELETION = 0.6  # share of words deleted from each input: the TSDAE paper's best setting
MIN_SENTENCES = 8  # fewer is no corpus to adapt to
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class AdaptSettings:
    """What a run was started with; a partial run resumes only under the same settings."""

    base: str
    sentences: int
    texts_sha1: str
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int


@dataclass(frozen=True)
class AdaptResult:
    output: Path
    settings: AdaptSettings
    steps: int
    resumed_from: int  # the step a previous run had reached; 0 for a fresh run
    final_loss: float | None
    wall_seconds: float


def split_sentences(texts: Sequence[str], min_words: int = 4) -> list[str]:
    """Each text cut at sentence ends, pieces under ``min_words`` words dropped, duplicates once, in order."""
    pieces = (piece.strip() for text in texts for piece in _SENTENCE_END.split(text))
    return list(dict.fromkeys(piece for piece in pieces if len(piece.split()) >= min_words))


def damaged(sentence: str, rng: random.Random, deletion: float = DELETION) -> str:
    """``sentence`` with about ``deletion`` of its words removed at random; at least one word is kept."""
    words = sentence.split()
    kept = [word for word in words if rng.random() >= deletion]
    return " ".join(kept) if kept else rng.choice(words)


def adapt_model(texts: Sequence[str], output: str | Path, *, base: str | Path | None = None, epochs: int = 1,
                batch_size: int = 8, learning_rate: float = 3e-5, seed: int = 42, checkpoint_steps: int = 100,
                overwrite: bool = False, progress: bool = False,
                say: Callable[[str], None] | None = None) -> AdaptResult:
    """Train ``base`` (the default model, a model folder) with TSDAE on ``texts`` and save it to ``output``.

    Hyperparameters default to the TSDAE paper's (batch 8, constant learning rate 3e-5). An
    existing ``output`` is refused unless ``overwrite``; a partial run for the same ``output``
    is resumed when its settings match, refused with the fix when they do not.
    """
    say = say or log.info
    started = time.perf_counter()
    output = check_output(Path(output), overwrite)
    if epochs < 1 or batch_size < 2 or not 0 < learning_rate < 1:
        raise InvalidArgumentError(f"need epochs >= 1, batch size >= 2 and a learning rate in (0, 1) (got {epochs}, "
                                   f"{batch_size}, {learning_rate:g}).")
    sentences = split_sentences(texts)
    if len(sentences) < MIN_SENTENCES:
        raise InvalidArgumentError(f"only {len(sentences)} sentence(s) of 4 words or more to adapt to; adapting "
                                   f"needs at least {MIN_SENTENCES}: add texts to the index first.")
    settings = AdaptSettings(str(base or "default"), len(sentences), _digest(sentences), epochs, batch_size,
                             learning_rate, seed)
    model = _load_model(settings)  # a missing model is refused before anything is written
    staging = output.with_name(f".{output.name}.partial")
    resume = _resume_point(staging, settings)
    if resume is not None:
        say(f"resuming the partial run in {staging} from step {_step_of(resume)}")
    steps, final_loss = _train(model, sentences, settings, staging, resume, checkpoint_steps, progress, say)
    model.save(str(staging / "model"), create_model_card=False)
    result = AdaptResult(output, settings, steps, _step_of(resume) if resume else 0, final_loss,
                         time.perf_counter() - started)
    (staging / "model" / "adapt.json").write_text(json.dumps(_report(result), indent=2))
    _publish(staging, output)
    return result


def _load_model(settings: AdaptSettings) -> Any:
    from transformers import set_seed

    from simsearch.encoders.models import load_sentence_transformer

    set_seed(settings.seed)
    return load_sentence_transformer(None if settings.base == "default" else settings.base)


def _train(model: Any, sentences: list[str], settings: AdaptSettings, staging: Path, resume: Path | None,
           checkpoint_steps: int, progress: bool, say: Callable[[str], None]) -> tuple[int, float | None]:
    """Train ``model`` in place; checkpoints stay in ``staging`` when the run stops early (to resume from)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss
    from transformers import PrinterCallback

    rng = random.Random(settings.seed)  # the same damage on a resumed run, so its data is the same
    pairs = Dataset.from_dict({"damaged": [damaged(s, rng) for s in sentences], "original": sentences})
    say(f"adapting to {len(sentences)} sentences with TSDAE ({settings.epochs} epoch(s), batch "
        f"{settings.batch_size}, a checkpoint every {checkpoint_steps} steps in {staging})")
    args = SentenceTransformerTrainingArguments(
        output_dir=str(staging / "checkpoints"), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
        lr_scheduler_type="constant", seed=settings.seed, data_seed=settings.seed, save_strategy="steps",
        save_steps=checkpoint_steps, save_total_limit=1, logging_steps=1, report_to="none", disable_tqdm=True,
        dataloader_pin_memory=False)
    epochs_log = EpochLog({}, progress, say)
    with _quiet_transformers():  # its load report lists the decoder's new cross-attention weights: expected
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss=loss,
                                         callbacks=[epochs_log])
    trainer.remove_callback(PrinterCallback)  # the bar shows the loss
    trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    final = epochs_log.history[-1].loss if len(epochs_log.history) > 1 else None
    return trainer.state.global_step, final


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def _resume_point(staging: Path, settings: AdaptSettings) -> Path | None:
    """The latest checkpoint of a partial run with the same settings; a fresh staging folder otherwise."""
    recorded = staging / "settings.json"
    if recorded.exists():
        if json.loads(recorded.read_text()) != asdict(settings):
            raise InvalidArgumentError(f"{staging} holds a partial run started with other settings (texts, base or "
                                       "hyperparameters); run with the same ones to resume it, or delete it.")
        checkpoints = sorted((staging / "checkpoints").glob("checkpoint-*"), key=_step_of)
        return checkpoints[-1] if checkpoints else None
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    recorded.write_text(json.dumps(asdict(settings)))
    return None


def _step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])


def _digest(sentences: list[str]) -> str:
    return hashlib.sha1("\n".join(sentences).encode()).hexdigest()


def _report(result: AdaptResult) -> dict[str, Any]:
    import sentence_transformers
    import torch

    return {"method": "TSDAE (DenoisingAutoEncoderLoss, tied decoder)", "deletion": DELETION,
            **asdict(result), "output": str(result.output), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "sentence_transformers": sentence_transformers.__version__}


def _publish(staging: Path, output: Path) -> None:
    """Move the finished model into place (over an old one only after it is complete), then drop the staging."""
    if output.exists():
        shutil.rmtree(output)
    os.replace(staging / "model", output)
    shutil.rmtree(staging, ignore_errors=True)
