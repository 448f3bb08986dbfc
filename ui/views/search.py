"""Search page: a query, k, the search mode and metadata filters in; ranked hits with scores, latency and actions out.

The query, k, the mode and the filters live in the URL (?q=…&k=…&mode=…&filter-INDEX-COLUMN=…, and not-…,
from-… and to-… for leaving a value out and for ranges), so a reload
keeps them and a link shares them. They are copied to and from ``st.query_params`` by hand:
Streamlit 1.67's ``bind="query-params"`` on the query box stops ``st.switch_page`` (the
Explain button) from leaving the page.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from typing import TYPE_CHECKING

import streamlit as st

from simsearch import Hit
from simsearch.formatting import count
from simsearch.query import DEFAULT_MODE, MODES
from simsearch_ui import components, results, state

if TYPE_CHECKING:
    from simsearch.store import Facet

ANY = "any"
_URL_DEFAULTS = {"filter": ANY, "not": False, "from": None, "to": None}  # filter controls' values left out of URLs
PAGE_SIZE = 20  # result cards per page: k=100 on one page was 14,000 px tall
FEW_VALUES = 25  # the index's usual facets; a filter's help lists this many values' counts at most
MANY_VALUES = 1_000  # a column with more distinct values gets no filter (free text, ids); a clustering has fewer
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


def from_url(key: str, convert, default) -> None:
    """A widget's first value from the URL (a reload or a shared link); later the widget's own state rules."""
    if key in st.session_state:
        return
    try:
        st.session_state[key] = convert(st.query_params[key]) if key in st.query_params else default
    except ValueError:  # a hand-edited link: ignore what cannot be read
        st.session_state[key] = default


def k_from_url(raw: str) -> int:
    """A k from the URL, brought within 1..MAX_K; one outside is remembered so the page can say so."""
    asked = int(raw)
    k = min(MAX_K, max(1, asked))
    if k != asked:
        st.session_state[_K_ASKED] = asked
    return k


def limit_notices(index, query: str, mode: str, k: int) -> None:
    """Say what the page changed: a k it brought within range, a query longer than the model reads."""
    asked = st.session_state.pop(_K_ASKED, None)
    if asked is not None:
        st.info(f"The link asked for {asked} results; this page shows 1 to {MAX_K}, so it shows {k}.")
    if mode != "lexical" and index.encoder.count_truncated([query]):
        st.info(
            f"The query is longer than the model reads ({index.encoder.info.max_seq_length} word pieces); "
            "only its beginning counts towards the dense ranking."
        )


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
    st.caption(
        f"Index **{name}**: {len(index):,} texts · model `{index.manifest.model['name']}` · kind {index.manifest.kind}"
    )
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
    reranker = rerank_toggle(index)
    filters = filter_widgets(index)
    to_url(
        {
            QUERY_KEY: (st.session_state.get(QUERY_KEY) or "", ""),
            K_KEY: (int(k), 10),
            MODE_KEY: (mode, DEFAULT_MODE),
            **{
                key: (value, _URL_DEFAULTS[key.split("-", 1)[0]])
                for key, value in st.session_state.items()
                if isinstance(key, str) and key.startswith(tuple(f"{c}-{index.name}-" for c in _URL_DEFAULTS))
            },
        }
    )
    query = st.session_state.get(QUERY_KEY) or ""
    if not query:
        return
    limit_notices(index, query, mode, int(k))
    source = st.session_state.get(_SIMILAR_TO)
    leave_out = source["id"] if source and source["text"] == query else None
    result = index.query(
        [query], k=int(k) + (leave_out is not None), filters=filters, mode=mode, rerank=reranker or False
    )
    hits, timings = [h for h in result.hits[0] if h.id != leave_out][: int(k)], result.timings
    scope = f" matching {', '.join(components.describe_filter(c, v) for c, v in filters.items())}" if filters else ""
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
    download_buttons(query, filters, hits)
    groups = results.identical_groups(hits)
    shown = page_of(groups, f"{query}\0{mode}", int(k))
    score_name, score_range = score_scale(mode, hits, reranked=bool(reranker))
    for rank, hit, same in shown:
        components.hit_card(
            rank,
            hit,
            key=f"hit-{rank}",
            on_similar=find_similar,
            on_explain=explain,
            identical=[h.id for h in same],
            query=query,
            score_name=score_name,
            score_range=score_range,
        )


def score_scale(mode: str, hits: list[Hit], reranked: bool) -> tuple[str, tuple[float, float]]:
    """What the score bars show and the scores at which a bar is empty and full.

    Cosines and re-ranker scores have fixed ranges; BM25 runs from 0 to the best hit; the fused
    score of hybrid mode (sums of z-scores, often below 0) from the lowest hit to the best.
    """
    if reranked:
        return "re-ranker score", (0.0, 1.0)
    if mode == "dense":
        return "cosine", (0.0, 1.0)
    if mode == "lexical":
        return "BM25", (0.0, hits[0].score)
    return "fused score", (min(hit.score for hit in hits), hits[0].score)


def rerank_toggle(index) -> str | None:
    """The cross-encoder folder to re-rank with, or None: a toggle, offered when the index records a default
    re-ranker or a folder is typed under "Re-ranker" (checked at once, so a wrong folder is one red line)."""
    from simsearch.query import check_cross_encoder

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


def page_of(groups: list, query: str, k: int) -> list:
    """The entries of the page picked below the downloads (a new query, mode or k starts at page 1)."""
    pages = math.ceil(len(groups) / PAGE_SIZE)
    if pages <= 1:
        return groups
    digest = hashlib.sha1(f"{query}\0{k}".encode()).hexdigest()[:12]
    page = (
        st.segmented_control(
            "Page",
            list(range(1, pages + 1)),
            default=1,
            key=f"page-{digest}",
            format_func=lambda p: f"{(p - 1) * PAGE_SIZE + 1}–{min(p * PAGE_SIZE, len(groups))}",
        )
        or 1
    )
    return groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def download_buttons(query: str, filters: dict, hits: list[Hit]) -> None:
    left, right, _ = st.columns([1, 1, 6])
    left.download_button(
        "CSV",
        results.results_csv(hits),
        file_name="results.csv",
        mime="text/csv",
        icon=":material/download:",
        key="download-csv",
        on_click="ignore",
    )
    right.download_button(
        "JSON",
        results.results_json(query, filters, hits),
        file_name="results.json",
        mime="application/json",
        icon=":material/download:",
        key="download-json",
        on_click="ignore",
    )


@st.cache_data(show_spinner=False, max_entries=32)
def many_valued_facets(folder: str, name: str, version: tuple) -> list[Facet]:
    """Columns with more values than the usual facets, up to MANY_VALUES (a stored clustering's labels, say),
    their counts cut to the FEW_VALUES most frequent for the help; ``version`` only keys the cache."""
    index = state.current_index(name)
    few = {facet.column for facet in state.index_facets(index)}
    return [
        dataclasses.replace(facet, counts=facet.counts[:FEW_VALUES])
        for facet in index.facets(max_values=MANY_VALUES)
        if facet.column not in few
    ]


def filter_widgets(index) -> dict:
    """Per metadata column: a value to keep ("any": all) or, ticked "not", to leave out; numbers also a range."""
    many = many_valued_facets(state.home(), index.name, state.index_version(index))
    facets = {facet.column: facet for facet in [*state.index_facets(index), *many]}
    numbers = _numeric_columns(state.home(), index.name, state.index_version(index))
    filters: dict = {}
    columns = st.columns(4)  # a quarter of the width each, however few columns there are
    for number, column in enumerate(sorted(facets.keys() | numbers.keys())):
        place = columns[number % len(columns)]
        value = _value_picker(place, index.name, facets[column]) if column in facets else components.NO_VALUE
        exclude = value is not components.NO_VALUE and place.checkbox(
            "not", key=_key("not", index.name, column), help=f"Leave out this {column}"
        )
        low, high = _range_inputs(place, index.name, column, numbers[column]) if column in numbers else (None, None)
        spec = components.column_filter(value, exclude, low, high)
        if spec is not components.NO_VALUE:
            filters[column] = spec
    return filters


def _key(control: str, index_name: str, column: str) -> str:
    """Widget keys, which are also the URL's parameter names: filter-INDEX-COLUMN, not-…, from-…, to-…."""
    return f"{control}-{index_name}-{column}"


def _value_picker(place, index_name: str, facet):
    values = {str(value): value for value in facet.values}
    # plain values as options: the URL holds the option's label, which must not change with the counts
    counts = " · ".join(f"{value}: {count:,}" for value, count in zip(facet.values, facet.counts))
    key = _key("filter", index_name, facet.column)
    from_url(key, lambda raw, values=values: raw if raw in values else ANY, ANY)
    from_url(_key("not", index_name, facet.column), lambda raw: raw == "True", False)
    chosen = place.selectbox(
        facet.column, [ANY, *values], key=key, persist_state="session", help=f"Texts per value: {counts}"
    )
    return values[chosen] if chosen is not None and chosen != ANY else components.NO_VALUE


def _range_inputs(place, index_name: str, column: str, kind: type) -> tuple[float | None, float | None]:
    """Two bounds for a numeric column ("from" and "to", both included); an empty one leaves that side open."""
    left, right = place.columns(2)
    bounds = []
    for side, label in ((left, "from"), (right, "to")):
        key = _key(label, index_name, column)
        from_url(key, kind, None)
        bounds.append(
            side.number_input(
                f"{column} {label}",
                value=None,
                key=key,
                placeholder="any",
                step=1 if kind is int else None,
                format=None if kind is int else "%g",
            )
        )
    return bounds[0], bounds[1]


@st.cache_data(show_spinner=False, max_entries=32)
def _numeric_columns(folder: str, name: str, version: tuple) -> dict[str, type]:
    """Columns for range controls, judged on a sample (``folder`` and ``version`` only key the cache)."""
    return components.numeric_columns(state.current_index(name).sample_documents(500))


components.guarded(render)
if "explain_request" in st.session_state:  # outside the guard: switch_page stops this run
    st.switch_page("views/explain.py")
