"""End-to-end tests of the operator API (/admin/v1/...): organizations,
users, API keys, and the maintenance switch that makes every /v1 call answer
503 with Retry-After until it is turned off.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from harness import ALL_PERMISSIONS, GET_DESTINATION, destination_body, new_user, sign_in
from schema import assert_response_valid

ORGS = "/admin/v1/organizations"
USERS = "/admin/v1/organizations/{organization}/users"
KEYS = "/admin/v1/organizations/{organization}/users/{user}/api_keys"
MAINTENANCE = "/admin/v1/maintenance"


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@pytest.mark.parametrize("method, path, body", [
    ("POST", ORGS, {}),
    ("POST", "/admin/v1/organizations/some-org/users", {"permissions": []}),
    ("POST", "/admin/v1/organizations/some-org/users/some-user/api_keys", {}),
    ("DELETE", "/admin/v1/organizations/some-org/users/some-user/api_keys/0123456789abcdef01234567",
     None),
    ("GET", MAINTENANCE, None),
    ("PUT", MAINTENANCE, {"enabled": True}),
])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", "Basic {token}",
                                           "{token}"])
def test_operator_api_needs_the_admin_token(worker, method, path, body, authorization):
    headers = {} if authorization is None else \
        {"Authorization": authorization.format(token=worker.admin_token)}
    r = httpx.request(method, worker.url + path, json=body, headers=headers, timeout=30)
    assert r.status_code == 401, (r.status_code, r.text)
    m = httpx.get(worker.url + MAINTENANCE, timeout=30,
                  headers={"Authorization": f"Bearer {worker.admin_token}"}).json()
    assert m["enabled"] is False


def test_create_organization_with_a_chosen_or_generated_id(admin, served_openapi):
    chosen = name("acme")
    r = admin.post(ORGS, json={"organization_id": chosen})
    assert r.status_code == 201, r.text
    assert r.json() == {"organization_id": chosen}
    assert_response_valid(served_openapi, ORGS, "post", 201, r.json())
    assert admin.post(ORGS, json={"organization_id": chosen}).status_code == 409

    generated = admin.post(ORGS).json()["organization_id"]
    assert len(generated) == 24 and int(generated, 16) >= 0
    assert admin.post(ORGS, json={}).json()["organization_id"] != generated


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "x" * 65, "-leading", 42])
def test_invalid_organization_id_is_422(admin, bad):
    r = admin.post(ORGS, json={"organization_id": bad})
    assert r.status_code == 422, (bad, r.text)
    assert ["body", "organization_id"] in [e["loc"] for e in r.json()["detail"]]


def test_create_user_and_its_errors(admin, served_openapi):
    org = admin.post(ORGS).json()["organization_id"]
    path = USERS.format(organization=org)
    r = admin.post(path, json={"user_id": "alice", "permissions": list(ALL_PERMISSIONS)})
    assert r.status_code == 201, r.text
    assert r.json() == {"user_id": "alice"}
    assert_response_valid(served_openapi, USERS, "post", 201, r.json())
    assert admin.post(path, json={"user_id": "alice", "permissions": []}).status_code == 409
    generated = admin.post(path, json={"permissions": []})
    assert generated.status_code == 201 and generated.json()["user_id"] != "alice"

    r = admin.post(path, json={"permissions": ["Webhook:DoEverything"]})
    assert r.status_code == 422, r.text
    assert ["body", "permissions", "0"] in [e["loc"] for e in r.json()["detail"]]
    for body in ({}, {"permissions": "Webhook:GetWebhookDestination"}, {"permissions": [1]}):
        r = admin.post(path, json=body)
        assert r.status_code == 422, (body, r.text)
    r = admin.post(USERS.format(organization=name("missing")), json={"permissions": []})
    assert r.status_code == 404, r.text


def test_create_api_key_and_its_errors(worker, admin, served_openapi):
    org = admin.post(ORGS).json()["organization_id"]
    user = admin.post(USERS.format(organization=org),
                      json={"permissions": [GET_DESTINATION]}).json()["user_id"]
    path = KEYS.format(organization=org, user=user)
    r = admin.post(path)
    assert r.status_code == 201, r.text
    key = r.json()
    assert set(key) == {"api_key_id", "api_key", "expires_at"}
    assert key["expires_at"] is None
    assert_response_valid(served_openapi, KEYS, "post", 201, key)
    assert sign_in(worker, org, user, key["api_key_id"], key["api_key"]).status_code == 200

    later = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    r = admin.post(path, json={"expires_at": later.isoformat().replace("+00:00", "Z")})
    assert r.status_code == 201, r.text
    expires = datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
    assert expires == later
    assert r.json()["api_key"] != key["api_key"]

    for bad in ("tomorrow", 12345):
        r = admin.post(path, json={"expires_at": bad})
        assert r.status_code == 422, (bad, r.text)
    # A key that would be born expired is refused, naming the field.
    for past in (datetime.now(timezone.utc) - timedelta(seconds=1),
                 datetime(2020, 1, 1, tzinfo=timezone.utc)):
        r = admin.post(path, json={"expires_at": past.isoformat().replace("+00:00", "Z")})
        assert r.status_code == 422, (past, r.text)
        assert r.json()["detail"][0]["loc"] == ["body", "expires_at"], r.text
    assert admin.post(KEYS.format(organization=org, user="nobody")).status_code == 404
    assert admin.post(KEYS.format(organization=name("missing"), user=user)).status_code == 404


def test_revoking_a_key_ends_it_and_its_tokens_within_a_minute(worker, admin, tenant):
    """After DELETE of a key, signing in with it answers 401 at once and its
    tokens answer 401 within 60 s; the user's other keys, and other users'
    tokens, keep working. Only the key's own organization and user name it."""
    second = admin.post(KEYS.format(organization=tenant.org_id, user=tenant.user_id)).json()
    neighbour = new_user(worker, tenant.org_id)
    try:
        assert tenant.client.get(tenant.destinations_path).status_code == 200
        one = KEYS.format(organization=tenant.org_id, user=tenant.user_id) + "/" + tenant.api_key_id
        # Named through another user or organization, the key is not found.
        for wrong in (KEYS.format(organization=tenant.org_id, user=neighbour.user_id),
                      KEYS.format(organization=name("missing"), user=tenant.user_id)):
            r = admin.delete(wrong + "/" + tenant.api_key_id)
            assert r.status_code == 404, r.text
        assert tenant.client.get(tenant.destinations_path).status_code == 200

        revoked_at = time.monotonic()
        r = admin.delete(one)
        assert r.status_code == 204, r.text
        assert r.content == b""
        while True:
            r = tenant.client.get(tenant.destinations_path)
            if r.status_code != 200 or time.monotonic() - revoked_at > 65:
                break
            time.sleep(3.5)  # stays under the 20 calls a minute of the endpoint
        assert r.status_code == 401, r.text
        assert time.monotonic() - revoked_at <= 60
        r = sign_in(worker, tenant.org_id, tenant.user_id, tenant.api_key_id, tenant.api_key)
        assert r.status_code == 401, r.text
        assert admin.delete(one).status_code == 404

        r = sign_in(worker, tenant.org_id, tenant.user_id, second["api_key_id"], second["api_key"])
        assert r.status_code == 200, r.text
        assert neighbour.client.get(neighbour.destinations_path).status_code == 200
    finally:
        neighbour.close()


def test_api_keys_are_never_stored_or_logged_in_clear(worker, admin):
    org = admin.post(ORGS).json()["organization_id"]
    user = admin.post(USERS.format(organization=org), json={"permissions": []}).json()["user_id"]
    key = admin.post(KEYS.format(organization=org, user=user)).json()["api_key"]
    assert key not in worker.log_text()
    d1 = list(worker.state_dir.rglob("*.sqlite"))
    assert d1, "no local D1/Durable Object storage found under the state directory"
    for db in d1:
        assert key.encode() not in db.read_bytes(), db.name


def test_maintenance_mode_answers_503_everywhere_then_recovers(worker, admin, tenant,
                                                               served_openapi):
    did, _ = tenant.create_destination()
    assert admin.get(MAINTENANCE).json() == {"enabled": False, "retry_after_seconds": 60}
    try:
        r = admin.put(MAINTENANCE, json={"enabled": True, "retry_after_seconds": 120})
        assert r.status_code == 200, r.text
        assert r.json() == {"enabled": True, "retry_after_seconds": 120}
        assert_response_valid(served_openapi, MAINTENANCE, "put", 200, r.json())
        assert admin.get(MAINTENANCE).json() == {"enabled": True, "retry_after_seconds": 120}

        c = tenant.client
        calls = {
            "list": c.get(tenant.destinations_path),
            "create": c.post(tenant.destinations_path, json=destination_body()),
            "get": c.get(tenant.destination_path(did)),
            "update": c.post(tenant.destination_path(did), json={"retry_attempts": 1}),
            "rotate": c.post(tenant.destination_path(did, "/rotate-secret")),
            "delete": c.delete(tenant.destination_path(did)),
            "sign-in": sign_in(worker, tenant.org_id, tenant.user_id, tenant.api_key_id,
                               tenant.api_key),
            "no token": httpx.get(worker.url + tenant.destinations_path, timeout=30),
        }
        for what, r in calls.items():
            assert r.status_code == 503, (what, r.status_code, r.text)
            assert r.headers.get("retry-after") == "120", (what, r.headers)
        # The operator API and the document stay up.
        assert admin.post(ORGS).status_code == 201
        assert httpx.get(worker.url + "/openapi.json", timeout=30).status_code == 200
    finally:
        r = admin.put(MAINTENANCE, json={"enabled": False})
        assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False
    assert tenant.client.get(tenant.destination_path(did)).status_code == 200
    assert [d["id"] for d in tenant.list_destinations()] == [did]


@pytest.mark.parametrize("body", [{}, {"enabled": "yes"}, {"enabled": True, "retry_after_seconds": 0},
                                  {"enabled": True, "retry_after_seconds": "60"}])
def test_invalid_maintenance_switch_is_422(admin, body):
    r = admin.put(MAINTENANCE, json=body)
    assert r.status_code == 422, (body, r.text)
    assert admin.get(MAINTENANCE).json()["enabled"] is False


def test_a_user_added_later_signs_in_with_its_own_permissions(worker, tenant):
    reader = new_user(worker, tenant.org_id, [GET_DESTINATION])
    try:
        assert reader.client.get(reader.destinations_path).status_code == 200
        assert reader.client.post(reader.destinations_path,
                                  json=destination_body()).status_code == 403
    finally:
        reader.close()
