"""Search results as data, no Streamlit: identical texts grouped, and the CSV and JSON the page offers."""

from __future__ import annotations

import json

import pandas as pd

from simsearch import Hit


def identical_groups(hits: list[Hit]) -> list[tuple[int, Hit, list[Hit]]]:
    """Hits with exactly the same text as one entry: (rank of the first, the first, the others), in rank order."""
    groups: dict[str, tuple[int, Hit, list[Hit]]] = {}
    for rank, hit in enumerate(hits, start=1):
        if hit.text in groups:
            groups[hit.text][2].append(hit)
        else:
            groups[hit.text] = (rank, hit, [])
    return list(groups.values())


def results_csv(hits: list[Hit]) -> str:
    """One row a hit: rank, id, score, text, then a column per metadata field."""
    rows = [
        {"rank": rank, "id": hit.id, "score": round(hit.score, 6), "text": hit.text, **hit.metadata}
        for rank, hit in enumerate(hits, start=1)
    ]
    return pd.DataFrame(rows, columns=None if rows else ["rank", "id", "score", "text"]).to_csv(index=False)


def results_json(query: str, filters: dict, hits: list[Hit]) -> str:
    """The query, its filters and the ranked hits, in the shape `simsearch search --json` prints a hit."""
    return json.dumps(
        {
            "query": query,
            "filters": filters,
            "hits": [
                {"rank": rank, "id": hit.id, "score": round(hit.score, 6), "text": hit.text, "metadata": hit.metadata}
                for rank, hit in enumerate(hits, start=1)
            ],
        },
        ensure_ascii=False,
        indent=1,
        default=str,
    )
