"""Build page: a new index from an uploaded file, with a live progress bar; rebuild or drop one."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from simsearch import Index, drop_index, read_corpus
from simsearch.encoders import BACKENDS
from simsearch.errors import IndexExistsError, InputError
from simsearch.formatting import count, human_bytes
from simsearch.ingest import SUPPORTED_EXTENSIONS, guess_text_column, read_columns, read_rows
from simsearch.vectors import KINDS
from simsearch_ui import components, limits, state

NUMBERED = "(number the texts)"
OTHER_MODEL = "another model folder or hub id…"
REPLACE = "Replace an index of the same name"


def saved_upload(upload) -> Path:
    """The upload as a file with its own extension (the corpus reader goes by it), written once per upload."""
    paths = st.session_state.setdefault("upload_paths", {})
    if upload.file_id not in paths:
        for old in paths.values():  # one upload kept per browser session, so a long-running server stays small
            shutil.rmtree(Path(old).parent, ignore_errors=True)
        paths.clear()
        folder = Path(tempfile.mkdtemp(prefix="simsearch-upload-"))
        path = folder / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        paths[upload.file_id] = str(path)
    return Path(paths[upload.file_id])


def suggested_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(filename).stem).strip("-._")
    return stem[:64] or "my-index"


def new_index_section() -> tuple[str, str] | None:
    st.subheader("New index from a file")
    limit = limits.max_upload_bytes()
    upload = st.file_uploader(
        f"Texts: {', '.join(SUPPORTED_EXTENSIONS)} (up to {human_bytes(limit)})",
        type=[ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS],
        max_upload_size=max(1, -(-limit // 2**20)),
        key=f"upload-{st.session_state.get('upload_round', 0)}",  # a new key after a build empties the box
    )
    if upload is None:
        st.caption(
            "A .txt file holds one text a line; .csv, .jsonl and .parquet files have a text column and "
            "optionally an id column; every other column becomes metadata you can filter on."
        )
        return None
    if upload.size > limit:
        raise InputError(
            f"{upload.name} is {human_bytes(upload.size)}, over this page's "
            f"{human_bytes(limit)} limit; build it with `simsearch build NAME --input "
            f"{upload.name}` instead."
        )
    path = saved_upload(upload)
    columns = read_columns(path)
    guess = guessed_text_column(path, columns)
    preview_rows(path)
    left, right = st.columns(2)
    text_column = left.selectbox(
        "Text column",
        columns,
        index=columns.index(guess) if guess else None,
        placeholder="Choose the column holding the texts",
        key="text-column",
    )
    id_choices = [NUMBERED, *(c for c in columns if c != text_column)]
    id_column = right.selectbox(
        "Id column", id_choices, index=id_choices.index("id") if "id" in id_choices else 0, key="id-column"
    )
    name = left.text_input("Index name", suggested_name(upload.name), key=f"index-name-{upload.file_id}")
    models = state.known_models()
    model = right.selectbox("Model", [*models, OTHER_MODEL], key="build-model")
    if model == OTHER_MODEL:
        model = right.text_input("Model folder or hub id", placeholder="/path/to/model").strip()
    kind = left.selectbox(
        "Index kind", KINDS, key="build-kind", help="auto: exact flat search up to 20,000 texts, HNSW above."
    )
    backend = right.selectbox(
        "Backend",
        BACKENDS,
        key="build-backend",
        help="torch: the reference. onnx: the same vectors, faster on CPU, without torch at "
        "search time. onnx-int8: quantized, faster again, vectors very slightly off.",
    )
    overwrite = left.checkbox(REPLACE, value=False, key="build-replace")
    if not st.button("Build index", type="primary", icon=":material/play_arrow:"):
        return None
    if text_column is None:
        raise InputError("no column looks like texts; pick the column holding them under Text column.")
    if not model:
        raise InputError("no model given; type a model folder or hub id in Model, or pick one from the list.")
    if name.strip() in state.index_names() and not overwrite:  # before any work, in the words of this page
        raise IndexExistsError(
            f"index {name.strip()!r} exists already; tick “{REPLACE}” to replace it, or choose another Index name."
        )
    corpus = read_corpus(path, text_column=text_column, id_column=None if id_column == NUMBERED else id_column)
    with components.build_progress(f"Building {name}") as progress:
        encoder = state.encoder(model, backend)
        progress.model_loaded()
        index = Index.build(
            name,
            corpus,
            encoder=encoder,
            kind=kind,
            overwrite=overwrite,
            on_progress=progress.report,
            index_dir=state.home(),
        )
    st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
    skipped = f" ({corpus.skipped_blank} blank rows skipped)" if corpus.skipped_blank else ""
    return index.name, (
        f"Built index **{index.name}**: {count(len(index), 'text')}{skipped}, kind {index.manifest.kind}."
    )


def guessed_text_column(path: Path, columns: list[str]) -> str | None:
    """The column to offer first as the texts: the longest strings, never ``id`` (``guess_text_column``)."""
    if path.suffix.lower() == ".txt":
        return columns[0]
    return guess_text_column(read_rows(path))


def preview_rows(path: Path, shown: int = 5) -> None:
    """The first rows of the upload as a table, so a wrong column or a mangled file shows before building."""
    if path.suffix.lower() == ".txt":
        with path.open(encoding="utf-8", errors="replace") as lines:
            rows = [{"text": line.rstrip("\n")} for line, _ in zip(lines, range(shown))]
    else:
        rows = read_rows(path)[:shown]
    st.caption(f"First {count(len(rows), 'row')} of the file")
    st.dataframe(pd.DataFrame(rows).astype(str), hide_index=True, key="upload-preview")


def existing_index_section() -> tuple[str | None, str] | None:
    name = state.selected_index_name()
    if name is None:
        return None
    st.subheader(f"Rebuild or drop “{name}”")
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown("**Rebuild**: re-encode the stored texts into a new build and swap it in; ids stay.")
        kinds = ["(keep current)", *KINDS]
        # keyed by the index: a choice made for one index never carries over to the next one picked
        kind = st.selectbox("Kind for the rebuild", kinds, key=f"rebuild-kind-{name}")
        if st.button("Rebuild", icon=":material/autorenew:", key=f"rebuild-{name}"):
            index = state.current_index(name)
            with components.build_progress(f"Rebuilding {name}") as progress:
                progress.model_loaded()  # the index's model is loaded with it
                new = index.rebuild(kind=None if kind == kinds[0] else kind, on_progress=progress.report)
            return name, f"Rebuilt index **{name}**: {count(len(new), 'text')}, kind {new.manifest.kind}."
    with right.container(border=True):
        st.markdown("**Drop**: delete the index and every file of it. This cannot be undone.")
        sure = st.checkbox(f"Yes, delete “{name}” for good", key=f"drop-confirm-{name}")
        if st.button("Drop index", type="primary", disabled=not sure, icon=":material/delete:", key=f"drop-{name}"):
            drop_index(name, index_dir=state.home())
            return None, f"Dropped index **{name}**."
    return None


def render() -> tuple[str | None, str] | None:
    st.title("Build")
    flash = state.pop_flash()
    if flash:
        st.success(flash)
    done = components.guarded(new_index_section)  # each section guarded alone: a failed build
    st.divider()  # keeps Rebuild and Drop on the page
    return done or components.guarded(existing_index_section)


outcome = render()
if outcome is not None:  # outside the guards: st.rerun stops this run
    state.select_index_after_rerun(*outcome)
    st.rerun()
