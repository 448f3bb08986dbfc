"""The request bodies of simsearch's own routes, with every rule JSON Schema can state stated in the schema.

Strict types (a number is not a text, ``true`` is not a k) and no unknown fields, so a typo is
reported rather than ignored. Patterns run on Python's ``re`` (``regex_engine``), the engine
the package's own checks and schemathesis's generator use, so the schema, the server and the
fuzzer agree on what "a word" and "blank" mean. The rules that depend on the index (a
document id that exists, a filter's column type, ``rerank_depth`` at least ``k``) stay 4xx
answers of the routes, described in the fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Path
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from simsearch.errors import InvalidArgumentError
from simsearch.query import DEFAULT_MODE, MAX_K, SearchMode
from simsearch.store import filter_conditions

# I-JSON's integer range (RFC 7493): every integer in it, and its neighbours, is exact as a double, so a client or a
# schema validator that reads numbers as doubles (JavaScript, schemathesis) draws the same line as the server.
MAX_JSON_INT = 2**53 - 1
# What str.strip() removes (Python's whitespace), spelled out: \s means other sets in other regex engines.
_PYTHON_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# check_name's rule (1-64 of letters, digits, '.', '_', '-', a letter or digit first, no '..') without look-arounds,
# which the path parameters' regex engine lacks
IndexName = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$", max_length=64, description="The index's name.")
]


def _whole_float_as_int(value: Any) -> Any:
    """1861.0 is an integer in JSON Schema; take it as 1861 (2.5 and true are still refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_JSON_INT else value


# Constraint markers, not Field(): inside a union (``Count | None``) pydantic states Field's bounds in the schema
# under names JSON Schema does not know (ge, le); and bounds come before the validator, which would hide them.
Count = Annotated[int, Ge(1), Le(min(MAX_K, MAX_JSON_INT)), BeforeValidator(_whole_float_as_int)]
JsonInt = Annotated[int, Ge(-MAX_JSON_INT), Le(MAX_JSON_INT), BeforeValidator(_whole_float_as_int)]
FiniteNumber = Annotated[float, AllowInfNan(False)]
NonBlank = Annotated[StrictStr, StringConstraints(pattern=f"[^{_PYTHON_SPACE}]")]
# Lexical and hybrid searches also need a letter or digit in each query (400 otherwise): "a Unicode letter"
# has no spelling that Python's re, Rust's regex and ECMA-262 read alike, so the rule is in words only.
QueryText = NonBlank


def keys_must_match(schema: dict[str, Any], _model: Any = None) -> None:
    """Say a dict's key pattern the way the server applies it: every key must match.

    pydantic writes ``patternProperties``, which constrains only the keys that match and lets
    any other key through; ``propertyNames`` with ``additionalProperties`` states the rule.
    """
    for value in schema.values():
        for part in value if isinstance(value, list) else [value]:
            if isinstance(part, dict):
                keys_must_match(part)
    if "patternProperties" in schema:
        ((pattern, values),) = schema.pop("patternProperties").items()
        schema.update(propertyNames={"pattern": pattern}, additionalProperties=values)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re", json_schema_extra=keys_must_match)


Scalar = StrictStr | JsonInt | FiniteNumber | StrictBool | None
Bound = StrictStr | JsonInt | FiniteNumber
Values = Scalar | Annotated[list[Scalar], Field(min_length=1)]


class _Operators(Strict):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    eq: Values = None
    ne: Values = None

    @model_validator(mode="before")
    @classmethod
    def _at_least_one(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("give at least one operator: eq, ne, gt, gte, lt or lte")
        return data


class NumberBounds(_Operators):
    """Operators on a numeric column: all bounds numbers."""

    gt: JsonInt | FiniteNumber | SkipJsonSchema[None] = None
    gte: JsonInt | FiniteNumber | SkipJsonSchema[None] = None
    lt: JsonInt | FiniteNumber | SkipJsonSchema[None] = None
    lte: JsonInt | FiniteNumber | SkipJsonSchema[None] = None


class TextBounds(_Operators):
    """Operators on a text column: all bounds strings."""

    gt: StrictStr | SkipJsonSchema[None] = None
    gte: StrictStr | SkipJsonSchema[None] = None
    lt: StrictStr | SkipJsonSchema[None] = None
    lte: StrictStr | SkipJsonSchema[None] = None


Column = Annotated[StrictStr, StringConstraints(pattern=r'^[^"\\]+$')]
Filter = Values | NumberBounds | TextBounds


def _search_schema(schema: dict[str, Any], model: Any = None) -> None:
    keys_must_match(schema)
    schema["oneOf"] = [{"required": ["query"]}, {"required": ["queries"]}]


class SearchBody(Strict):
    model_config = ConfigDict(json_schema_extra=_search_schema)

    query: QueryText | SkipJsonSchema[None] = Field(
        None, description="One query; answered as {hits, timings}. Lexical and hybrid: with a letter or digit."
    )
    queries: Annotated[list[QueryText], Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, description="Several queries, one encoder pass: answered as {results, timings}."
    )
    k: Count = Field(10, description="Hits per query (a k above the document count returns them all).")
    filters: dict[Column, Filter] | None = Field(
        None,
        description='Metadata: {"category": "music"}, a list of values, or operators '
        '{"year": {"gte": 2000, "lt": 2010}}, {"lang": {"ne": "fr"}}.',
    )
    mode: SearchMode = Field(DEFAULT_MODE, description="dense, lexical or hybrid.")
    min_score: FiniteNumber | None = Field(None, description="Drop hits scoring below this (hybrid: the fused score).")
    rerank: StrictBool | None = Field(
        None,
        description="true: re-rank with the server's --rerank cross-encoder (else "
        "the index's default; 400 when neither exists); false: never; omitted: the "
        "index's default re-ranker, if any.",
    )
    rerank_depth: Count | None = Field(
        None, description="First-stage hits re-ranked per query: at least k (400 otherwise); default max(k, 50)."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_of_query_and_queries(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("query" in data) == ("queries" in data):
            raise ValueError('send either "query" (one text) or "queries" (a list), not both or neither')
        return data

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_the_package_reads(cls, filters: Any) -> Any:
        """The package's own check first: its one line names the column and the fix, where a failed union
        of the schema's alternatives would list every alternative."""
        if isinstance(filters, dict):
            try:
                filter_conditions(filters)
            except InvalidArgumentError as error:
                raise ValueError(str(error).rstrip(".")) from None
        return filters

    def filters_as_sent(self) -> dict[str, Any] | None:
        """The filters as plain JSON values, the way the package reads them (operators left out stay out)."""
        if self.filters is None:
            return None
        return {
            column: wanted.model_dump(exclude_unset=True) if isinstance(wanted, BaseModel) else wanted
            for column, wanted in self.filters.items()
        }


class DocumentBody(Strict):
    id: NonBlank | None = Field(None, description="Kept as sent, less surrounding spaces; null or absent: numbered.")
    text: NonBlank
    metadata: dict[StrictStr, Any] = Field(
        default_factory=dict,
        description="Any names but text and id.",
        json_schema_extra={"propertyNames": {"not": {"enum": ["text", "id"]}}},
    )

    @field_validator("metadata")
    @classmethod
    def _no_reserved_names(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted({"text", "id"} & set(metadata))
        if reserved:
            raise ValueError(f"metadata cannot use the name {reserved[0]!r}: the document's own fields have it")
        return metadata


class DocumentsBody(Strict):
    documents: Annotated[list[DocumentBody], Field(min_length=1)]
    upsert: StrictBool = Field(True, description="Replace documents whose ids exist; false refuses them (409).")


class SyncBody(Strict):
    documents: list[DocumentBody] = Field(description="Every document the index should hold; ids not here are deleted.")


class IdsBody(Strict):
    ids: list[StrictStr]


class SimilarityBody(Strict):
    a: StrictStr
    b: StrictStr
