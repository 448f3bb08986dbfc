"""Search page: a query, k, the search mode and metadata filters in; ranked hits with scores, latency and actions out.

The query, k, the mode and the filters live in the URL (?q=…&k=…&mode=…&filter-INDEX-COLUMN=…), so a reload
keeps them and a link shares them. They are copied to and from ``st.query_params`` by hand:
Streamlit 1.67's ``bind="query-params"`` on the query box stops ``st.switch_page`` (the
Explain button) from leaving the page.
"""

from __future__ import annotations

import hashlib
import math

import streamlit as st

from simsearch import Hit
from simsearch.search import DEFAULT_MODE, MODES
from simsearch_ui import components, results, state

ANY = "any"
PAGE_SIZE = 20  # result cards per page: k=100 on one page was 14,000 px tall
QUERY_KEY, K_KEY, MODE_KEY = "q", "k", "mode"  # the widget keys, which are also the URL's parameter names
_MODE_HELP = ("dense: by meaning (cosine) · lexical: by shared words (BM25) · "
              "hybrid: both lists, scores scaled to 0-1 and summed, meaning weighted 1.5")
_SIMILAR_TO = "similar_to"  # the hit "Find similar" started from, left out of its own results
_FOCUSED = "query_focused"
_FOCUS_QUERY_BOX = """<script>
(function focusQuery(tries) {
  const box = window.parent.document.querySelector('input[aria-label="Query"]') ||
              document.querySelector('input[aria-label="Query"]');
  if (box) { box.focus(); } else if (tries > 0) { setTimeout(() => focusQuery(tries - 1), 100); }
})(50);
</script>"""


def find_similar(hit: Hit) -> None:
    """Button callback: search again with this hit's text (callbacks may set widget values)."""
    st.session_state[QUERY_KEY] = hit.text
    st.session_state[_SIMILAR_TO] = {"id": hit.id, "text": hit.text}


def explain(hit: Hit) -> None:
    st.session_state["explain_request"] = {
        "index": state.selected_index_name(), "query": st.session_state.get(QUERY_KEY, ""),
        "text": hit.text, "id": hit.id, "score": hit.score,
    }


def typed_query() -> None:
    st.session_state.pop(_SIMILAR_TO, None)  # a query the user typed has no source text to leave out


def from_url(key: str, convert, default) -> None:
    """A widget's first value from the URL (a reload or a shared link); later the widget's own state rules."""
    if key in st.session_state:
        return
    try:
        st.session_state[key] = convert(st.query_params[key]) if key in st.query_params else default
    except ValueError:  # a hand-edited link: ignore what cannot be read
        st.session_state[key] = default


def to_url(values: dict) -> None:
    """Write ``{key: (value, default)}`` into the URL, leaving out what is at its default."""
    for key, (value, default) in values.items():
        if value == default or value is None:
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


def focus_query_box_once() -> None:
    """Put the cursor in the query box when the page first loads (Streamlit has no autofocus option)."""
    if not st.session_state.get(_FOCUSED):
        st.session_state[_FOCUSED] = True
        st.html(_FOCUS_QUERY_BOX, unsafe_allow_javascript=True)


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
    from_url(QUERY_KEY, str, "")
    from_url(K_KEY, lambda raw: min(100, max(1, int(raw))), 10)
    from_url(MODE_KEY, lambda raw: raw if raw in MODES else DEFAULT_MODE, DEFAULT_MODE)
    query_column, k_column, mode_column = st.columns([5, 1, 2], vertical_alignment="bottom")
    query_column.text_input("Query", key=QUERY_KEY, on_change=typed_query, persist_state="session",
                            placeholder="Type a sentence and press Enter")
    k = k_column.number_input("Results (k)", min_value=1, max_value=100, step=1, key=K_KEY, persist_state="session")
    mode = mode_column.segmented_control("Mode", MODES, key=MODE_KEY, help=_MODE_HELP,
                                         persist_state="session") or DEFAULT_MODE
    focus_query_box_once()
    reranker = rerank_toggle(index)
    filters = filter_widgets(index)
    to_url({QUERY_KEY: (st.session_state.get(QUERY_KEY) or "", ""), K_KEY: (int(k), 10), MODE_KEY: (mode, DEFAULT_MODE),
            **{key: (value, ANY) for key, value in st.session_state.items()
               if isinstance(key, str) and key.startswith(f"filter-{index.name}-")}})
    query = st.session_state.get(QUERY_KEY) or ""
    if not query:
        return
    source = st.session_state.get(_SIMILAR_TO)
    leave_out = source["id"] if source and source["text"] == query else None
    result = index.query([query], k=int(k) + (leave_out is not None), filters=filters, mode=mode,
                         rerank=reranker or False)
    hits, timings = [h for h in result.hits[0] if h.id != leave_out][: int(k)], result.timings
    scope = f" matching {', '.join(f'{c} = {v}' for c, v in filters.items())}" if filters else ""
    similar = f" similar to `{leave_out}` (left out)" if leave_out is not None else ""
    st.caption(f"{len(hits)} results{scope}{similar} from {len(index):,} texts in {timings.total_ms:.0f} ms "
               f"(encode {timings.encode_ms:.1f} ms · search {timings.candidates_ms + timings.fetch_ms:.1f} ms"
               + (f" · re-rank {timings.rerank_ms:.1f} ms)" if reranker else ")"))
    if not hits:
        st.info("No text matches these filters. Set a filter back to “any”.")
        return
    download_buttons(query, filters, hits)
    groups = results.identical_groups(hits)
    shown = page_of(groups, f"{query}\0{mode}", int(k))
    score_name, score_max = {"dense": ("cosine", 1.0), "lexical": ("BM25", hits[0].score),
                             "hybrid": ("fused score", 2.5)}[mode]  # hybrid: 1.5 x dense + 1 x lexical, each 0-1
    if reranker:
        score_name, score_max = "re-ranker score", 1.0
    for rank, hit, same in shown:
        components.hit_card(rank, hit, key=f"hit-{rank}", on_similar=find_similar, on_explain=explain,
                            identical=[h.id for h in same], query=query, score_name=score_name, score_max=score_max)


def rerank_toggle(index) -> str | None:
    """The cross-encoder folder to re-rank with, or None: a toggle, offered when the index records a default
    re-ranker or a folder is typed under "Re-ranker" (checked at once, so a wrong folder is one red line)."""
    from simsearch.reranking import check_cross_encoder

    folder = index.manifest.reranker
    if folder is None:
        with st.expander("Re-ranker"):
            typed = st.text_input("Cross-encoder folder", key=f"rerank-folder-{index.name}",
                                  placeholder="made by `simsearch train --cross-encoder`")
        folder = str(check_cross_encoder(typed.strip())) if typed.strip() else None
    if folder is None:
        return None
    on = st.toggle("Re-rank", value=index.manifest.reranker is not None, key=f"rerank-{index.name}",
                   help=f"Re-score the first 50 hits with the cross-encoder {folder}: slower, orders near-ties better.")
    return folder if on else None


def page_of(groups: list, query: str, k: int) -> list:
    """The entries of the page picked below the downloads (a new query, mode or k starts at page 1)."""
    pages = math.ceil(len(groups) / PAGE_SIZE)
    if pages <= 1:
        return groups
    digest = hashlib.sha1(f"{query}\0{k}".encode()).hexdigest()[:12]
    page = st.segmented_control(
        "Page", list(range(1, pages + 1)), default=1, key=f"page-{digest}",
        format_func=lambda p: f"{(p - 1) * PAGE_SIZE + 1}–{min(p * PAGE_SIZE, len(groups))}",
    ) or 1
    return groups[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]


def download_buttons(query: str, filters: dict, hits: list[Hit]) -> None:
    left, right, _ = st.columns([1, 1, 6])
    left.download_button("CSV", results.results_csv(hits), file_name="results.csv", mime="text/csv",
                         icon=":material/download:", key="download-csv", on_click="ignore")
    right.download_button("JSON", results.results_json(query, filters, hits), file_name="results.json",
                          mime="application/json", icon=":material/download:", key="download-json", on_click="ignore")


def filter_widgets(index) -> dict:
    """One select per low-cardinality metadata column; "any" leaves the column unfiltered."""
    facets = state.index_facets(index)
    if not facets:
        return {}
    filters = {}
    columns = st.columns(4)  # a quarter of the width each, however few columns there are
    for number, facet in enumerate(facets):
        values = {str(value): value for value in facet.values}
        # plain values as options: the URL holds the option's label, which must not change with the counts
        counts = " · ".join(f"{value}: {count:,}" for value, count in zip(facet.values, facet.counts))
        key = f"filter-{index.name}-{facet.column}"
        from_url(key, lambda raw, values=values: raw if raw in values else ANY, ANY)
        chosen = columns[number % len(columns)].selectbox(
            facet.column, [ANY, *values], key=key, persist_state="session", help=f"Texts per value: {counts}")
        if chosen is not None and chosen != ANY:
            filters[facet.column] = values[chosen]
    return filters


components.guarded(render)
if "explain_request" in st.session_state:  # outside the guard: switch_page stops this run
    st.switch_page("views/explain.py")
