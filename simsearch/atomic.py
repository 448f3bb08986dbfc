"""Writing a file or a folder so that a reader sees the old version or the new one, never half of either.

Every file simsearch replaces in place (manifests, vector files, tombstones, exported
models, training reports) goes through ``replacing``: the new content is written to a
temporary file in the same folder, flushed to disk, and renamed over the target. A
crash at any moment leaves at most a stray ``*.tmp`` file, which the next write of the
same target overwrites.

A folder is published the same way (an index build, a trained model, an ONNX export): it is
filled in a ``staged_folder``, removed again if anything fails, and made visible with one
rename (``publish_folder``, or ``rename_into_place`` for the link that names an index build)
once its files are on disk.
"""

from __future__ import annotations

import os
import shutil
import uuid
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


def fsync_tree(folder: Path) -> None:
    """Make every file under ``folder`` and every entry of its folders durable, before a rename publishes them."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # the deepest first
        if path.is_symlink():
            continue
        if path.is_dir():
            fsync_folder(path)
            continue
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    fsync_folder(folder)


@contextmanager
def staged_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new empty folder ``parent/PREFIX<12 hex digits>`` to fill before it is published whole.

    If the block raises, the folder and whatever was written into it are removed, so a failed
    build, training or export leaves nothing half-written behind. It is created afresh (never
    one that exists, nor through a link planted at its name), with the usual folder permissions.
    """
    folder = Path(parent) / f"{prefix}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def rename_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` (a file, a link or a finished folder) over ``target`` and sync their folder, so
    that after a power cut ``target`` names the old version or the new one."""
    os.replace(source, target)
    fsync_folder(Path(target).parent)


def publish_folder(staged: Path, target: Path, *, replace: bool = True) -> None:
    """Make the finished folder ``staged`` (from ``staged_folder``, beside ``target``) appear as ``target``.

    Its files are synced, then it is renamed in one step. An existing ``target`` folder is
    moved aside first and deleted only once the new one is in place (put back if the rename
    fails). With ``replace=False`` an existing ``target`` is kept instead, because another
    process published the same content first, and ``staged`` is deleted. Either way no reader
    sees ``target`` half-written; one that opened the old files keeps reading them.
    """
    fsync_tree(staged)
    if not replace and target.exists():
        shutil.rmtree(staged, ignore_errors=True)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}") if target.exists() else None
    if old is not None:
        os.replace(target, old)
    try:
        rename_into_place(staged, target)
    except OSError:
        if old is not None:
            os.replace(old, target)  # the previous version stays where it was
        elif not replace and target.exists():  # published by another process between the check and the rename
            shutil.rmtree(staged, ignore_errors=True)
            return
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
