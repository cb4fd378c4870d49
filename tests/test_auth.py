"""End-to-end tests of authentication: sign-in with an API key and its
errors, Bearer and Basic tokens, X-ORG-ID, the token negatives (missing,
garbage, expired, foreign key, alg none) and cross-organization isolation.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from harness import (ALL_PERMISSIONS, admin, destination_body, mint_token, new_tenant,
                     new_user, sign_in, token_claims)
from schema import assert_response_valid

SIGNIN = "/v1/{organization}/user/signin_with_api_key"


def parse_utc(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- sign-in ------------------------------------------------------------------

def test_sign_in_answers_a_token_and_its_expiry(worker, tenant, served_openapi):
    r = sign_in(worker, tenant.org_id, tenant.user_id, tenant.api_key_id, tenant.api_key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id_token", "expires_at"}
    assert_response_valid(served_openapi, SIGNIN, "post", 200, body)
    expires = parse_utc(body["expires_at"])
    now = datetime.now(timezone.utc)
    # EDGEHOOK_TOKEN_TTL_SECONDS defaults to 3600.
    assert timedelta(seconds=3590) < expires - now <= timedelta(seconds=3605)
    claims = token_claims(body["id_token"])
    assert claims["exp"] == int(expires.timestamp())
    r = httpx.get(f"{worker.url}{tenant.destinations_path}",
                  headers={"Authorization": f"Bearer {body['id_token']}"}, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("change", ["api_key", "api_key_id", "user_id"])
def test_sign_in_with_a_wrong_credential_is_401(worker, tenant, change):
    creds = {"api_key": tenant.api_key, "api_key_id": tenant.api_key_id, "user_id": tenant.user_id}
    creds[change] = {
        "api_key": tenant.api_key[:-4] + "AAAA" if not tenant.api_key.endswith("AAAA")
        else tenant.api_key[:-4] + "BBBB",
        "api_key_id": "0123456789abcdef01234567",
        "user_id": "someone-else",
    }[change]
    r = sign_in(worker, tenant.org_id, creds["user_id"], creds["api_key_id"], creds["api_key"])
    assert r.status_code == 401, r.text
    assert "id_token" not in r.text


def test_sign_in_with_another_organizations_key_is_401(worker, tenant):
    other = new_tenant(worker)
    try:
        r = sign_in(worker, tenant.org_id, other.user_id, other.api_key_id, other.api_key)
        assert r.status_code == 401, r.text
    finally:
        other.close()


def test_sign_in_with_an_expired_key_is_401(worker, tenant):
    with admin(worker) as op:
        soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = op.post(f"/admin/v1/organizations/{tenant.org_id}/users/{tenant.user_id}/api_keys",
                    json={"expires_at": soon})
        assert r.status_code == 201, r.text
        key = r.json()
    assert parse_utc(key["expires_at"]) == parse_utc(soon)
    r = sign_in(worker, tenant.org_id, tenant.user_id, key["api_key_id"], key["api_key"])
    assert r.status_code == 200, r.text
    time.sleep(max(0.0, (parse_utc(soon) - datetime.now(timezone.utc)).total_seconds()) + 0.5)
    r = sign_in(worker, tenant.org_id, tenant.user_id, key["api_key_id"], key["api_key"])
    assert r.status_code == 401, r.text


def test_a_token_expires_with_its_key(worker, tenant):
    """A key that expires before the token TTL caps its tokens: the sign-in
    answer and the token's `exp` say the key's expiry, and the token answers
    401 from then on."""
    expiry = (datetime.now(timezone.utc) + timedelta(seconds=8)).replace(microsecond=0)
    with admin(worker) as op:
        r = op.post(f"/admin/v1/organizations/{tenant.org_id}/users/{tenant.user_id}/api_keys",
                    json={"expires_at": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")})
        assert r.status_code == 201, r.text
        key = r.json()
    r = sign_in(worker, tenant.org_id, tenant.user_id, key["api_key_id"], key["api_key"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert parse_utc(body["expires_at"]) == expiry
    assert token_claims(body["id_token"])["exp"] == int(expiry.timestamp())
    headers = {"Authorization": f"Bearer {body['id_token']}"}
    assert get_list(tenant, headers).status_code == 200
    time.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 1)
    r = get_list(tenant, headers)
    assert r.status_code == 401, r.text


def test_sign_in_to_an_unknown_organization_is_401_like_a_bad_key(worker, tenant):
    r = sign_in(worker, "no-such-org-" + tenant.org_id[:8], tenant.user_id,
                tenant.api_key_id, tenant.api_key)
    assert r.status_code == 401, r.text
    bad_key = sign_in(worker, tenant.org_id, tenant.user_id, tenant.api_key_id,
                      "ehk_not-the-key")
    assert bad_key.status_code == 401, bad_key.text
    assert r.json() == bad_key.json()


@pytest.mark.parametrize("missing", ["x-api-key", "x-api-key-id", "x-user-id"])
def test_sign_in_without_a_header_is_422(worker, tenant, missing):
    headers = {"x-api-key": tenant.api_key, "x-api-key-id": tenant.api_key_id,
               "x-user-id": tenant.user_id}
    del headers[missing]
    r = httpx.post(f"{worker.url}/v1/{tenant.org_id}/user/signin_with_api_key",
                   headers=headers, timeout=30)
    assert r.status_code == 422, r.text
    assert ["header", missing] in [e["loc"] for e in r.json()["detail"]]


def test_sign_in_is_limited_to_five_a_minute_per_user(worker):
    t = new_tenant(worker)  # its own sign-in was the first of five
    try:
        statuses = [sign_in(worker, t.org_id, t.user_id, t.api_key_id, t.api_key)
                    for _ in range(5)]
        assert [r.status_code for r in statuses[:4]] == [200] * 4
        limited = statuses[4]
        assert limited.status_code == 429, limited.text
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 60
        other = new_user(worker, t.org_id)  # another user is not limited by it
        other.close()
    finally:
        t.close()


# --- token forms --------------------------------------------------------------

def get_list(tenant, headers: dict) -> httpx.Response:
    return httpx.get(f"{tenant.worker.url}{tenant.destinations_path}", headers=headers,
                     timeout=30)


def basic(username: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


def test_basic_credentials_with_org_and_user_work(tenant):
    did, _ = tenant.create_destination()
    r = get_list(tenant, {"Authorization": basic(f"{tenant.org_id}_{tenant.user_id}",
                                                 tenant.token)})
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["webhook_destinations"]] == [did]


@pytest.mark.parametrize("username", ["{org}_someone", "other_{user}", "{user}", ""])
def test_basic_credentials_naming_someone_else_are_401(tenant, username):
    username = username.format(org=tenant.org_id, user=tenant.user_id)
    r = get_list(tenant, {"Authorization": basic(username, tenant.token)})
    assert r.status_code == 401, r.text


def test_x_org_id_must_name_the_tokens_organization(worker, tenant):
    ok = get_list(tenant, {"Authorization": f"Bearer {tenant.token}", "X-ORG-ID": tenant.org_id})
    assert ok.status_code == 200, ok.text
    other = new_tenant(worker)
    try:
        r = get_list(tenant, {"Authorization": f"Bearer {tenant.token}",
                              "X-ORG-ID": other.org_id})
        assert r.status_code == 401, r.text
    finally:
        other.close()


def claims_for(tenant, **changes) -> dict:
    claims = token_claims(tenant.token)
    claims.update(changes)
    return claims


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer garbage",
    "Bearer a.b.c",
    "Token {token}",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon").decode(),
])
def test_missing_or_malformed_credentials_are_401(tenant, authorization):
    headers = {} if authorization is None else \
        {"Authorization": authorization.format(token=tenant.token)}
    r = get_list(tenant, headers)
    assert r.status_code == 401, r.text
    assert isinstance(r.json()["detail"], str)


def test_token_signed_with_another_key_is_401(tenant):
    forged = mint_token("not-the-workers-secret-0123456789", claims_for(tenant))
    assert get_list(tenant, {"Authorization": f"Bearer {forged}"}).status_code == 401


def test_unsigned_alg_none_token_is_401(tenant):
    unsigned = mint_token(None, claims_for(tenant), alg="none")
    assert get_list(tenant, {"Authorization": f"Bearer {unsigned}"}).status_code == 401


def test_token_with_another_algorithm_is_401(worker, tenant):
    header_says_hs512 = mint_token(worker.jwt_secret, claims_for(tenant), alg="HS512")
    assert get_list(tenant, {"Authorization": f"Bearer {header_says_hs512}"}).status_code == 401


def test_tampered_claims_are_401(tenant):
    head, _, sig = tenant.token.split(".")
    body = mint_token(None, claims_for(tenant, perms=list(ALL_PERMISSIONS) + ["Admin"])).split(".")[1]
    assert get_list(tenant, {"Authorization": f"Bearer {head}.{body}.{sig}"}).status_code == 401


def test_a_correctly_minted_token_is_accepted(worker, tenant):
    """The control of the negatives above: the same claims signed with the
    Worker's key pass, so a 401 there is about the signature or algorithm."""
    good = mint_token(worker.jwt_secret, claims_for(tenant))
    assert get_list(tenant, {"Authorization": f"Bearer {good}"}).status_code == 200


def test_expired_token_is_401(worker, tenant):
    now = int(time.time())
    expired = mint_token(worker.jwt_secret, claims_for(tenant, iat=now - 120, exp=now - 60))
    r = get_list(tenant, {"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401, r.text


def test_token_expires_after_the_configured_ttl(make_worker):
    w = make_worker(vars={"EDGEHOOK_TOKEN_TTL_SECONDS": "1"})
    t = new_tenant(w)
    try:
        claims = token_claims(t.token)
        assert claims["exp"] - claims["iat"] == 1
        deadline = claims["exp"] + 1.5
        while time.time() < deadline:
            time.sleep(0.2)
        r = t.client.get(t.destinations_path)
        assert r.status_code == 401, r.text
    finally:
        t.close()


# --- organizations are isolated -----------------------------------------------

def test_token_of_one_organization_never_reaches_another(worker, tenant):
    """A's token on B's paths: 404, as for an organization that does not exist;
    A's own paths never show or change B's destinations."""
    a = tenant
    b = new_tenant(worker)
    try:
        b_id, _ = b.create_destination(name="b-only")
        a_id, _ = a.create_destination(name="a-only")
        b_before = b.client.get(b.destination_path(b_id)).json()

        # A's token on B's organization paths: 404 on every endpoint.
        on_b = [
            a.client.get(b.destinations_path),
            a.client.get(b.destinations_path, params={"id": b_id}),
            a.client.post(b.destinations_path, json=destination_body()),
            a.client.get(b.destination_path(b_id)),
            a.client.post(b.destination_path(b_id), json={"retry_attempts": 1}),
            a.client.post(b.destination_path(b_id, "/rotate-secret")),
            a.client.delete(b.destination_path(b_id)),
        ]
        assert [r.status_code for r in on_b] == [404] * len(on_b), [r.text for r in on_b]

        # A's token on its own paths naming B's destination: not found.
        on_a = [
            a.client.get(a.destination_path(b_id)),
            a.client.post(a.destination_path(b_id), json={"retry_attempts": 1}),
            a.client.post(a.destination_path(b_id, "/rotate-secret")),
            a.client.delete(a.destination_path(b_id)),
        ]
        assert [r.status_code for r in on_a] == [404] * len(on_a), [r.text for r in on_a]
        listed = a.client.get(a.destinations_path, params=[("id", b_id), ("id", a_id)])
        assert [d["id"] for d in listed.json()["webhook_destinations"]] == [a_id]
        assert [d["id"] for d in a.list_destinations()] == [a_id]

        # B's destination is untouched, and B never sees A's.
        assert b.client.get(b.destination_path(b_id)).json() == b_before
        assert [d["id"] for d in b.list_destinations()] == [b_id]

        # A's token on an organization that does not exist: 404.
        missing = a.client.get("/v1/no-such-organization/webhook_destination/")
        assert missing.status_code == 404, missing.text
    finally:
        b.close()


def test_basic_credentials_of_one_organization_on_another_are_refused(worker, tenant):
    b = new_tenant(worker)
    try:
        b_id, _ = b.create_destination()
        r = httpx.get(f"{worker.url}{b.destination_path(b_id)}", timeout=30, headers={
            "Authorization": basic(f"{tenant.org_id}_{tenant.user_id}", tenant.token)})
        assert r.status_code == 404, r.text
        r = httpx.get(f"{worker.url}{b.destination_path(b_id)}", timeout=30, headers={
            "Authorization": basic(f"{b.org_id}_{tenant.user_id}", tenant.token)})
        assert r.status_code == 401, r.text
    finally:
        b.close()
