"""End-to-end tests of GET /openapi.json: the served document covers the seed
API's destination endpoints with their methods, parameters and statuses, its
schemas extend the seed's without changing them, and every documented path
is answered by the Worker (none is a "no route" 404).
"""

from __future__ import annotations

import httpx
import pytest

from schema import errors, seed_spec

# The seed's delivery listing belongs to the delivery engine; the management
# API's tests cover the other seed operations.
SEED_OPERATIONS = [
    (path, method)
    for path, ops in seed_spec()["paths"].items()
    for method in ops
    if not path.endswith("/delivery")
]
SEED_SCHEMAS = [
    "WebhookDestination",
    "src__app__endpoints__webhook_destination__get_webhook_destinations__Response",
    "src__app__endpoints__webhook_destination__create_webhook_destination__Response",
    "src__app__endpoints__webhook_destination__rotate_webhook_destination_secret__Response",
    "src__app__endpoints__webhook_destination__create_webhook_destination__Request",
    "src__app__endpoints__webhook_destination__update_webhook_destination__Request",
    "WebhookType",
]


def test_document_is_served_as_json(worker):
    r = httpx.get(worker.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"]


@pytest.mark.parametrize("path, method", SEED_OPERATIONS)
def test_every_seed_operation_is_documented_with_its_statuses(served_openapi, seed_openapi,
                                                              path, method):
    assert path in served_openapi["paths"], path
    served = served_openapi["paths"][path].get(method)
    assert served is not None, f"{method.upper()} {path} missing"
    seed = seed_openapi["paths"][path][method]
    assert set(seed["responses"]) <= set(served["responses"]), \
        (sorted(seed["responses"]), sorted(served["responses"]))
    seed_params = {(p["name"], p["in"]) for p in seed.get("parameters", [])}
    served_params = {(p["name"], p["in"]) for p in served.get("parameters", [])}
    assert seed_params <= served_params, seed_params - served_params


@pytest.mark.parametrize("name", SEED_SCHEMAS)
def test_seed_schemas_are_kept_field_for_field(served_openapi, seed_openapi, name):
    seed = seed_openapi["components"]["schemas"][name]
    served = served_openapi["components"]["schemas"].get(name)
    assert served is not None, name
    if "enum" in seed:
        assert served["enum"] == seed["enum"]
        return
    assert set(seed.get("required", [])) <= set(served.get("required", []))
    for field, spec in seed.get("properties", {}).items():
        assert field in served["properties"], field
        for key in ("type", "format", "pattern", "exclusiveMinimum", "maximum", "minimum"):
            if key in spec:
                assert served["properties"][field].get(key) == spec[key], (field, key)


def test_seed_example_destination_validates_against_both(served_openapi, seed_openapi):
    """A destination as edgehook answers it satisfies the seed's schema; one
    lacking the extensions does not satisfy the served one (so the check is real)."""
    full = {"id": "0123456789abcdef01234567", "url": "https://hooks.example.com/x",
            "secret_generated_at": "2026-01-01T00:00:00Z", "retry_attempts": 3,
            "accepted_types": ["api-key-expiration-soon"], "name": None, "is_active": True,
            "timeout_seconds": 10, "max_per_second": None, "disabled_reason": None,
            "disabled_at": None, "created_at": "2026-01-01T00:00:00Z", "signing": "hmac",
            "public_key": None}
    schema = {"$ref": "#/components/schemas/WebhookDestination"}
    assert errors(served_openapi, schema, full) == []
    assert errors(seed_openapi, schema, full) == []
    bare = {k: full[k] for k in ("id", "url", "secret_generated_at", "retry_attempts",
                                 "accepted_types")}
    assert errors(served_openapi, schema, bare) != []
    assert errors(served_openapi, schema, {**full, "secret_generated_at": "yesterday"}) != []
    ed25519 = {**full, "signing": "ed25519",
               "public_key": "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="}
    assert errors(served_openapi, schema, ed25519) == []
    assert errors(seed_openapi, schema, ed25519) == []
    for bad in ({"signing": "rsa"}, {"public_key": "whsec_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g="},
                {"public_key": "whpk_short="}):
        assert errors(served_openapi, schema, {**ed25519, **bad}) != [], bad


def test_every_documented_path_is_routed(worker, served_openapi):
    unrouted = []
    for path, ops in served_openapi["paths"].items():
        concrete = (path.replace("{organization}", "no-such-org")
                    .replace("{webhook_destination_id}", "0123456789abcdef01234567")
                    .replace("{user}", "no-such-user")
                    .replace("{delivery_id}", "0123456789abcdef01234567"))
        for method in ops:
            if method not in ("get", "post", "put", "delete", "patch"):
                continue
            r = httpx.request(method.upper(), worker.url + concrete, timeout=30)
            if r.status_code == 405 or (r.status_code == 404 and "no route" in r.text):
                unrouted.append((method.upper(), path, r.status_code))
    assert unrouted == []


def test_portal_session_fields_are_documented(served_openapi, tenant):
    """Every field a portal session request takes is in the document, and an
    answer the Worker gives validates against the documented response."""
    req = {"$ref": "#/components/schemas/PortalSessionRequest"}
    body = {"ttl_seconds": 600, "read_only": True, "allowed_origins": ["https://app.example.com"],
            "open": {"destination_id": "0123456789abcdef01234567",
                     "delivery_id": "89abcdef0123456701234567"},
            "theme": {"name": "Acme", "accent_color": "#102060", "mode": "dark"},
            "return_url": "https://app.example.com/webhooks"}
    assert errors(served_openapi, req, body) == []
    properties = served_openapi["components"]["schemas"]["PortalSessionRequest"]["properties"]
    assert set(properties) == set(body)
    for bad in ({"theme": {"accent_color": "blue"}}, {"theme": {"mode": "sepia"}},
                {"open": {"delivery_id": "89abcdef0123456701234567"}},
                {"allowed_origins": [f"https://h{i}.example.com" for i in range(11)]}):
        assert errors(served_openapi, req, bad) != [], bad
    r = tenant.client.post(f"/v1/{tenant.org_id}/portal_session/", json=body)
    assert r.status_code == 201, r.text
    assert errors(served_openapi, {"$ref": "#/components/schemas/PortalSessionResponse"}, r.json()) == []
