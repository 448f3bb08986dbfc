"""The search results as cards: rank, text with the matched words in bold, score and bar, metadata, actions;
the page picker and the downloads above them.

The words in bold are those the lexical index matched (``Index.highlights``: FTS5's own stemming and
folding), so a text found by meaning alone shows none.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Callable, Sequence

import streamlit as st

from simsearch import Hit
from simsearch_ui import results
from simsearch_ui.components import escape_markdown

PAGE_SIZE = 20  # result cards per page: k=100 on one page was 14,000 px tall
Spans = Sequence[tuple[int, int]]  # [start, end) character spans of a text to show in bold


def hit_card(
    rank: int,
    hit: Hit,
    key: str,
    on_similar: Callable[[Hit], None] | None = None,
    on_explain: Callable[[Hit], None] | None = None,
    identical: list[str] | None = None,
    spans: Spans = (),
    score_name: str = "cosine",
    score_range: tuple[float, float] = (0.0, 1.0),
) -> None:
    """One result: rank and text (``spans`` of it in bold), the score as a number and a bar
    (``score_name``, empty at the first and full at the second of ``score_range``), metadata, and the two actions.

    ``identical``: ids of other hits with exactly this text, shown as one line instead of more cards.
    """
    with st.container(border=True):
        text_column, score_column = st.columns([7, 1], vertical_alignment="center")
        hit_text(text_column, rank, hit, spans)
        score_column.markdown(
            f'<div class="ss-score">{hit.score:.3f}</div>{score_bar(hit.score, score_name, *score_range)}',
            unsafe_allow_html=True,
        )
        details, similar, explain = st.columns([5, 1, 1], vertical_alignment="center")
        details.caption(
            " · ".join(
                [
                    f"{escape_markdown(str(name))}: **{escape_markdown(str(value))}**"
                    for name, value in hit.metadata.items()
                ]
                + [f"id `{hit.id}`"]
            )
        )
        if identical:
            ids = ", ".join(f"`{i}`" for i in [hit.id, *identical])
            st.caption(f"{len(identical) + 1} identical texts: ids {ids}")
        if on_similar is not None:
            similar.button(
                "Find similar",
                key=f"{key}-similar",
                on_click=on_similar,
                args=(hit,),
                icon=":material/manage_search:",
                type="tertiary",
                help="Search with this text",
            )
        if on_explain is not None:
            explain.button(
                "Explain",
                key=f"{key}-explain",
                on_click=on_explain,
                args=(hit,),
                icon=":material/grid_on:",
                type="tertiary",
                help="Which words matched your query",
            )


def hit_text(column, rank: int, hit: Hit, spans: Spans) -> None:
    """A hit's text with ``spans`` in bold. For a long document searched by windows, the window
    that matched comes first, marked, and the whole text is folded away beneath it."""
    if hit.passage is None:
        column.markdown(f"**{rank}.** {marked(hit.text, spans)}")
        return
    start = hit.text.find(hit.passage)  # the passage is an exact substring of the text
    end = start + len(hit.passage)
    in_passage = [(max(a, start) - start, min(b, end) - start) for a, b in spans if a < end and b > start]
    before = "… " if start > 0 else ""
    after = " …" if end < len(hit.text) else ""
    column.markdown(f"**{rank}.** {before}:orange-background[{marked(hit.passage, in_passage)}]{after}")
    column.expander(f"Whole text ({len(hit.text):,} characters)").markdown(marked(hit.text, spans))


def marked(text: str, spans: Spans) -> str:
    """``text`` as markdown showing itself, with its ``spans`` (sorted, not overlapping) in bold."""
    parts, last = [], 0
    for start, end in spans:
        parts += [escape_markdown(text[last:start]), f"**{escape_markdown(text[start:end])}**"]
        last = end
    return "".join(parts) + escape_markdown(text[last:])


def score_bar(score: float, name: str = "cosine", empty: float = 0.0, full: float = 1.0) -> str:
    width = max(0.0, min(1.0, (score - empty) / (full - empty) if full > empty else 1.0)) * 100
    return f'<div class="ss-bar" title="{html.escape(name)} {score:.3f}"><div style="width:{width:.1f}%"></div></div>'


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
