"""Search page: a query, k and metadata filters in; ranked hits with scores, latency and actions out."""

from __future__ import annotations

import streamlit as st

from simsearch import Hit
from simsearch_ui import components, state

ANY = "any"


def find_similar(hit: Hit) -> None:
    """Button callback: search again with this hit's text (callbacks may set widget values)."""
    st.session_state["query"] = st.session_state["_query"] = hit.text


def explain(hit: Hit) -> None:
    st.session_state["explain_request"] = {
        "index": state.selected_index_name(), "query": st.session_state.get("query", ""),
        "text": hit.text, "id": hit.id, "score": hit.score,
    }


def remember_query() -> None:
    st.session_state["query"] = st.session_state["_query"]


def render() -> None:
    st.title("Search")
    flash = state.pop_flash()
    if flash:
        st.success(flash)
    name = state.selected_index_name()
    if name is None:
        st.info("No indexes yet. Build one on the **Build** page, or with `simsearch build NAME --input FILE`.")
        return
    index = state.current_index(name)
    st.caption(f"Index **{name}**: {len(index):,} texts · model `{index.manifest.model['name']}` · "
               f"kind {index.manifest.kind}")
    st.session_state.setdefault("query", "")
    st.session_state["_query"] = st.session_state["query"]  # keeps the query when coming back from another page
    query_column, k_column = st.columns([5, 1], vertical_alignment="bottom")
    query_column.text_input("Query", key="_query", on_change=remember_query,
                            placeholder="Type a sentence and press Enter")
    k = k_column.number_input("Results (k)", min_value=1, max_value=100, value=10, step=1, key="k")
    filters = filter_widgets(index)
    query = st.session_state["query"]
    if not query:
        return
    result = index.query([query], k=int(k), filters=filters)
    hits, timings = result.hits[0], result.timings
    scope = f" matching {', '.join(f'{c} = {v}' for c, v in filters.items())}" if filters else ""
    st.caption(f"{len(hits)} results{scope} from {len(index):,} texts in {timings.total_ms:.0f} ms "
               f"(encode {timings.encode_ms:.1f} ms · search {timings.candidates_ms + timings.fetch_ms:.1f} ms)")
    if not hits:
        st.info("No text matches these filters. Set a filter back to “any”.")
    for rank, hit in enumerate(hits, start=1):
        components.hit_card(rank, hit, key=f"hit-{rank}", on_similar=find_similar, on_explain=explain)


def filter_widgets(index) -> dict:
    """One select per low-cardinality metadata column; "any" leaves the column unfiltered."""
    facets = state.index_facets(index)
    if not facets:
        return {}
    filters = {}
    columns = st.columns(4)  # a quarter of the width each, however few columns there are
    for number, facet in enumerate(facets):
        labels = {f"{value} ({count})": value for value, count in zip(facet.values, facet.counts)}
        chosen = columns[number % len(columns)].selectbox(
            facet.column, [ANY, *labels], key=f"filter-{index.name}-{facet.column}")
        if chosen != ANY:
            filters[facet.column] = labels[chosen]
    return filters


components.guarded(render)
if "explain_request" in st.session_state:  # outside the guard: switch_page stops this run
    st.switch_page("views/explain.py")
