"""A small JSON Schema checker for the subset OpenAPI 3.1 documents use here
($ref, type, required, properties, additionalProperties, items, anyOf/oneOf,
enum, pattern, length and numeric bounds, format date-time), so tests can hold
the Worker's answers to its own served /openapi.json and to the seed spec.

`errors(doc, schema, value)` returns every mismatch as "path: reason";
`assert_valid(doc, schema_name, value)` fails a test with all of them.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

SEED_SPEC_PATH = Path(__file__).resolve().parent / "spec" / "amigo-webhook-destination.openapi.json"

# RFC 3339 date-time: date, 'T', time, optional fraction, Z or an offset.
RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


def seed_spec() -> dict:
    """The seed API (Amigo's Webhook Destination endpoints) as published."""
    return json.loads(SEED_SPEC_PATH.read_text())


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), f"only local refs are supported: {ref}"
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _type_ok(expected: str, value) -> bool:
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "null":
        return value is None
    raise AssertionError(f"unsupported schema type {expected!r}")


def errors(doc: dict, schema: dict, value, path: str = "$") -> list[str]:
    """Every way `value` fails `schema` (refs resolved against `doc`)."""
    schema = _resolve(doc, schema)
    out: list[str] = []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [errors(doc, s, value, path) for s in schema[key]]
            passing = sum(1 for b in branches if not b)
            if passing == 0 or (key == "oneOf" and passing > 1):
                out.append(f"{path}: matches {passing} of the {key} branches: "
                           + "; ".join(e for b in branches for e in b))
    if "allOf" in schema:
        for s in schema["allOf"]:
            out += errors(doc, s, value, path)
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        if not any(_type_ok(t, value) for t in types):
            return out + [f"{path}: expected {'/'.join(types)}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{path}: shorter than {schema['minLength']}")
        if schema.get("format") == "date-time":
            if not RFC3339.match(value):
                out.append(f"{path}: {value!r} is not an RFC 3339 date-time")
            else:
                try:
                    datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    out.append(f"{path}: {value!r} is not a real date-time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: {value} > maximum {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{path}: {value} <= exclusiveMinimum {schema['exclusiveMinimum']}")
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            out.append(f"{path}: {value} >= exclusiveMaximum {schema['exclusiveMaximum']}")
    if isinstance(value, list):
        if "items" in schema:
            for i, item in enumerate(value):
                out += errors(doc, schema["items"], item, f"{path}[{i}]")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(f"{path}: more than {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            out.append(f"{path}: items are not unique")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{path}: required field {name!r} is missing")
        for name, sub in props.items():
            if name in value:
                out += errors(doc, sub, value[name], f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if extra is False:
            for name in value:
                if name not in props:
                    out.append(f"{path}: unexpected field {name!r}")
        elif isinstance(extra, dict):
            for name in value:
                if name not in props:
                    out += errors(doc, extra, value[name], f"{path}.{name}")
    return out


def assert_valid(doc: dict, schema_name: str, value) -> None:
    """Fails with every mismatch between `value` and components.schemas[schema_name]."""
    schema = doc["components"]["schemas"][schema_name]
    problems = errors(doc, schema, value)
    assert not problems, f"{schema_name} mismatch:\n" + "\n".join(problems)


def response_schema(doc: dict, path: str, method: str, status: int) -> dict | None:
    """The JSON schema of one documented response, or None when it has no body."""
    response = doc["paths"][path][method.lower()]["responses"][str(status)]
    content = response.get("content", {}).get("application/json")
    return content["schema"] if content else None


def assert_response_valid(doc: dict, path: str, method: str, status: int, value) -> None:
    """Fails unless `value` is what `doc` documents for this operation and status."""
    schema = response_schema(doc, path, method, status)
    assert schema is not None, f"{method} {path} documents no JSON body for {status}"
    problems = errors(doc, schema, value)
    assert not problems, f"{method} {path} {status} mismatch:\n" + "\n".join(problems)
