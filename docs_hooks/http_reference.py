"""The HTTP reference page, rendered from the server's own OpenAPI schema at build time."""

from __future__ import annotations

import tempfile
from typing import Any

Schema = dict[str, Any]

INTRO = (
    "Every route of `simsearch serve`, rendered from the app's OpenAPI schema when the site is built (a running\n"
    "server shows the same schema interactively at `/docs`). With an API key set, every route but `/health`\n"
    'needs `Authorization: Bearer KEY`. Every failure is one JSON object, `{"error": "what is wrong and the '
    'fix", "type": "ErrorClass"}`.\n\n'
)


def openapi_schema() -> Schema:
    """The schema of an app over an empty index folder: routes do not depend on what the folder holds."""
    from simsearch.serving.app import create_app

    with tempfile.TemporaryDirectory() as home:
        return create_app(home).openapi()


def type_name(schema: Schema) -> str:
    """A JSON schema's type in words: ``string``, ``list of string``, ``integer or null``, a model's name."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " or ".join(type_name(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {type_name(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def fields_table(model: Schema) -> list[str]:
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    required = set(model.get("required", ()))
    for name, field in model.get("properties", {}).items():
        default = "required" if name in required else f"`{field['default']}`" if "default" in field else ""
        meaning = field.get("description", "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name}` | {type_name(field)} | {default} | {meaning} |")
    return rows


def operation_markdown(method: str, path: str, operation: Schema, schemas: dict[str, Schema]) -> list[str]:
    lines = [f"## `{method.upper()} {path}`", "", operation.get("summary", ""), ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type |", "|---|---|---|"]
        lines += [f"| `{p['name']}` | {p['in']} | {type_name(p.get('schema', {}))} |" for p in parameters] + [""]
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        name = body.get("$ref", "").rsplit("/", 1)[-1]
        lines += [f"Body (`{name}`):", ""] + fields_table(schemas.get(name, body)) + [""]
    codes = ", ".join(f"{code} {answer.get('description', '')}" for code, answer in operation["responses"].items())
    lines += [f"Answers: {codes}.", ""]
    return lines


def nested_models(schemas: dict[str, Schema], named: set[str]) -> list[str]:
    """Tables for the models a body refers to (a document inside a list of documents)."""
    lines: list[str] = []
    for name in sorted(named):
        lines += [f"## `{name}`", ""] + fields_table(schemas[name]) + [""]
    return lines


def http_reference_markdown() -> str:
    schema = openapi_schema()
    schemas = schema.get("components", {}).get("schemas", {})
    lines = [f"# HTTP API ({schema['info']['title']} {schema['info']['version']})", "", INTRO]
    bodies: set[str] = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            lines += operation_markdown(method, path, operation, schemas)
            ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            bodies.add(ref.get("$ref", "").rsplit("/", 1)[-1])
    inner = {name for name in schemas if name not in bodies and "ValidationError" not in name}
    return "\n".join(lines + nested_models(schemas, inner))
