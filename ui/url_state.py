"""Widget values in the URL, so a reload keeps them and a link shares them.

They are copied to and from ``st.query_params`` by hand: Streamlit 1.67's ``bind="query-params"``
on the query box stops ``st.switch_page`` (the Explain button) from leaving the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st


def from_url(key: str, convert: Callable[[str], Any], default: Any) -> None:
    """A widget's first value from the URL (a reload or a shared link); later the widget's own state rules."""
    if key in st.session_state:
        return
    try:
        st.session_state[key] = convert(st.query_params[key]) if key in st.query_params else default
    except ValueError:  # a hand-edited link: ignore what cannot be read
        st.session_state[key] = default


def to_url(values: dict[str, tuple[Any, Any]]) -> None:
    """Write ``{key: (value, default)}`` into the URL, leaving out what is at its default."""
    for key, (value, default) in values.items():
        if value == default or value is None:
            st.query_params.pop(key, None)
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)
