"""The index on disk stays safe: nothing outside the index folder is deleted or written through a planted
link, leftovers of killed rebuilds go with the next write, bare strings are refused, unwritable folders are
one clear error with nothing changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from simsearch import Index, drop_index, load_encoder
from simsearch.errors import IndexFolderError, InvalidArgumentError
from simsearch.index.layout import BUILDS, LOCKS


@pytest.fixture
def built(tiny_model, index_dir, animals) -> Index:
    return Index.build("animals", animals, encoder=load_encoder(tiny_model), index_dir=index_dir)


@pytest.fixture
def precious(tmp_path) -> Path:
    """A folder outside the index home that looks like an index and must survive everything."""
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    (folder / "thesis.txt").write_text("years of work")
    return folder


def hits(index: Index) -> list[str]:
    return [h.id for h in index.search("a dog in the park", k=8)]


# --- nothing outside the home is deleted or written ----------------------------------------------
def test_drop_refuses_a_name_that_links_outside_the_home(built, index_dir, precious):
    (index_dir / "evil").symlink_to(precious)
    with pytest.raises(IndexFolderError, match="outside"):
        drop_index("evil", index_dir)
    assert (precious / "thesis.txt").read_text() == "years of work"
    assert (index_dir / "evil").is_symlink()


def test_a_build_folder_linked_outside_is_unlinked_not_emptied(built, index_dir, precious):
    (index_dir / BUILDS / "animals@0123456789ab").symlink_to(precious)
    built.add(["a new text"])
    assert not (index_dir / BUILDS / "animals@0123456789ab").exists()
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_a_link_planted_at_the_lock_path_is_refused_not_followed(built, index_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    lock = index_dir / LOCKS / "animals.lock"
    lock.unlink()
    lock.symlink_to(victim)
    with pytest.raises(IndexFolderError, match="symbolic link"):
        built.add(["a new text"])
    assert victim.read_text() == "keep me" and len(built) == 8


def test_a_linked_locks_folder_is_refused(built, index_dir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(index_dir / LOCKS)
    (index_dir / LOCKS).symlink_to(elsewhere)
    with pytest.raises(IndexFolderError, match="symbolic link"):
        built.delete(["a1"])
    assert list(elsewhere.iterdir()) == [] and len(built) == 8


def test_a_link_planted_at_a_temporary_path_is_replaced_not_written_through(built, index_dir, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (built.folder / f".manifest.json.{os.getpid()}.tmp").symlink_to(victim)  # this process's temp name
    built.add(["a new text"])
    assert victim.read_text() == "keep me"
    assert len(Index.open("animals", index_dir=index_dir)) == 9


# --- leftovers of killed rebuilds ------------------------------------------------------------------
@pytest.mark.parametrize("write", ["add", "delete"])
def test_every_write_removes_leftovers_of_killed_rebuilds(built, index_dir, write):
    leftover = index_dir / BUILDS / "animals@deadbeef0000"
    leftover.mkdir()
    (leftover / "store.sqlite").write_bytes(b"half written")
    temporary_link = index_dir / ".animals.link-0badc0de"
    temporary_link.symlink_to(os.path.relpath(leftover, index_dir))
    other_link = index_dir / ".animals.link-x.link-0badc0de"  # another index's (named 'animals.link-x')
    other_link.symlink_to("nowhere")
    built.add(["a new text"]) if write == "add" else built.delete(["a1"])
    assert not leftover.exists() and not temporary_link.is_symlink()
    assert other_link.is_symlink()
    assert sorted(p.name for p in (index_dir / BUILDS).iterdir()) == [built.folder.name]


# --- bare strings ------------------------------------------------------------------------------------
def test_a_bare_string_is_not_a_list_of_texts_or_ids(built, tiny_model, index_dir):
    with pytest.raises(InvalidArgumentError, match="not one string"):
        Index.build("letters", "abc", encoder=load_encoder(tiny_model), index_dir=index_dir)
    with pytest.raises(InvalidArgumentError, match="not one string"):
        built.add("abc")
    with pytest.raises(InvalidArgumentError, match="not one string"):
        built.delete("a1")
    with pytest.raises(InvalidArgumentError, match="not one string"):
        built.known_ids("a1")
    assert len(built) == 8 and "letters" not in os.listdir(index_dir)


def test_unknown_ids_refuse_the_whole_delete_and_existing_ids_the_whole_add(built):
    from simsearch.errors import InputError

    with pytest.raises(InputError, match="nothing was deleted"):
        built.delete(["a1", "nope"])
    with pytest.raises(InputError, match="already in index"):
        built.add([{"id": "new", "text": "fresh"}, {"id": "a2", "text": "clash"}])
    assert len(built) == 8 and built.known_ids(["a1", "new"]) == {"a1"}


# --- folders that cannot be written ---------------------------------------------------------------
@contextmanager
def read_only(*folders: Path):
    """Make folders really unwritable: chmod for a normal user; as root (which chmod does not stop) chattr +i."""
    root = os.geteuid() == 0
    for folder in folders:
        if root:
            if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
                pytest.skip("running as root and chattr +i is not available here")
        else:
            folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True) if root else folder.chmod(0o755)


@pytest.mark.parametrize("write", ["add", "delete", "rebuild", "build"])
def test_a_read_only_index_folder_is_one_clear_error_and_nothing_changes(built, tiny_model, index_dir, animals, write):
    before = hits(built)
    actions = {
        "add": lambda: built.add(["a new text"]),
        "delete": lambda: built.delete(["a1"]),
        "rebuild": lambda: built.rebuild(),
        "build": lambda: Index.build(
            "animals", animals[:3], encoder=load_encoder(tiny_model), index_dir=index_dir, overwrite=True
        ),
    }
    with read_only(index_dir, index_dir / BUILDS, built.folder):
        with pytest.raises(IndexFolderError, match="make the index folder writable|make it writable") as error:
            actions[write]()
        assert "\n" not in str(error.value)
    reopened = Index.open("animals", index_dir=index_dir)
    assert len(reopened) == 8 and hits(reopened) == before and reopened.folder == built.folder


def test_an_index_in_a_read_only_folder_opens_and_searches_but_refuses_writes(built, index_dir):
    """SQLite's WAL needs a -shm file beside the store; a folder nobody may write is read as immutable."""
    before, folder = hits(built), built.folder
    built.close()  # the last connection: SQLite removes its -wal and -shm files
    with read_only(index_dir, index_dir / BUILDS, folder):
        opened = Index.open("animals", index_dir=index_dir)
        assert hits(opened) == before and opened.check()["ok"]
        with pytest.raises(IndexFolderError, match="make it writable") as error:
            opened.add(["a new text"])
        assert "\n" not in str(error.value)
    assert len(Index.open("animals", index_dir=index_dir)) == 8


def test_an_index_dir_that_is_a_file_is_one_clear_error(tiny_model, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for index_dir in (a_file, a_file / "indexes"):
        with pytest.raises(IndexFolderError, match="index_dir|not a folder|Not a directory"):
            Index.build("x", ["one text"], encoder=load_encoder(tiny_model), index_dir=index_dir)
    with pytest.raises(IndexFolderError, match="is a file"):
        Index.open("x", index_dir=a_file)
    assert a_file.read_text() == "not a folder"
