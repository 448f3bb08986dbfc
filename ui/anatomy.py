"""Compare page, "Under the hood": the input BERT builds for the pair, and one word static against contextual."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from simsearch import Encoder, SimsearchError
from simsearch.tools import ModelShape, input_anatomy, word_in_context, word_pieces

# The BERT paper's sizes (Devlin et al., 2019, sections 3 and A.2), compared with what the model's config says
_PAPER = {"vocabulary": 30_000, "positions": 512, "segments": 2}


def input_anatomy_view(first: str, second: str, encoder: Encoder) -> None:
    """One row per piece of ``[CLS] first [SEP] second [SEP]`` (or the first alone) with its three embeddings."""
    together = st.toggle(
        "Read both sentences together, as a pair",
        value=True,
        key="anatomy-pair",
        help="[CLS] A [SEP] B [SEP], the way BERT reads a pair (and a cross-encoder does). "
        "The sentence vectors are made from each sentence alone (segment A).",
    )
    found = input_anatomy(first, second if together else None, encoder)
    rows = found.rows()
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        height=min(35 * (len(rows) + 1) + 3, 600),
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("token norm", "segment norm", "position norm", "sum norm", "input norm")
        },
    )
    st.markdown(_where_it_comes_from(found.shape, found.largest_gap, encoder.name))


def _where_it_comes_from(shape: ModelShape, gap: float, model: str) -> str:
    confirmed = [
        f"{shape.vocabulary:,} word pieces (the paper: a {_PAPER['vocabulary']:,}-piece WordPiece vocabulary)",
        f"{shape.positions} positions (the paper: {_PAPER['positions']})",
        f"{shape.segments} segments (the paper: {_PAPER['segments']}, sentence A and B)",
    ]
    # all-MiniLM-L6-v2's model card: nreimers/MiniLM-L6-H384-uncased, fine-tuned on 1B sentence pairs
    lineage = (
        " all-MiniLM-L6-v2 inherited its tables from MiniLM, a small model distilled from a larger "
        "pre-trained one, and went on learning them while trained on a billion sentence pairs."
        if "all-MiniLM-L6-v2" in model
        else ""
    )
    return (
        f"**Where these numbers come from.** The model turns each piece into three vectors of {shape.hidden} "
        "numbers and adds them: a **token** embedding (one row per vocabulary entry), a **segment** embedding "
        "(A or B) and a **position** embedding (one per place in the input). This model's config has "
        f"{'; '.join(confirmed)}. No vector is written by hand: the three tables start random when pre-training "
        "begins and are learnt with the rest of the network (BERT's by predicting masked words and whether B "
        f"follows A, on books and Wikipedia).{lineage} The sum goes through a LayerNorm with a learnt scale "
        f"(**input norm**): that is what the first of the model's {shape.layers} layers reads. Rebuilt here from "
        "the model's tables, it equals the model's own embedding layer (largest difference "
        f"{gap:.1e}). Norms are lengths (L2)."
    )


def word_in_context_view(first: str, second: str, encoder: Encoder) -> None:
    """The chosen word's cosines in the two sentences, from its token-table row through every layer."""
    shared = _shared_words(first, second, encoder)
    suggestion = shared[0] if shared else ""
    if st.session_state.get("context-word-suggested") != suggestion:  # new sentences: offer their shared word
        st.session_state["context-word-suggested"] = st.session_state["context-word"] = suggestion
    word = st.text_input(
        "A word in both sentences",
        key="context-word",
        help="Try 'bank' in 'We sat on the river bank.' and 'She opened a bank account.'",
    )
    if not word.strip():
        st.info(
            "No word occurs in both sentences. Type two sentences that share one, such as "
            "*We sat on the river bank.* and *She opened a bank account.*"
        )
        return
    try:
        found = word_in_context(word, first, second, encoder)
    except SimsearchError as error:
        st.info(error.message_for("ui"))
        return
    columns = st.columns(3)
    columns[0].metric(
        "token embedding cosine",
        f"{found.token_cosine:.3f}",
        help="The row of the token table: the same for the same piece, whatever surrounds it.",
    )
    columns[1].metric(
        "embedding layer cosine",
        f"{found.static_cosine:.3f}",
        help="Token + segment + position, normalised: the static input. Below 1 only because the "
        f"word sits at positions {found.positions[0]} and {found.positions[1]}.",
    )
    columns[2].metric(
        "last layer cosine",
        f"{found.contextual_cosine:.3f}",
        help="The contextual vectors the sentence vector is pooled from.",
    )
    layers = pd.DataFrame({"layer": range(len(found.layer_cosines)), "cosine": found.layer_cosines})
    chart = (
        alt.Chart(layers)
        .mark_line(point=True)
        .encode(
            x=alt.X("layer:O", title="layer (0: embedding layer, the static input)"),
            y=alt.Y("cosine:Q", title=f"cosine of '{found.word}' in the two sentences", scale=alt.Scale(zero=False)),
        )
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        "The static input knows nothing of the sentence around the word; each layer mixes the other "
        "pieces in, so the same word in two contexts gets two different vectors. "
        "`simsearch embed --tokens --layers 0` exports the static input, `--layers N` layer N."
    )


def _shared_words(first: str, second: str, encoder: Encoder) -> list[str]:
    """Whole words (no ## continuation, no punctuation) found in both sentences, longest first."""

    def words(text: str) -> set[str]:
        return {token.text for token in word_pieces(text, encoder) if token.word and not token.text.startswith("##")}

    if not first.strip() or not second.strip():
        return []
    return sorted(words(first) & words(second), key=lambda word: (-len(word), word))
