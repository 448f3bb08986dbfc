"""What BERT matched, token by token: word-piece chips, the token-to-token heatmap, each token's closest partner.

Shared by the Compare and Explain pages, so both teach the same picture.
"""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import streamlit as st

from simsearch.tools import Token, TokenSimilarity


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
