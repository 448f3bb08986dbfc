"""Small drawing helpers shared by the pages: error guard, result cards, tokens, heatmap, manifest."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd
import streamlit as st

from simsearch import Hit, SimsearchError
from simsearch.formatting import count
from simsearch.query.terms import lexical_terms
from simsearch.tools.tokens import Token, TokenSimilarity

if TYPE_CHECKING:
    from simsearch.store import StoredDocument

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+")  # a word as the lexical index sees it: letters and digits
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>$~])")  # what changes the look of text inside a line
_CHIP_CSS = """
<style>
.ss-tokens {display: flex; flex-wrap: wrap; gap: 4px; margin: 2px 0 10px 0; max-height: 260px; overflow-y: auto;}
/* grey at low alpha reads on a light and a dark background alike (the old near-black tint vanished in dark mode) */
.ss-tok {display: inline-flex; flex-direction: column; align-items: center; padding: 2px 7px; border-radius: 6px;
         background: rgba(128, 128, 128, 0.16); border: 1px solid rgba(128, 128, 128, 0.40); font-family: monospace;}
.ss-tok.special {background: rgba(255, 75, 75, 0.10); border-color: rgba(255, 75, 75, 0.35);}
.ss-tok.piece {background: rgba(28, 131, 225, 0.10); border-color: rgba(28, 131, 225, 0.35);}
.ss-tok small {font-size: 0.68em; opacity: 0.65;}
.ss-score {font-size: 1.35rem; font-weight: 600; text-align: right; font-variant-numeric: tabular-nums;}
.ss-bar {height: 8px; border-radius: 4px; background: rgba(128, 128, 128, 0.20); margin-top: 6px;}
.ss-bar > div {height: 8px; border-radius: 4px; background: #1c83e1;}
</style>
"""


def guarded(render: Callable[[], Any]) -> Any:
    """Run a page body; a user error becomes one red line, anything else a short note (details in the log)."""
    try:
        return render()
    except SimsearchError as error:
        st.error(error.message_for("ui"), icon="⚠️")
    except Exception as error:  # a bug: keep the page alive, put the traceback in the server log
        log.exception("unexpected error in the web UI")
        st.error(
            f"Something went wrong ({type(error).__name__}: {error}). The details are in the server log.", icon="🐞"
        )
    return None


def hit_card(
    rank: int,
    hit: Hit,
    key: str,
    on_similar: Callable[[Hit], None] | None = None,
    on_explain: Callable[[Hit], None] | None = None,
    identical: list[str] | None = None,
    query: str = "",
    score_name: str = "cosine",
    score_range: tuple[float, float] = (0.0, 1.0),
) -> None:
    """One result: rank and text (the query's words in bold), the score as a number and a bar
    (``score_name``, empty at the first and full at the second of ``score_range``), metadata, and the two actions.

    ``identical``: ids of other hits with exactly this text, shown as one line instead of more cards.
    """
    with st.container(border=True):
        text_column, score_column = st.columns([7, 1], vertical_alignment="center")
        hit_text(text_column, rank, hit, query)
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


def hit_text(column, rank: int, hit: Hit, query: str) -> None:
    """A hit's text with the query's words in bold. For a long document searched by windows, the window
    that matched comes first, marked, and the whole text is folded away beneath it."""
    if hit.passage is None:
        column.markdown(f"**{rank}.** {highlighted(hit.text, query)}")
        return
    before = "… " if not hit.text.startswith(hit.passage) else ""
    after = " …" if not hit.text.endswith(hit.passage) else ""
    column.markdown(f"**{rank}.** {before}:orange-background[{highlighted(hit.passage, query)}]{after}")
    column.expander(f"Whole text ({len(hit.text):,} characters)").markdown(highlighted(hit.text, query))


def escape_markdown(text: str) -> str:
    """User text shown as itself: without this, `$x$` renders as maths, `*a*` in italics, `[a](b)` as a link."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def inject_css() -> None:
    """The styles of the token chips and score bars, once per run (the entry point calls it)."""
    st.html(_CHIP_CSS)


def score_bar(score: float, name: str = "cosine", empty: float = 0.0, full: float = 1.0) -> str:
    width = max(0.0, min(1.0, (score - empty) / (full - empty) if full > empty else 1.0)) * 100
    return f'<div class="ss-bar" title="{html.escape(name)} {score:.3f}"><div style="width:{width:.1f}%"></div></div>'


def highlighted(text: str, query: str) -> str:
    """``text`` as markdown showing itself, with the words that match a query word in bold.

    A word matches when it equals a query word after dropping a plural or -ed/-ing ending: a
    rough stand-in for the lexical index's Porter stemmer, enough to show why a text was found.
    """
    wanted = {_stem(term) for term in lexical_terms(query)}
    parts, last = [], 0
    for word in _WORD.finditer(text):
        if _stem(word.group().lower()) in wanted:
            parts += [escape_markdown(text[last : word.start()]), f"**{word.group()}**"]
            last = word.end()
    return "".join(parts) + escape_markdown(text[last:])


def _stem(word: str) -> str:
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def token_chips(tokens: list[Token]) -> None:
    """The word pieces as the model reads them, each with its vocabulary id underneath (long lists scroll)."""
    chips = []
    for token in tokens:
        kind = "special" if token.special else "piece" if token.text.startswith("##") else ""
        chips.append(f'<span class="ss-tok {kind}">{html.escape(token.text)}<small>{token.id}</small></span>')
    st.markdown(f'<div class="ss-tokens">{"".join(chips)}</div>', unsafe_allow_html=True)


def token_heatmap(view: TokenSimilarity, label_a: str, label_b: str) -> None:
    """Token-to-token cosine similarity as a heatmap: rows are ``a``'s tokens, columns ``b``'s."""
    rows_a = [f"{i:>2} {t.text}" for i, t in enumerate(view.tokens_a)]
    rows_b = [f"{j:>2} {t.text}" for j, t in enumerate(view.tokens_b)]
    cells = pd.DataFrame(
        [(a, b, float(view.matrix[i, j])) for i, a in enumerate(rows_a) for j, b in enumerate(rows_b)],
        columns=["a", "b", "cosine"],
    )
    step = 26 if len(rows_a) <= 40 else 14
    base = alt.Chart(cells).encode(
        x=alt.X(
            "b:N",
            sort=rows_b,
            title=label_b,
            axis=alt.Axis(orient="top", labelAngle=-40, labelOverlap=False, labelLimit=140),
        ),
        y=alt.Y("a:N", sort=rows_a, title=label_a, axis=alt.Axis(labelOverlap=False, labelLimit=140)),
    )
    heat = base.mark_rect().encode(
        color=alt.Color(
            "cosine:Q",
            scale=alt.Scale(scheme="blues"),
            legend=alt.Legend(title="cosine", gradientLength=max(60, step * len(rows_a) - 30)),
        ),
        tooltip=[
            alt.Tooltip("a:N", title=label_a),
            alt.Tooltip("b:N", title=label_b),
            alt.Tooltip("cosine:Q", format=".3f"),
        ],
    )
    layers = heat
    if len(rows_b) <= 28:  # numbers only where the cells are wide enough to read
        labels = base.mark_text(fontSize=11).encode(
            text=alt.Text("cosine:Q", format=".2f"),
            color=alt.condition(alt.datum.cosine > 0.6, alt.value("white"), alt.value("#262730")),
        )
        layers = heat + labels
    st.altair_chart(layers.properties(height=alt.Step(step)), width="stretch")


def best_matches(view: TokenSimilarity, label_a: str, label_b: str, limit: int = 12) -> None:
    pairs = view.best_matches()[:limit]
    if pairs:
        table = pd.DataFrame(
            [(a.text, b.text, round(score, 3)) for a, b, score in pairs],
            columns=[label_a, f"closest in {label_b}", "cosine"],
        )
        st.dataframe(table, hide_index=True)


HEATMAP_TOKENS = 40  # tokens a side in the heatmap: more and the labels overlap into a smear


def token_view(view: TokenSimilarity, name_a: str, name_b: str, key: str) -> None:
    """Word pieces of both texts, their token-to-token heatmap and each token's closest partner.

    Shared by Compare and Explain so both pages teach the same picture of what BERT matched.
    Punctuation and special tokens are hidden unless the reader asks for them; long texts
    show their strongest tokens in the heatmap and fold their token lists.
    """
    everything = st.toggle(
        "Show punctuation and special tokens",
        value=False,
        key=f"{key}-all-tokens",
        help="[CLS], [SEP] and punctuation: the model reads them too, but they rarely "
        "carry the meaning and crowd the pictures.",
    )
    shown = view if everything else view.words_only()
    st.markdown(
        "**Word pieces** as the model reads them, with their vocabulary ids. `[CLS]` opens and `[SEP]` "
        "closes every input; `##` marks a piece that continues the word before it."
    )
    for name, tokens in ((name_a, shown.tokens_a), (name_b, shown.tokens_b)):
        if len(tokens) > 60:
            with st.expander(f"{name.capitalize()}: {len(tokens)} tokens"):
                token_chips(tokens)
        else:
            st.caption(name.capitalize())
            token_chips(tokens)
    st.markdown(
        f"**Which {name_a} token matched which {name_b} token**: cosine similarity of the contextual "
        "token vectors the sentence vector is pooled from. Darker cells: tokens the model read as "
        "meaning the same here."
    )
    strongest = shown.strongest(HEATMAP_TOKENS)
    if (len(strongest.tokens_a), len(strongest.tokens_b)) != (len(shown.tokens_a), len(shown.tokens_b)):
        st.caption(
            f"The {len(strongest.tokens_a)} × {len(strongest.tokens_b)} tokens with the strongest match on "
            f"the other side, of {len(shown.tokens_a)} × {len(shown.tokens_b)}, in text order."
        )
    token_heatmap(strongest, f"{name_a} token", f"{name_b} token")
    st.markdown(f"**Closest partner** of each {name_a} token in the {name_b}, strongest first:")
    best_matches(shown, f"{name_a} token", name_b)


class BuildProgress:
    """A progress bar that moves from the start: a step for loading the model, then encoding with a time estimate.

    ``report(done, total)`` is the ``on_progress`` callback of ``Index.build`` / ``rebuild``; ``close()``
    removes the bar, so a failed build leaves no bar stuck on its last words.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = st.progress(0.0, text=f"{label}: step 1 of 2, loading the model…")
        self.started: float | None = None

    def model_loaded(self) -> None:
        self.bar.progress(0.02, text=f"{self.label}: step 2 of 2, encoding the texts…")

    def report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = now
        estimate = ""
        if 0 < done < total and now - self.started > 0.5:
            left = (now - self.started) / done * (total - done)
            estimate = f", about {left:.0f} s left" if left >= 1 else ", under a second left"
        if done >= total:  # the index is written and the query model exported next: seconds with a full bar
            self.bar.progress(
                1.0,
                text=f"{self.label}: encoded {count(total, 'text')}; writing the index and "
                "preparing the model for queries…",
            )
            return
        self.bar.progress(
            0.02 + 0.98 * done / max(total, 1),
            text=f"{self.label}: step 2 of 2, encoded {done:,} of {total:,} texts{estimate}",
        )

    def close(self) -> None:
        self.bar.empty()


@contextmanager
def build_progress(label: str) -> Iterator[BuildProgress]:
    progress = BuildProgress(label)
    try:
        yield progress
    finally:
        progress.close()


# --- metadata filter controls ----------------------------------------------------------------------
NO_VALUE = object()  # no value picked in a column's drop-down (None is a value: "not set")


def numeric_columns(documents: Iterable[StoredDocument]) -> dict[str, type]:
    """Metadata columns holding a number in every sampled document that sets them: ``int`` or ``float`` each.

    Booleans are not numbers here, and one text value makes a column non-numeric, so a range
    control never meets a value it cannot compare (a range matches numbers only).
    """
    kinds: dict[str, type | None] = {}
    for document in documents:
        for column, value in document.metadata.items():
            if value is None:
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            kind = (float if isinstance(value, float) else int) if number else None
            known = kinds.get(column, kind)
            kinds[column] = None if known is None or kind is None else (float if float in (known, kind) else int)
    return {column: kind for column, kind in sorted(kinds.items()) if kind is not None}


def column_filter(
    value: Any = NO_VALUE, exclude: bool = False, low: float | None = None, high: float | None = None
) -> Any:
    """One column's filter from its controls: the value picked (kept, or with ``exclude`` left out) and a range.

    A plain value when only that is set, an operator dict (``ne``, ``gte``, ``lte``) otherwise,
    NO_VALUE when no control is set (the column is not filtered).
    """
    operators: dict[str, Any] = {}
    if value is not NO_VALUE:
        operators["ne" if exclude else "eq"] = value
    if low is not None:
        operators["gte"] = low
    if high is not None:
        operators["lte"] = high
    if not operators:
        return NO_VALUE
    return operators["eq"] if list(operators) == ["eq"] else operators


def describe_filter(column: str, spec: Any) -> str:
    """``category = music``, ``category ≠ music``, ``1990 ≤ year ≤ 2000``: a filter as the results caption shows it."""
    if not isinstance(spec, dict):
        return f"{column} = {spec}"
    parts = [f"{column} ≠ {spec['ne']}"] if "ne" in spec else [f"{column} = {spec['eq']}"] if "eq" in spec else []
    if "gte" in spec or "lte" in spec:
        low, high = (f"{spec['gte']} ≤ " if "gte" in spec else ""), (f" ≤ {spec['lte']}" if "lte" in spec else "")
        parts.append(f"{low}{column}{high}")
    return ", ".join(parts)
