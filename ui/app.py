"""simsearch web UI: the entry point (`simsearch ui`, `make run`, `streamlit run ui/app.py`).

This file only sets the page up: the index picker in the sidebar, shared by every
page, and the navigation between the pages in views/. Only the public simsearch
API is used anywhere in the UI. The repository's ui/ folder installs as the
`simsearch_ui` package, which is how this script and the pages import each other.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from simsearch_ui import components, state

_HERE = Path(__file__).resolve().parent  # the pages are found next to this file, wherever it is installed
PAGES = [
    st.Page(_HERE / "views" / "search.py", title="Search", icon=":material/search:", default=True),
    st.Page(_HERE / "views" / "compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page(_HERE / "views" / "explain.py", title="Explain a result", icon=":material/grid_on:"),
    st.Page(_HERE / "views" / "build.py", title="Build", icon=":material/construction:"),
    st.Page(_HERE / "views" / "overview.py", title="Index overview", icon=":material/scatter_plot:"),
]


def index_picker() -> None:
    names = state.index_names()
    state.apply_pending_selection(names)
    with st.sidebar:
        if names:
            st.selectbox("Index", names, key=state.INDEX_KEY, help="Every page works on this index.")
        else:
            st.caption("No indexes yet: build one on the Build page.")
        st.caption(f"Indexes in `{state.home_as_shown()}`")


st.set_page_config(page_title="simsearch", page_icon="🔎", layout="wide")
page = st.navigation(PAGES)
components.inject_css()
index_picker()
page.run()
