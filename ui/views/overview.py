"""Index overview: what the index is (its manifest) and what it holds (a 2-D map of its embeddings)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd
import streamlit as st

from simsearch import Index
from simsearch.formatting import human_bytes, readable_time
from simsearch.neighbours import CLUSTER_COLUMN
from simsearch.tools import available_methods, embedding_map
from simsearch_ui import components, state

NO_COLOUR = "(none)"
UNSET = "(not set)"  # a point whose document lacks the column: unclustered, say
BROWSE_PAGE = 50
BROWSE_LIMIT = 200_000  # beyond this the whole table would not fit comfortably in the server's memory


@st.cache_data(show_spinner="Projecting the embeddings…", max_entries=16)
def map_points(folder: str, name: str, version: tuple, sample: int, method: str) -> tuple[pd.DataFrame, str, int]:
    """The projected sample as a table, for one version of an index (``version`` only keys the cache)."""
    projected = embedding_map(state.current_index(name), sample=sample, method=method)
    rows = [
        {"id": p.id, "text": p.text, "x": p.x, "y": p.y, **{f"meta:{k}": v for k, v in p.metadata.items()}}
        for p in projected.points
    ]
    caption = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}[projected.method]
    if projected.explained:
        caption += f" (axes explain {projected.explained[0]:.0%} and {projected.explained[1]:.0%} of the variance)"
    return pd.DataFrame(rows), caption, projected.total


def manifest_section(index: Index) -> None:
    info = index.info()
    model = info["model"]
    cells = st.columns(4)
    cells[0].metric("texts", f"{info['count']:,}")
    cells[1].metric("dimension", model["dimension"])
    cells[2].metric("kind", info["kind"])
    cells[3].metric("size on disk", human_bytes(info["size_bytes"]))
    model_rows = [
        ("model", model["name"]),
        ("pooling", model["pooling"]),
        ("max tokens", model["max_seq_length"]),
        ("fingerprint", model["fingerprint"]),
        ("encoder backend", info.get("encoder_backend", "torch")),
        ("simsearch version", info["simsearch_version"] or "unknown"),
    ]
    build_rows = [
        ("kind parameters", json.dumps(info["params"]) if info["params"] else "none"),
        ("built at", readable_time(info["built_at"])),
        ("build took", f"{info['build_seconds']:.1f} s"),
        ("created at", readable_time(info["created_at"])),
        ("last changed", readable_time(info["updated_at"])),
        ("base vectors", f"{info['base_vectors']:,}"),
        ("delta rows (added since)", f"{info['delta_vectors']:,}"),
        ("dead vectors (deleted since)", f"{info['dead_vectors']:,}"),
        ("last compaction", readable_time(info["compacted_at"]) if info["compacted_at"] else "never"),
        ("folder", info["path"]),
    ]
    left, right = st.columns(2)
    for column, title, rows in ((left, "Model", model_rows), (right, "Build", build_rows)):
        lines = [f"| {title} | |", "|---|---|", *(f"| {field} | `{value}` |" for field, value in rows)]
        column.markdown("\n".join(lines))  # a markdown table wraps long values (paths) instead of cutting them


def colour_choices(facets: list, points: pd.DataFrame) -> list[str]:
    """What the map can colour by: a stored clustering first (however many clusters), then the facets."""
    stored = [CLUSTER_COLUMN] if f"meta:{CLUSTER_COLUMN}" in points else []
    return [*stored, *(f.column for f in facets if f.column not in stored), NO_COLOUR]


def map_section(index: Index) -> None:
    st.subheader("Map of the embeddings")
    left, middle, right = st.columns(3)
    methods = available_methods()  # the clustering one first: PCA's two axes explain a few percent
    method = middle.selectbox(
        "Projection",
        methods,
        format_func={"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}.get,
        help="t-SNE and UMAP keep neighbours together, so clusters show; PCA is exact and "
        "instant but blurs them. UMAP appears when umap-learn is installed.",
    )
    sample = right.number_input("Sample at most", min_value=100, max_value=20_000, value=2_000, step=500)
    points, caption, total = map_points(state.home(), index.name, state.index_version(index), int(sample), method)
    colour = left.selectbox(
        "Colour by",
        colour_choices(state.index_facets(index), points),
        help="A metadata column; `cluster` is what `simsearch cluster` stored.",
    )
    shown = f"{len(points):,} of {total:,} texts (a random sample)" if len(points) < total else f"all {total:,} texts"
    st.caption(f"{caption} · {shown} · hover a point for its text; scroll to zoom, drag to pan.")
    points["label"] = points["text"].str.slice(0, 120)
    tooltip = [alt.Tooltip("label:N", title="text"), alt.Tooltip("id:N")]
    encoding = {}
    if colour != NO_COLOUR:
        points[colour] = points[f"meta:{colour}"].fillna(UNSET).astype(str)
        scheme = "tableau10" if points[colour].nunique() <= 10 else "tableau20"
        encoding["color"] = alt.Color(
            field=colour,
            type="nominal",
            scale=alt.Scale(scheme=scheme),
            legend=alt.Legend(title=colour, orient="right"),
        )
        tooltip.append(alt.Tooltip(field=colour, type="nominal"))
    chart = (
        alt.Chart(points.drop(columns=[c for c in points if c.startswith("meta:")]))
        .mark_circle(size=70, opacity=0.75)
        .encode(
            x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            tooltip=tooltip,
            **encoding,
        )
        .properties(height=520)
        .interactive()
    )
    st.altair_chart(chart, width="stretch")


@st.cache_data(show_spinner=False, max_entries=8)
def all_documents(folder: str, name: str, version: tuple) -> pd.DataFrame:
    """Every stored text in id order, for one version of an index (``version`` only keys the cache)."""
    index = state.current_index(name)
    documents = sorted(index.sample_documents(len(index)), key=lambda d: d.row_id)
    return pd.DataFrame([{"id": d.id, "text": d.text, **d.metadata} for d in documents])


def browse_section(index: Index) -> None:
    st.subheader("Browse the texts")
    if len(index) > BROWSE_LIMIT:
        st.caption(f"{len(index):,} texts: too many to list here; search for them, or export with the CLI.")
        return
    table = all_documents(state.home(), index.name, state.index_version(index))
    contains = st.text_input("Show texts containing", key=f"browse-filter-{index.name}")
    if contains:
        table = table[table["text"].str.contains(contains, case=False, regex=False)]
    pages = max(1, -(-len(table) // BROWSE_PAGE))
    page = st.number_input(
        f"Page (of {pages}, {BROWSE_PAGE} texts each)",
        min_value=1,
        max_value=pages,
        value=1,
        key=f"browse-page-{index.name}-{contains}",
    )
    st.dataframe(table.iloc[(page - 1) * BROWSE_PAGE : page * BROWSE_PAGE], hide_index=True, key="browse-table")


def render() -> None:
    st.title("Index overview")
    name = state.selected_index_name()
    if name is None:
        st.info("No indexes yet. Build one on the **Build** page.")
        return
    index = state.current_index(name)
    st.caption(f"Index **{name}**")
    manifest_section(index)
    map_section(index)
    browse_section(index)


components.guarded(render)
