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

import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from simsearch.atomic import rename_into_place, staged_folder
from simsearch.errors import (
    IndexBusyError,
    IndexFolderError,
    IndexNotFoundError,
    InvalidArgumentError,
    SimsearchError,
    fix,
)
from simsearch.index.manifest import MANIFEST_FILE, Manifest, read_manifest

BUILDS = ".builds"
LOCKS = ".locks"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def index_home(index_dir: str | Path | None = None) -> Path:
    """``index_dir`` if given, else ``$SIMSEARCH_HOME``, else ``./indexes``."""
    chosen = index_dir or os.environ.get("SIMSEARCH_HOME") or "indexes"
    home = Path(chosen).expanduser()
    if home.exists() and not home.is_dir():
        raise IndexFolderError(f"index folder {home} is a file, not a folder; {fix('index_dir')}.")
    return home


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


def changed_since(home: Path, manifest: Manifest) -> bool:
    """Whether the index ``manifest`` describes was rebuilt or changed on disk since it was read (or is gone)."""
    try:
        current = read_manifest(current_folder(home, manifest.name))
    except SimsearchError:
        return True
    return (current.build_id, current.updated_at) != (manifest.build_id, manifest.updated_at)


def drop_index(name: str, index_dir: str | Path | None = None) -> None:
    """Delete an index and every build of it; refused while another process changes it."""
    home = index_home(index_dir)
    with writer_lock(home, check_name(name)):
        remove_index(home, name)


def list_index_names(home: Path) -> list[str]:
    if not home.is_dir():
        return []
    return sorted(
        entry.name for entry in home.iterdir() if not entry.name.startswith(".") and (entry / MANIFEST_FILE).exists()
    )


def current_folder(home: Path, name: str) -> Path:
    """The build folder the name points at now; IndexNotFoundError lists the known names."""
    link = home / check_name(name)
    if not (link / MANIFEST_FILE).exists():
        known = ", ".join(list_index_names(home)) or "none yet"
        raise IndexNotFoundError(f"no index named {name!r} in {home} (known: {known}); {fix('build', name)}.")
    folder = link.resolve()
    if link.is_symlink() and folder.parent != _own_folder(home, BUILDS).resolve():
        raise IndexFolderError(
            f"{link} is a link to {folder}, outside {home / BUILDS}; simsearch will not read, change or delete "
            "it there: remove the link yourself, or move that index into the index folder."
        )
    return folder


def exists(home: Path, name: str) -> bool:
    return (home / check_name(name) / MANIFEST_FILE).exists()


@contextmanager
def new_build_folder(home: Path, name: str) -> Iterator[Path]:
    """A fresh build folder ``.builds/NAME@<build id>``, removed again if the build fails before it is published."""
    with staged_folder(_own_folder(home, BUILDS), f"{name}@") as folder:
        yield folder


def publish(home: Path, name: str, folder: Path) -> None:
    """Point ``home/name`` at ``folder`` with one atomic rename, then delete older builds."""
    link = home / name
    if link.is_dir() and not link.is_symlink():
        _adopt_plain_folder(home, name)
    temporary = home / f".{name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(folder, home), temporary)
    rename_into_place(temporary, link)
    remove_unused_builds(home, name)


def remove_unused_builds(home: Path, name: str) -> None:
    """Delete build folders of ``name`` that the link does not point at, and stray temporary links.

    Every write calls this under the writer lock: then no build of this name is in
    progress, so every unlinked folder is a leftover of an interrupted or replaced
    build (a SIGKILLed rebuild), and every ``.NAME.link-…`` a link a killed publish
    never renamed. Links are unlinked, never followed. Processes still reading a
    removed folder keep their open files.
    """
    temporary_link = re.compile(rf"^\.{re.escape(name)}\.link-[0-9a-f]{{8}}$")
    for entry in home.iterdir() if home.is_dir() else ():
        if temporary_link.match(entry.name) and entry.is_symlink():
            entry.unlink(missing_ok=True)
    builds = _own_folder(home, BUILDS)
    if not builds.is_dir():
        return
    link = home / name
    keep = link.resolve() if link.exists() else None
    for folder in builds.glob(f"{name}@*"):  # '@' cannot occur in a name, so no other index matches
        if folder.is_symlink():
            folder.unlink(missing_ok=True)
        elif folder.resolve() != keep:
            shutil.rmtree(folder, ignore_errors=True)


def remove_index(home: Path, name: str) -> None:
    folder = current_folder(home, name)  # refuses a link leading outside the home
    (home / name).unlink() if (home / name).is_symlink() else shutil.rmtree(home / name)
    shutil.rmtree(folder, ignore_errors=True)
    remove_unused_builds(home, name)


LOCK_TIMEOUT = "SIMSEARCH_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 5.0  # seconds a writer queues for another's lock; one-document adds take milliseconds


def lock_timeout() -> float:
    """How long a writer waits for the lock: ``$SIMSEARCH_LOCK_TIMEOUT`` seconds (0: refused at once), else 5."""
    given = os.environ.get(LOCK_TIMEOUT)
    if given is None or given.strip() == "":
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise InvalidArgumentError(
            f"{LOCK_TIMEOUT}={given!r} is not a number of seconds from 0 to 3600; set it to e.g. 5, or unset it."
        )
    return seconds


@contextmanager
def compaction_lock(home: Path, name: str, wait: bool = True) -> Iterator[bool]:
    """One compaction per index across processes; yields False (instead of waiting) when ``wait`` is False
    and a compaction runs. Separate from the writer lock, which a compaction holds only for its last moment."""
    locks = _own_folder(home, LOCKS)
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(locks / f"{name}@compact.lock", timeout=-1 if wait else 0)  # '@' never occurs in a name
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


@contextmanager
def writer_lock(home: Path, name: str) -> Iterator[None]:
    """One writer per index across processes; a second writer queues for ``lock_timeout()`` seconds (a few
    one-document adds), then is refused with "try again".

    The lock file lives in ``home/.locks`` (not in a build folder, which a rebuild replaces).
    A link planted at the lock path or at ``.locks`` is refused, not followed (filelock
    opens with O_NOFOLLOW since 3.20.1; the check keeps older versions safe too). A
    folder that cannot be written (read-only, or a file where a folder belongs) is
    reported as IndexFolderError, from the lock or from the write inside the block.
    """
    try:
        locks = _own_folder(home, LOCKS)
        locks.mkdir(parents=True, exist_ok=True)
        path = locks / f"{name}.lock"
        if path.is_symlink():
            raise IndexFolderError(f"lock file {path} is a symbolic link; simsearch will not follow it: delete it.")
        lock = FileLock(path, timeout=lock_timeout())
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"index {name!r} is being changed by another process; try again when it has finished."
        ) from None
    except OSError as exc:
        raise _unwritable(home, exc) from None
    try:
        yield
    except OSError as exc:
        raise _unwritable(home, exc) from None
    finally:
        lock.release()


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _own_folder(home: Path, name: str) -> Path:
    """``home/.builds`` or ``home/.locks``; refused when it is a link: all simsearch writes stays in the home."""
    path = home / name
    if path.is_symlink():
        raise IndexFolderError(f"{path} is a symbolic link; simsearch keeps its files inside {home}: delete the link.")
    return path


def _unwritable(home: Path, exc: OSError) -> IndexFolderError:
    if exc.errno == errno.ENOSPC:
        return IndexFolderError(
            f"the disk holding index folder {home} is full; free some space and try again. Nothing was changed."
        )
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return IndexFolderError(
        f"cannot write in index folder {home}: {reason}{where}; make it writable or "
        f"{fix('index_dir')}. Nothing was changed."
    )


def _adopt_plain_folder(home: Path, name: str) -> None:
    """An index copied in as a plain folder moves under .builds so it can be swapped atomically."""
    target = _own_folder(home, BUILDS) / f"{name}@adopted-{uuid.uuid4().hex[:8]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(home / name, target)
    os.symlink(os.path.relpath(target, home), home / name)
