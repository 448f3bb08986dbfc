"""schemathesis hooks for tests/test_openapi_fuzz.py: the two rules of the search body that JSON Schema cannot state.

The schema says them in words (``query``'s and ``rerank_depth``'s descriptions) and the server
answers 400 when they are broken; these hooks keep the fuzzer's *valid* cases inside them, so
``positive_data_acceptance`` tests everything else. Invalid (negative) cases are left alone.
"""

from __future__ import annotations

import re

import schemathesis

_WORD = re.compile(r"[^\W_]")  # simsearch.query.terms' _TERM: what lexical search can look up


@schemathesis.hook
def filter_case(context, case) -> bool:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.path.endswith("/search"):
        return True
    body = case.body if isinstance(case.body, dict) else {}
    queries = [body["query"]] if isinstance(body.get("query"), str) else body.get("queries") or []
    if body.get("mode", "hybrid") != "dense" and not all(_WORD.search(query) for query in queries):
        return False
    depth, k = body.get("rerank_depth"), body.get("k", 10)
    return not (isinstance(depth, int) and isinstance(k, int) and depth < k)
