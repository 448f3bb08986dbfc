"""Search page: a query, k, the search mode and metadata filters in; ranked hits with scores, latency and actions out.

The query, k, the mode and the filters live in the URL (?q=…&k=…&mode=…&filter-INDEX-COLUMN=…; see
url_state and filter_controls), so a reload keeps them and a link shares them.
"""

from __future__ import annotations

import streamlit as st

from simsearch import Hit, Index
from simsearch.formatting import count
from simsearch.query import DEFAULT_MODE, MODES, check_cross_encoder
from simsearch_ui import components, filter_controls, result_cards, results, state
from simsearch_ui.url_state import from_url, to_url

QUERY_KEY, K_KEY, MODE_KEY = "q", "k", "mode"  # the widget keys, which are also the URL's parameter names
MAX_K = 100  # results a page shows at most
_K_ASKED = "k-asked"  # a k from the URL outside 1..MAX_K, kept to say what was shown instead
_MODE_HELP = (
    "dense: by meaning (cosine) · lexical: by shared words (BM25) · "
    "hybrid: both lists, each list's scores standardised (z-scores) and summed, meaning weighted 1.5"
)
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
        "index": state.selected_index_name(),
        "query": st.session_state.get(QUERY_KEY, ""),
        "text": hit.text,
        "id": hit.id,
        "score": hit.score,
    }


def typed_query() -> None:
    st.session_state.pop(_SIMILAR_TO, None)  # a query the user typed has no source text to leave out


def k_from_url(raw: str) -> int:
    """A k from the URL, brought within 1..MAX_K; one outside is remembered so the page can say so."""
    asked = int(raw)
    k = min(MAX_K, max(1, asked))
    if k != asked:
        st.session_state[_K_ASKED] = asked
    return k


def limit_notices(index: Index, query: str, mode: str, k: int) -> None:
    """Say what the page changed: a k it brought within range, a query longer than the model reads."""
    asked = st.session_state.pop(_K_ASKED, None)
    if asked is not None:
        st.info(f"The link asked for {asked} results; this page shows 1 to {MAX_K}, so it shows {k}.")
    if mode != "lexical" and index.encoder.count_truncated([query]):
        st.info(
            f"The query is longer than the model reads ({index.encoder.info.max_seq_length} word pieces); "
            "only its beginning counts towards the dense ranking."
        )


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
    st.caption(
        f"Index **{name}**: {len(index):,} texts · model `{index.manifest.model['name']}` · kind {index.manifest.kind}"
    )
    query, k, mode = query_controls()
    reranker = rerank_toggle(index)
    filters = filter_controls.filter_widgets(index)
    to_url(
        {
            QUERY_KEY: (query, ""),
            K_KEY: (k, 10),
            MODE_KEY: (mode, DEFAULT_MODE),
            **filter_controls.url_values(index.name),
        }
    )
    if query:
        limit_notices(index, query, mode, k)
        show_results(index, query, k, mode, reranker, filters)


def query_controls() -> tuple[str, int, str]:
    """The query box, k and the mode in one row, first filled from the URL: (query, k, mode)."""
    from_url(QUERY_KEY, str, "")
    from_url(K_KEY, k_from_url, 10)
    from_url(MODE_KEY, lambda raw: raw if raw in MODES else DEFAULT_MODE, DEFAULT_MODE)
    query_column, k_column, mode_column = st.columns([5, 1, 2], vertical_alignment="bottom")
    query_column.text_input(
        "Query",
        key=QUERY_KEY,
        on_change=typed_query,
        persist_state="session",
        placeholder="Type a sentence and press Enter",
    )
    k = k_column.number_input("Results (k)", min_value=1, max_value=MAX_K, step=1, key=K_KEY, persist_state="session")
    mode = (
        mode_column.segmented_control("Mode", MODES, key=MODE_KEY, help=_MODE_HELP, persist_state="session")
        or DEFAULT_MODE
    )
    focus_query_box_once()
    return st.session_state.get(QUERY_KEY) or "", int(k), mode


def show_results(index: Index, query: str, k: int, mode: str, reranker: str | None, filters: dict) -> None:
    """Run the query; then the count and latency line, the downloads and one page of cards, matched words in bold."""
    source = st.session_state.get(_SIMILAR_TO)
    leave_out = source["id"] if source and source["text"] == query else None
    result = index.query([query], k=k + (leave_out is not None), filters=filters, mode=mode, rerank=reranker or False)
    hits, timings = [h for h in result.hits[0] if h.id != leave_out][:k], result.timings
    described = ", ".join(filter_controls.describe_filter(c, v) for c, v in filters.items())
    scope = f" matching {described}" if filters else ""
    similar = f" similar to `{leave_out}` (left out)" if leave_out is not None else ""
    st.caption(
        f"{count(len(hits), 'result')}{scope}{similar} from {count(len(index), 'text')} "
        f"in {timings.total_ms:.0f} ms "
        f"(encode {timings.encode_ms:.1f} ms · search {timings.candidates_ms + timings.fetch_ms:.1f} ms"
        + (f" · re-rank {timings.rerank_ms:.1f} ms)" if reranker else ")")
    )
    if not hits:
        st.info("No text matches these filters. Set a filter back to “any”.")
        return
    result_cards.download_buttons(query, filters, hits)
    shown = result_cards.page_of(results.identical_groups(hits), f"{query}\0{mode}", k)
    marks = index.highlights(query, [hit.id for _, hit, _ in shown])
    score_name, score_range = result_cards.score_scale(mode, hits, reranked=bool(reranker))
    for rank, hit, same in shown:
        result_cards.hit_card(
            rank,
            hit,
            key=f"hit-{rank}",
            on_similar=find_similar,
            on_explain=explain,
            identical=[h.id for h in same],
            spans=marks[hit.id].spans if hit.id in marks else (),
            score_name=score_name,
            score_range=score_range,
        )


def rerank_toggle(index: Index) -> str | None:
    """The cross-encoder folder to re-rank with, or None: a toggle, offered when the index records a default
    re-ranker or a folder is typed under "Re-ranker" (checked at once, so a wrong folder is one red line)."""
    folder = index.manifest.reranker
    if folder is None:
        with st.expander("Re-ranker"):
            typed = st.text_input(
                "Cross-encoder folder",
                key=f"rerank-folder-{index.name}",
                placeholder="made by `simsearch train --cross-encoder`",
            )
        folder = str(check_cross_encoder(typed.strip())) if typed.strip() else None
    if folder is None:
        return None
    on = st.toggle(
        "Re-rank",
        value=index.manifest.reranker is not None,
        key=f"rerank-{index.name}",
        help=f"Re-score the first 50 hits with the cross-encoder {folder}: slower, orders near-ties better.",
    )
    return folder if on else None


components.guarded(render)
if "explain_request" in st.session_state:  # outside the guard: switch_page stops this run
    st.switch_page("views/explain.py")
