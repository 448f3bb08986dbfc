"""The search page's metadata filters: per column a value to keep or leave out, and for numbers a range.

Each control's key is also its URL parameter (filter-INDEX-COLUMN, and not-…, from-… and to-… for
leaving a value out and for ranges), so a reload keeps the filters and a link shares them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import streamlit as st

from simsearch_ui import state
from simsearch_ui.url_state import from_url

if TYPE_CHECKING:
    from simsearch import Index
    from simsearch.store import Facet, StoredDocument

ANY = "any"
URL_DEFAULTS = {"filter": ANY, "not": False, "from": None, "to": None}  # controls' values left out of URLs
FEW_VALUES = 25  # the index's usual facets; a filter's help lists this many values' counts at most
MANY_VALUES = 1_000  # a column with more distinct values gets no filter (free text, ids); a clustering has fewer
NO_VALUE = object()  # no value picked in a column's drop-down (None is a value: "not set")


def filter_widgets(index: Index) -> dict:
    """Per metadata column: a value to keep ("any": all) or, ticked "not", to leave out; numbers also a range."""
    many = many_valued_facets(state.home(), index.name, state.index_version(index))
    facets = {facet.column: facet for facet in [*state.index_facets(index), *many]}
    numbers = _numeric_columns(state.home(), index.name, state.index_version(index))
    filters: dict = {}
    columns = st.columns(4)  # a quarter of the width each, however few columns there are
    for number, column in enumerate(sorted(facets.keys() | numbers.keys())):
        place = columns[number % len(columns)]
        value = _value_picker(place, index.name, facets[column]) if column in facets else NO_VALUE
        exclude = value is not NO_VALUE and place.checkbox(
            "not", key=_key("not", index.name, column), help=f"Leave out this {column}"
        )
        low, high = _range_inputs(place, index.name, column, numbers[column]) if column in numbers else (None, None)
        spec = column_filter(value, exclude, low, high)
        if spec is not NO_VALUE:
            filters[column] = spec
    return filters


def _key(control: str, index_name: str, column: str) -> str:
    """Widget keys, which are also the URL's parameter names: filter-INDEX-COLUMN, not-…, from-…, to-…."""
    return f"{control}-{index_name}-{column}"


def url_values(index_name: str) -> dict[str, tuple[Any, Any]]:
    """Every filter control of this index with its value and default, as ``url_state.to_url`` takes them."""
    prefixes = tuple(f"{control}-{index_name}-" for control in URL_DEFAULTS)
    return {
        key: (value, URL_DEFAULTS[key.split("-", 1)[0]])
        for key, value in st.session_state.items()
        if isinstance(key, str) and key.startswith(prefixes)
    }


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
    return values[chosen] if chosen is not None and chosen != ANY else NO_VALUE


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


@st.cache_data(show_spinner=False, max_entries=32)
def _numeric_columns(folder: str, name: str, version: tuple) -> dict[str, type]:
    """Columns for range controls, judged on a sample (``folder`` and ``version`` only key the cache)."""
    return numeric_columns(state.current_index(name).sample_documents(500))


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
