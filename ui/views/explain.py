"""Explain a result: which tokens of the query lined up with which tokens of a hit."""

from __future__ import annotations

import streamlit as st

from simsearch.tools import compare_texts
from simsearch_ui import components, state, token_views


def render() -> None:
    st.title("Explain a result")
    request = st.session_state.pop("explain_request", None)
    if request is not None:
        st.session_state["explained"] = request
    explained = st.session_state.get("explained")
    if explained is None:
        st.info("Press **Explain** under a search result to see how the model matched it to your query.")
        return
    index = state.current_index(explained["index"])
    st.markdown(f"**Query:** {components.escape_markdown(explained['query'])}")
    hit_text = components.escape_markdown(explained["text"])
    st.markdown(f"**Hit** `{explained['id']}` in index **{index.name}**: {hit_text}")
    comparison = compare_texts(explained["query"], explained["text"], index.encoder)
    st.metric("cosine similarity", f"{comparison.score:.3f}")
    st.markdown(f"*{comparison.reading}*")
    st.subheader("Under the hood")
    token_views.token_view(comparison.tokens, "query", "hit", key="explain")


components.guarded(render)
