"""Writing a file so that a reader sees the old version or the new one, never half of either.

Every file simsearch replaces in place (manifests, vector files, tombstones, exported
models, training reports) goes through ``replacing``: the new content is written to a
temporary file in the same folder, flushed to disk, and renamed over the target. A
crash at any moment leaves at most a stray ``*.tmp`` file, which the next write of the
same target overwrites.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from simsearch.errors import InputError, InvalidArgumentError, fix


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, it becomes ``path`` atomically.

    The block writes the temporary file however it likes (``faiss.write_index``,
    ``numpy.save``, ``onnx.save``); if it raises, the temporary file is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A stale temporary (or a link planted there) is removed, never written through: the
    # file is created afresh with O_EXCL | O_NOFOLLOW before the block writes into it.
    temporary.unlink(missing_ok=True)
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644))
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries durable: a new or renamed name survives a power cut only once its folder is synced."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def check_output(output: str | Path, overwrite: bool, suffixes: Sequence[str]) -> Path:
    """``output`` as a Path when a command may write it: a known extension, an existing folder, not taken.

    Checked before any slow work, so a bad path is refused before encoding starts.
    """
    output = Path(output)
    if output.suffix.lower() not in suffixes:
        raise InvalidArgumentError(
            f"unknown output extension {output.suffix or '(none)'!r} in {output.name!r}; valid: {', '.join(suffixes)}."
        )
    if not output.parent.is_dir():
        raise InputError(f"folder {str(output.parent)!r} does not exist; create it or choose another output.")
    if output.exists() and not overwrite:
        raise InputError(f"{str(output)!r} exists already; {fix('overwrite')} to replace it.")
    return output
