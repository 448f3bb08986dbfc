"""Where named indexes live on disk, and how a new version replaces an old one atomically.

``indexes/NAME`` is a symbolic link to a complete build folder under
``indexes/.builds/``. A build or rebuild writes a fresh folder, then swaps the
link with one ``rename``: a crash at any moment leaves the old link (old index)
or the new one (new index), never a mix. Processes that opened the old folder
keep reading it until they reopen.

Listing, describing and dropping indexes live here too: they need only these
paths and the manifest, never an opened index.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from simsearch.errors import IndexBusyError, IndexNotFoundError, InvalidArgumentError
from simsearch.manifest import MANIFEST_FILE, Manifest, read_manifest

BUILDS = ".builds"
LOCKS = ".locks"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def index_home(index_dir: str | Path | None = None) -> Path:
    """``index_dir`` if given, else ``$SIMSEARCH_HOME``, else ``./indexes``."""
    chosen = index_dir or os.environ.get("SIMSEARCH_HOME") or "indexes"
    return Path(chosen).expanduser()


def check_name(name: str) -> str:
    """Refuse names that could escape the index folder or confuse a shell."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidArgumentError(
            f"invalid index name {name!r}; use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/' or '..')."
        )
    return name


def list_indexes(index_dir: str | Path | None = None) -> list[str]:
    """The names of the indexes in ``index_dir`` (see ``index_home``), sorted."""
    return list_index_names(index_home(index_dir))


def describe_index(name: str, index_dir: str | Path | None = None) -> Manifest:
    """An index's manifest (model, kind, count, times) without opening its store or vectors."""
    return read_manifest(current_folder(index_home(index_dir), name))


def drop_index(name: str, index_dir: str | Path | None = None) -> None:
    """Delete an index and every build of it; refused while another process changes it."""
    home = index_home(index_dir)
    with writer_lock(home, check_name(name)):
        remove_index(home, name)


def list_index_names(home: Path) -> list[str]:
    if not home.is_dir():
        return []
    return sorted(
        entry.name
        for entry in home.iterdir()
        if not entry.name.startswith(".") and (entry / MANIFEST_FILE).exists()
    )


def current_folder(home: Path, name: str) -> Path:
    """The build folder the name points at now; IndexNotFoundError lists the known names."""
    link = home / check_name(name)
    if not (link / MANIFEST_FILE).exists():
        known = ", ".join(list_index_names(home)) or "none yet"
        raise IndexNotFoundError(
            f"no index named {name!r} in {home} (known: {known}); build it with `simsearch build {name} --input FILE`."
        )
    return link.resolve()


def exists(home: Path, name: str) -> bool:
    return (home / check_name(name) / MANIFEST_FILE).exists()


@contextmanager
def new_build_folder(home: Path, name: str) -> Iterator[Path]:
    """A fresh build folder, removed again if the build fails before it is published."""
    folder = home / BUILDS / f"{name}@{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(home: Path, name: str, folder: Path) -> None:
    """Point ``home/name`` at ``folder`` with one atomic rename, then delete older builds."""
    link = home / name
    if link.is_dir() and not link.is_symlink():
        _adopt_plain_folder(home, name)
    temporary = home / f".{name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(folder, home), temporary)
    os.replace(temporary, link)
    _fsync_dir(home)
    remove_unused_builds(home, name)


def remove_unused_builds(home: Path, name: str) -> None:
    """Delete build folders of ``name`` that the link does not point at.

    Call only under the writer lock: then no build of this name is in progress,
    so every unlinked folder is a leftover of an interrupted or replaced build.
    Processes still reading a removed folder keep their open files.
    """
    builds = home / BUILDS
    if not builds.is_dir():
        return
    link = home / name
    keep = link.resolve() if link.exists() else None
    for folder in builds.glob(f"{name}@*"):  # '@' cannot occur in a name, so no other index matches
        if folder.resolve() != keep:
            shutil.rmtree(folder, ignore_errors=True)


def remove_index(home: Path, name: str) -> None:
    folder = current_folder(home, name)
    (home / name).unlink() if (home / name).is_symlink() else shutil.rmtree(home / name)
    shutil.rmtree(folder, ignore_errors=True)
    remove_unused_builds(home, name)


@contextmanager
def writer_lock(home: Path, name: str) -> Iterator[None]:
    """One writer per index across processes; a second writer is refused at once, not queued.

    The lock file lives in ``home/.locks`` (not in a build folder, which a rebuild replaces).
    """
    locks = home / LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(locks / f"{name}.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"index {name!r} is being changed by another process; try again when it has finished."
        ) from None
    try:
        yield
    finally:
        lock.release()


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _adopt_plain_folder(home: Path, name: str) -> None:
    """An index copied in as a plain folder moves under .builds so it can be swapped atomically."""
    target = home / BUILDS / f"{name}@adopted-{uuid.uuid4().hex[:8]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(home / name, target)
    os.symlink(os.path.relpath(target, home), home / name)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
