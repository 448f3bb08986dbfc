"""Compare page: two sentences, their cosine similarity (and a cross-encoder's score), and the tokens behind it."""

from __future__ import annotations

import streamlit as st

from simsearch.query import load_reranker
from simsearch.tools import compare_texts, token_parquet_bytes
from simsearch_ui import components, state, token_views
from simsearch_ui.anatomy import input_anatomy_view, word_in_context_view


@st.cache_data(show_spinner=False, max_entries=32)
def token_vectors(model: str, first: str, second: str) -> bytes:
    """Both sentences' word-piece vectors as `simsearch embed --tokens` writes them (sentence 0 and 1)."""
    return token_parquet_bytes([first, second], state.encoder(model))


def render() -> None:
    st.title("Compare two sentences")
    models = state.known_models()
    model_column, cross_column = st.columns(2)
    model = model_column.selectbox("Model", models, help="The default model, or one an index here was built with.")
    cross_encoder = cross_column.selectbox(
        "Cross-encoder",
        ["none", *state.known_rerankers()],
        accept_new_options=True,
        help="A cross-encoder folder (`simsearch train --cross-encoder`; an index's default re-ranker is listed): "
        "it reads both sentences together and scores the pair.",
    )
    left, right = st.columns(2)
    first = left.text_area("First sentence", "A man is playing a guitar.", height=80)
    second = right.text_area("Second sentence", "Someone plays an instrument on stage.", height=80)
    if not first.strip() and not second.strip():
        st.info("Type two sentences to compare them.")
        return
    comparison = compare_texts(first, second, state.encoder(model))
    score_column, reading_column = st.columns([1, 4], vertical_alignment="center")
    score_column.metric("cosine similarity", f"{comparison.score:.3f}")
    if cross_encoder and cross_encoder != "none":
        score_column.metric(
            "cross-encoder score",
            f"{cross_encoder_score(cross_encoder, first, second):.3f}",
            help="The re-ranker's score of the pair (its recorded blend with a bi-encoder included), "
            "the one `search --rerank` ranks by.",
        )
    reading_column.markdown(f"### {comparison.reading.capitalize()}")
    reading_column.caption(
        "Cosine of the two sentence vectors (1: same direction, 0: unrelated), read on the "
        "STS-B scale people use to rate sentence pairs. Calibrated on all-MiniLM-L6-v2; other "
        "models spread scores differently."
    )
    st.divider()
    st.subheader("Under the hood")
    token_views.token_view(comparison.tokens, "first sentence", "second sentence", key="compare")
    st.download_button(
        "Token vectors (.parquet)",
        token_vectors(model, first, second),
        file_name="token-vectors.parquet",
        mime="application/vnd.apache.parquet",
        icon=":material/download:",
        key="compare-token-vectors",
        on_click="ignore",
        help="One row per word piece of both sentences, as `simsearch embed --tokens` writes them: "
        "sentence (0: first, 1: second), position, token, word and vector (the last layer's "
        "output before pooling, not normalised).",
    )
    st.subheader("What the model adds up to read the pair")
    input_anatomy_view(first, second, state.encoder(model))
    st.subheader("One word, static and in context")
    word_in_context_view(first, second, state.encoder(model))


def cross_encoder_score(folder: str, first: str, second: str) -> float:
    return float(load_reranker(folder).pair_scores([first], [second])[0])


components.guarded(render)
