"""Reading the served OpenAPI schema (3.0) as plain JSON Schema, for tests that validate with it."""

from __future__ import annotations


def json_schema(node):
    """OpenAPI 3.0's ``nullable`` as JSON Schema says it (a ``null`` type), everywhere in ``node``."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out
