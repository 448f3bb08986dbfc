"""simsearch web UI: pick an index, type a query, see ranked results.

Run with `make run` or `simsearch ui`. Only the public Python API is used here;
indexes (and through them the model) are cached across Streamlit reruns.
"""

from __future__ import annotations

import time

import streamlit as st

from simsearch import Index, SimsearchError, list_indexes


@st.cache_resource(show_spinner="Opening index and loading the model…")
def open_index(name: str) -> Index:
    index = Index.open(name)
    index.encoder.encode(["warm-up"])  # load the model now, once, not on the first query
    return index


def current_index(name: str) -> Index:
    """The cached index, reopened when a rebuild or add has changed it on disk."""
    index = open_index(name)
    if index.is_stale():
        open_index.clear()
        index = open_index(name)
    return index


def show_hits(hits) -> None:
    for rank, hit in enumerate(hits, start=1):
        with st.container(border=True):
            left, right = st.columns([5, 1])
            left.markdown(f"**{rank}.** {hit.text}")
            right.metric("cosine", f"{hit.score:.3f}", label_visibility="collapsed")
            right.progress(max(0.0, min(1.0, hit.score)))
            if hit.metadata:
                left.caption(" · ".join(f"{key}: {value}" for key, value in hit.metadata.items()) + f" · id {hit.id}")
            else:
                left.caption(f"id {hit.id}")


def main() -> None:
    st.set_page_config(page_title="simsearch", page_icon="🔎", layout="wide")
    st.title("simsearch")
    st.caption("Find the sentences that mean the same as yours.")
    names = list_indexes()
    if not names:
        st.info("No indexes yet. Build one with `simsearch build NAME --input FILE`.")
        return
    name = st.sidebar.selectbox("Index", names, index=names.index("demo") if "demo" in names else 0)
    k = st.sidebar.slider("Results (k)", min_value=1, max_value=50, value=10)
    query = st.text_input("Query", placeholder="Type a sentence and press Enter")
    if not query:
        return
    try:
        index = current_index(name)
        started = time.perf_counter()
        hits = index.search(query, k=k)
        elapsed_ms = (time.perf_counter() - started) * 1000
    except SimsearchError as error:
        st.error(str(error))
        return
    st.caption(f"{len(hits)} results from {len(index)} texts in {elapsed_ms:.0f} ms")
    show_hits(hits)


main()
