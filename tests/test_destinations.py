"""End-to-end tests of /v1/{organization}/webhook_destination/: create, list,
read one, update, delete and rotate-secret, their answers field by field
(against the served OpenAPI document and the seed spec), validation errors,
the 10-destination limit, the secret's visibility and concurrent changes.
"""

from __future__ import annotations

import base64
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from harness import WEBHOOK_TYPES, destination_body
from schema import assert_response_valid, assert_valid

LIST = "/v1/{organization}/webhook_destination/"
ONE = "/v1/{organization}/webhook_destination/{webhook_destination_id}"
ROTATE = ONE + "/rotate-secret"
SEED_LIST_RESPONSE = "src__app__endpoints__webhook_destination__get_webhook_destinations__Response"
SEED_CREATE_RESPONSE = "src__app__endpoints__webhook_destination__create_webhook_destination__Response"
SEED_ROTATE_RESPONSE = "src__app__endpoints__webhook_destination__rotate_webhook_destination_secret__Response"
ID = re.compile(r"^[a-f0-9]{24}$")
UNKNOWN_ID = "0123456789abcdef01234567"


def parse_utc(value: str) -> datetime:
    assert value.endswith("Z"), f"{value!r} is not UTC with a Z suffix"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_secret(secret: str) -> None:
    assert secret.startswith("whsec_"), secret
    raw = base64.b64decode(secret[len("whsec_"):], validate=True)
    assert len(raw) == 32


def validation_locs(r: httpx.Response) -> list[list]:
    """The `loc` of every entry of a 422 body, after checking its FastAPI shape."""
    assert r.status_code == 422, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail, r.text
    for entry in detail:
        assert set(entry) >= {"loc", "msg", "type"}, entry
        assert isinstance(entry["loc"], list) and isinstance(entry["msg"], str) and entry["msg"]
        assert isinstance(entry["type"], str) and entry["type"]
    return [e["loc"] for e in detail]


# --- create -----------------------------------------------------------------

def test_create_answers_id_and_secret_once(tenant, served_openapi, seed_openapi):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    r = tenant.client.post(tenant.destinations_path, json=destination_body(
        accepted_types=list(WEBHOOK_TYPES), retry_attempts=5))
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"webhook_destination_id", "secret"}
    assert ID.match(body["webhook_destination_id"])
    assert_secret(body["secret"])
    assert_response_valid(served_openapi, LIST, "post", 201, body)
    assert_valid(seed_openapi, SEED_CREATE_RESPONSE, body)

    d = tenant.client.get(tenant.destination_path(body["webhook_destination_id"])).json()
    assert d["retry_attempts"] == 5
    assert d["accepted_types"] == list(WEBHOOK_TYPES)
    assert parse_utc(d["secret_generated_at"]) >= before
    assert parse_utc(d["created_at"]) >= before


def test_create_applies_defaults_and_extensions(tenant):
    url = "https://hooks.example.com/defaults"
    did, _ = tenant.create_destination(url=url)
    d = tenant.client.get(tenant.destination_path(did)).json()
    assert d["url"] == url
    assert d["retry_attempts"] == 3
    assert d["timeout_seconds"] == 10
    assert d["is_active"] is True
    assert d["name"] is None

    did, _ = tenant.create_destination(name="billing", is_active=False, timeout_seconds=30,
                                       retry_attempts=1)
    d = tenant.client.get(tenant.destination_path(did)).json()
    assert (d["name"], d["is_active"], d["timeout_seconds"], d["retry_attempts"]) == \
        ("billing", False, 30, 1)


def test_each_destination_gets_its_own_id_and_secret(tenant):
    created = [tenant.create_destination() for _ in range(3)]
    assert len({d for d, _ in created}) == 3
    assert len({s for _, s in created}) == 3


@pytest.mark.parametrize("fields, loc", [
    ({"retry_attempts": 0}, ["body", "retry_attempts"]),
    ({"retry_attempts": 6}, ["body", "retry_attempts"]),
    ({"retry_attempts": -1}, ["body", "retry_attempts"]),
    ({"retry_attempts": "3"}, ["body", "retry_attempts"]),
    ({"retry_attempts": 2.5}, ["body", "retry_attempts"]),
    ({"timeout_seconds": 0}, ["body", "timeout_seconds"]),
    ({"timeout_seconds": 31}, ["body", "timeout_seconds"]),
    ({"accepted_types": ["no-such-type"]}, ["body", "accepted_types", "0"]),
    ({"accepted_types": "conversation-post-processing-complete"}, ["body", "accepted_types"]),
    ({"is_active": "yes"}, ["body", "is_active"]),
    ({"name": "n" * 201}, ["body", "name"]),
    ({"name": 7}, ["body", "name"]),
    ({"url": 42}, ["body", "url"]),
    ({"url": "not a url"}, ["body", "url"]),
])
def test_create_rejects_invalid_fields_with_422(tenant, fields, loc):
    r = tenant.client.post(tenant.destinations_path, json=destination_body(**fields))
    assert [str(x) for x in loc] in [[str(x) for x in l] for l in validation_locs(r)]
    assert tenant.list_destinations() == []


@pytest.mark.parametrize("missing", ["url", "accepted_types"])
def test_create_requires_url_and_accepted_types(tenant, missing):
    body = destination_body()
    del body[missing]
    r = tenant.client.post(tenant.destinations_path, json=body)
    assert ["body", missing] in validation_locs(r)


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"", b"null"])
def test_create_rejects_a_body_that_is_not_a_json_object(tenant, raw):
    r = tenant.client.post(tenant.destinations_path, content=raw,
                           headers={"content-type": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text)
    validation_locs(r)


def test_eleventh_destination_is_refused_until_one_is_deleted(tenant):
    ids = [tenant.create_destination()[0] for _ in range(10)]
    r = tenant.client.post(tenant.destinations_path, json=destination_body())
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["detail"], str)
    assert len(tenant.list_destinations()) == 10

    assert tenant.client.delete(tenant.destination_path(ids[0])).status_code == 204
    did, _ = tenant.create_destination()
    listed = {d["id"] for d in tenant.list_destinations()}
    assert listed == set(ids[1:]) | {did}
    r = tenant.client.post(tenant.destinations_path, json=destination_body())
    assert r.status_code == 400, r.text


# --- list -------------------------------------------------------------------

def test_list_shows_every_field_and_validates(tenant, served_openapi, seed_openapi):
    assert tenant.list_destinations() == []
    a, _ = tenant.create_destination(name="a")
    b, _ = tenant.create_destination(accepted_types=["api-key-expiration-soon"])
    r = tenant.client.get(tenant.destinations_path)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"webhook_destinations"}
    assert_response_valid(served_openapi, LIST, "get", 200, body)
    assert_valid(seed_openapi, SEED_LIST_RESPONSE, body)
    by_id = {d["id"]: d for d in body["webhook_destinations"]}
    assert set(by_id) == {a, b}
    for d in by_id.values():
        assert set(d) == {"id", "url", "secret_generated_at", "retry_attempts", "accepted_types",
                          "name", "is_active", "timeout_seconds", "max_per_second", "disabled_reason",
                          "disabled_at", "created_at", "signing", "public_key"}
        assert d["max_per_second"] is None, "no throttle unless asked for"
        assert (d["signing"], d["public_key"]) == ("hmac", None), "HMAC unless asked for"
        assert_valid(seed_openapi, "WebhookDestination", d)
        assert_valid(served_openapi, "WebhookDestination", d)
    assert by_id[a]["name"] == "a"
    assert by_id[b]["accepted_types"] == ["api-key-expiration-soon"]


def test_list_by_repeated_id_returns_only_those(tenant):
    a, _ = tenant.create_destination()
    b, _ = tenant.create_destination()
    c, _ = tenant.create_destination()
    got = tenant.client.get(tenant.destinations_path, params=[("id", a), ("id", c)])
    assert got.status_code == 200
    assert {d["id"] for d in got.json()["webhook_destinations"]} == {a, c}
    got = tenant.client.get(tenant.destinations_path, params={"id": UNKNOWN_ID})
    assert got.status_code == 200 and got.json() == {"webhook_destinations": []}
    assert b in {d["id"] for d in tenant.list_destinations()}


@pytest.mark.parametrize("ids", [
    ["abc"],
    ["0123456789ABCDEF01234567"],  # upper case
    ["0123456789abcdef0123456"],  # 23 characters
    ["0123456789abcdef012345678"],  # 25 characters
    ["0123456789abcdef0123456g"],
    [UNKNOWN_ID, UNKNOWN_ID],  # not unique
])
def test_list_rejects_bad_or_repeated_ids_with_422(tenant, ids):
    r = tenant.client.get(tenant.destinations_path, params=[("id", i) for i in ids])
    locs = validation_locs(r)
    assert all(loc[:2] == ["query", "id"] for loc in locs), locs


# --- get one ------------------------------------------------------------------

def test_get_one_matches_its_list_entry(tenant, served_openapi, seed_openapi):
    did, _ = tenant.create_destination(name="one", timeout_seconds=7)
    r = tenant.client.get(tenant.destination_path(did))
    assert r.status_code == 200, r.text
    d = r.json()
    assert_response_valid(served_openapi, ONE, "get", 200, d)
    assert_valid(seed_openapi, "WebhookDestination", d)
    assert d == tenant.list_destinations()[0]
    assert (d["id"], d["name"], d["timeout_seconds"]) == (did, "one", 7)


def test_get_unknown_destination_is_404(tenant):
    r = tenant.client.get(tenant.destination_path(UNKNOWN_ID))
    assert r.status_code == 404
    assert isinstance(r.json()["detail"], str)


# --- update -------------------------------------------------------------------

def test_update_changes_only_the_given_fields(tenant):
    did, _ = tenant.create_destination(name="before")
    before = tenant.client.get(tenant.destination_path(did)).json()
    r = tenant.client.post(tenant.destination_path(did), json={
        "retry_attempts": 5, "accepted_types": ["agent-framework-resource-updated"]})
    assert r.status_code == 204, r.text
    assert r.content == b""
    after = tenant.client.get(tenant.destination_path(did)).json()
    assert after["retry_attempts"] == 5
    assert after["accepted_types"] == ["agent-framework-resource-updated"]
    for unchanged in ("url", "name", "is_active", "timeout_seconds", "secret_generated_at",
                      "created_at", "id"):
        assert after[unchanged] == before[unchanged], unchanged

    r = tenant.client.post(tenant.destination_path(did), json={
        "name": "after", "is_active": False, "timeout_seconds": 1})
    assert r.status_code == 204, r.text
    after = tenant.client.get(tenant.destination_path(did)).json()
    assert (after["name"], after["is_active"], after["timeout_seconds"], after["retry_attempts"]) \
        == ("after", False, 1, 5)


def test_update_never_changes_the_url(tenant):
    did, _ = tenant.create_destination(url="https://hooks.example.com/fixed")
    r = tenant.client.post(tenant.destination_path(did),
                           json={"url": "https://hooks.example.com/moved", "retry_attempts": 4})
    assert ["body", "url"] in validation_locs(r)
    d = tenant.client.get(tenant.destination_path(did)).json()
    assert d["url"] == "https://hooks.example.com/fixed"
    assert d["retry_attempts"] == 3


@pytest.mark.parametrize("fields, loc", [
    ({"retry_attempts": 0}, ["body", "retry_attempts"]),
    ({"retry_attempts": 6}, ["body", "retry_attempts"]),
    ({"timeout_seconds": 31}, ["body", "timeout_seconds"]),
    ({"accepted_types": ["nope"]}, ["body", "accepted_types", "0"]),
    ({"is_active": 1}, ["body", "is_active"]),
])
def test_update_rejects_invalid_fields_with_422(tenant, fields, loc):
    did, _ = tenant.create_destination()
    before = tenant.client.get(tenant.destination_path(did)).json()
    r = tenant.client.post(tenant.destination_path(did), json=fields)
    assert loc in validation_locs(r)
    assert tenant.client.get(tenant.destination_path(did)).json() == before


def test_update_unknown_or_deleted_destination_is_404(tenant):
    r = tenant.client.post(tenant.destination_path(UNKNOWN_ID), json={"retry_attempts": 2})
    assert r.status_code == 404, r.text
    did, _ = tenant.create_destination()
    assert tenant.client.delete(tenant.destination_path(did)).status_code == 204
    r = tenant.client.post(tenant.destination_path(did), json={"retry_attempts": 2})
    assert r.status_code == 404, r.text


# --- delete -------------------------------------------------------------------

def test_delete_removes_the_destination_then_404(tenant):
    keep, _ = tenant.create_destination()
    did, _ = tenant.create_destination()
    r = tenant.client.delete(tenant.destination_path(did))
    assert r.status_code == 204 and r.content == b""
    assert tenant.client.get(tenant.destination_path(did)).status_code == 404
    assert [d["id"] for d in tenant.list_destinations()] == [keep]
    got = tenant.client.get(tenant.destinations_path, params={"id": did})
    assert got.json() == {"webhook_destinations": []}
    assert tenant.client.delete(tenant.destination_path(did)).status_code == 404
    assert tenant.client.delete(tenant.destination_path(UNKNOWN_ID)).status_code == 404


# --- rotate-secret ------------------------------------------------------------

def test_rotate_secret_answers_a_new_secret_and_dual_signing_end(tenant, served_openapi,
                                                                 seed_openapi):
    did, first = tenant.create_destination()
    before = tenant.client.get(tenant.destination_path(did)).json()
    time.sleep(0.01)
    r = tenant.client.post(tenant.destination_path(did, "/rotate-secret"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"secret", "dual_signing_stops_at"}
    assert_response_valid(served_openapi, ROTATE, "post", 200, body)
    assert_valid(seed_openapi, SEED_ROTATE_RESPONSE, body)
    assert_secret(body["secret"])
    assert body["secret"] != first
    after = tenant.client.get(tenant.destination_path(did)).json()
    rotated_at = parse_utc(after["secret_generated_at"])
    assert rotated_at > parse_utc(before["secret_generated_at"])
    # Dual signing lasts EDGEHOOK_DUAL_SIGNING_SECONDS (1800 by default).
    stops = parse_utc(body["dual_signing_stops_at"])
    assert abs((stops - rotated_at).total_seconds() - 1800) < 2, (stops, rotated_at)


def test_second_rotation_within_the_cooldown_is_400(tenant):
    did, _ = tenant.create_destination()
    assert tenant.client.post(tenant.destination_path(did, "/rotate-secret")).status_code == 200
    generated = tenant.client.get(tenant.destination_path(did)).json()["secret_generated_at"]
    r = tenant.client.post(tenant.destination_path(did, "/rotate-secret"))
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["detail"], str)
    assert "secret" not in r.json()
    assert tenant.client.get(tenant.destination_path(did)).json()["secret_generated_at"] == generated


def test_rotate_unknown_or_deleted_destination_is_404(tenant):
    assert tenant.client.post(tenant.destination_path(UNKNOWN_ID, "/rotate-secret")).status_code == 404
    did, _ = tenant.create_destination()
    assert tenant.client.delete(tenant.destination_path(did)).status_code == 204
    assert tenant.client.post(tenant.destination_path(did, "/rotate-secret")).status_code == 404


# --- ids in paths -------------------------------------------------------------

@pytest.mark.parametrize("method, suffix", [
    ("GET", ""), ("POST", ""), ("DELETE", ""), ("POST", "/rotate-secret")])
@pytest.mark.parametrize("bad_id", ["xyz", "0123456789ABCDEF01234567", "0123456789abcdef012345678"])
def test_invalid_destination_id_in_path_is_422(tenant, method, suffix, bad_id):
    kwargs = {"json": {"retry_attempts": 2}} if method == "POST" and not suffix else {}
    r = tenant.client.request(method, tenant.destination_path(bad_id, suffix), **kwargs)
    assert ["path", "webhook_destination_id"] in validation_locs(r)


# --- secrets stay secret ------------------------------------------------------

def test_secrets_appear_in_no_read_and_no_log(worker, tenant):
    did, secret = tenant.create_destination()
    rotated = tenant.client.post(tenant.destination_path(did, "/rotate-secret")).json()["secret"]
    reads = [
        tenant.client.get(tenant.destinations_path),
        tenant.client.get(tenant.destinations_path, params={"id": did}),
        tenant.client.get(tenant.destination_path(did)),
    ]
    for r in reads:
        assert r.status_code == 200
        for s in (secret, rotated):
            assert s not in r.text
            assert s[len("whsec_"):] not in r.text
        assert "whsec_" not in r.text
        assert "secret\"" not in r.text.replace("secret_generated_at\"", "")
    time.sleep(0.5)  # let wrangler flush its request log
    log = worker.log_text()
    for s in (secret, rotated, secret[len("whsec_"):], rotated[len("whsec_"):]):
        assert s not in log
    assert tenant.token not in log
    assert tenant.api_key not in log


# --- headers from Amigo's clients ---------------------------------------------

AMIGO_HEADERS = [
    {"x-mongo-cluster-name": "abcd"},
    {"x-mongo-cluster-name": ""},
    {"Sec-WebSocket-Protocol": "amigo.v1"},
    {"x-mongo-cluster-name": "eu-central-1", "Sec-WebSocket-Protocol": "a, b"},
]


@pytest.mark.parametrize("headers", AMIGO_HEADERS)
def test_amigo_headers_never_break_a_call(tenant, headers):
    c, h = tenant.client, headers
    r = c.post(tenant.destinations_path, json=destination_body(), headers=h)
    assert r.status_code == 201, r.text
    did = r.json()["webhook_destination_id"]
    assert c.get(tenant.destinations_path, headers=h).status_code == 200
    assert c.get(tenant.destinations_path, params={"id": did}, headers=h).status_code == 200
    assert c.get(tenant.destination_path(did), headers=h).status_code == 200
    assert c.post(tenant.destination_path(did), json={"retry_attempts": 2},
                  headers=h).status_code == 204
    assert c.post(tenant.destination_path(did, "/rotate-secret"), headers=h).status_code == 200
    assert c.delete(tenant.destination_path(did), headers=h).status_code == 204
    r = httpx.post(f"{tenant.worker.url}/v1/{tenant.org_id}/user/signin_with_api_key",
                   headers={"x-api-key": tenant.api_key, "x-api-key-id": tenant.api_key_id,
                            "x-user-id": tenant.user_id, **h}, timeout=30)
    assert r.status_code == 200, r.text


# --- concurrent changes -------------------------------------------------------

def test_concurrent_changes_to_one_destination_conflict_with_409(tenant):
    """Changes to one destination are applied one at a time: a burst of
    updates and a rotation at once gets some 204s and at least one 409, and
    every answer is one of those (or 200 for the rotation)."""
    did, _ = tenant.create_destination()
    path = tenant.destination_path(did)

    def update(i: int) -> int:
        return tenant.client.post(path, json={"retry_attempts": 1 + i % 5,
                                              "name": f"burst-{i}"}).status_code

    def rotate(_: int) -> int:
        return tenant.client.post(path + "/rotate-secret").status_code

    with ThreadPoolExecutor(max_workers=11) as pool:
        futures = [pool.submit(update, i) for i in range(10)] + [pool.submit(rotate, 0)]
        statuses = [f.result(timeout=60) for f in futures]
    updates, rotation = statuses[:10], statuses[10]
    assert set(updates) <= {204, 409}, statuses
    assert rotation in (200, 409), statuses
    assert updates.count(204) >= 1, statuses
    assert 409 in statuses, f"no 409 in a burst of 11 concurrent changes: {statuses}"
    d = tenant.client.get(path).json()
    assert d["name"].startswith("burst-")


def test_a_name_and_a_throttle_are_cleared_with_null(tenant):
    """`null` in an update clears the field (it is not read as "unchanged")."""
    did, _ = tenant.create_destination(name="orders", max_per_second=7)
    d = tenant.client.get(tenant.destination_path(did)).json()
    assert (d["name"], d["max_per_second"]) == ("orders", 7)
    r = tenant.client.post(tenant.destination_path(did), json={"name": None, "max_per_second": None})
    assert r.status_code == 204, r.text
    d = tenant.client.get(tenant.destination_path(did)).json()
    assert (d["name"], d["max_per_second"]) == (None, None)
