"""What the UI keeps between reruns: open indexes, loaded models, computed views, the chosen index.

Indexes and models are cached per process (``st.cache_resource``), so the model
loads once and an index opens once. A cached index is reopened when the one on
disk was rebuilt or its metadata rewritten (``Index.is_stale()``); adds and deletes
it follows by the tail, and computed views are keyed by ``Index.version()``; the index
the cache lets go of, replaced or evicted, is closed so its SQLite connection
does not outlive it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from simsearch import Encoder, Index, SimsearchError, describe_index, index_home, list_indexes, load_encoder
from simsearch.encoders import DEFAULT_MODEL, Backend

if TYPE_CHECKING:
    from simsearch.store import Facet

INDEX_KEY = "index_name"  # the sidebar picker's widget key
_PENDING_INDEX = "pending_index_name"  # set before a rerun to move the picker to a new index
_FLASH = "flash_message"


def home() -> str:
    """The index folder this app serves ($SIMSEARCH_HOME, else ./indexes), as the cache key."""
    return str(index_home().resolve())


def home_as_shown() -> str:
    """The index folder as the user named it: relative to where the app started when it lies below it."""
    folder = Path(home())
    return str(folder.relative_to(Path.cwd().resolve())) if folder.is_relative_to(Path.cwd().resolve()) else str(folder)


def index_names() -> list[str]:
    return list_indexes(home())


def _close_index(index: Index) -> None:
    index.close()


@st.cache_resource(show_spinner="Opening the index and loading its model…", max_entries=16, on_release=_close_index)
def _open_index(folder: str, name: str) -> Index:
    index = Index.open(name, index_dir=folder)
    index.encoder.encode(["warm-up"])  # load the model now, once, not on the first query
    return index


def current_index(name: str) -> Index:
    """The cached index ``name``, reopened when the version on disk has changed."""
    index = _open_index(home(), name)
    if index.is_stale():
        _open_index.clear(home(), name)  # this entry only: other indexes may be serving other sessions
        index = _open_index(home(), name)
    return index


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def encoder(model: str, backend: Backend = "torch") -> Encoder:
    return load_encoder(model, backend=backend)


@st.cache_data(show_spinner=False, max_entries=32)
def facets(folder: str, name: str, version: tuple) -> list[Facet]:
    """Metadata drop-downs for one version of an index (``version`` only keys the cache)."""
    return current_index(name).facets()


def index_version(index: Index) -> tuple:
    return index.version()  # moves on with adds and deletes too, which no longer reopen the index


def index_facets(index: Index) -> list[Facet]:
    return facets(home(), index.name, index_version(index))


def known_models() -> list[str]:
    """The default model first, then every model an index here was built with."""
    models = [DEFAULT_MODEL]  # the name manifests record, so the index and this page share one loaded model
    for name in index_names():
        try:
            model = describe_index(name, home()).model["name"]
        except SimsearchError:  # a damaged index must not hide the others' models
            continue
        if model not in models:
            models.append(model)
    return models


def known_rerankers() -> list[str]:
    """The default re-rankers (cross-encoder folders) the indexes here record, each once."""
    folders: list[str] = []
    for name in index_names():
        try:
            folder = describe_index(name, home()).reranker
        except SimsearchError:
            continue
        if folder is not None and folder not in folders:
            folders.append(folder)
    return folders


def select_index_after_rerun(name: str | None, message: str | None = None) -> None:
    """Point the sidebar picker at ``name`` (None: the first) on the next run, and show ``message`` there."""
    st.session_state[_PENDING_INDEX] = name
    if message:
        st.session_state[_FLASH] = message


def apply_pending_selection(names: list[str]) -> None:
    """Call before the picker is drawn: a widget's value can only be set before it exists."""
    if _PENDING_INDEX in st.session_state:
        wanted = st.session_state.pop(_PENDING_INDEX)
        st.session_state[INDEX_KEY] = wanted if wanted in names else (names[0] if names else None)
    elif st.session_state.get(INDEX_KEY) not in names and names:
        st.session_state[INDEX_KEY] = "demo" if "demo" in names else names[0]


def pop_flash() -> str | None:
    return st.session_state.pop(_FLASH, None)


def selected_index_name() -> str | None:
    return st.session_state.get(INDEX_KEY)
