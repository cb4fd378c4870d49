"""End-to-end tests of customer-portal sessions and the portal page's headers
(the page itself is driven in a browser by test_portal.py):

- a session's token works for its organization's destination and delivery
  endpoints, and only those: not publishing, not minting sessions, not
  another organization;
- a read-only session reads and every change answers 403;
- a revoked session and an expired token answer 401;
- bad session requests are 422 naming the field;
- `/portal/` is served with a frame-ancestors policy taken from live
  sessions' allowed origins, the page revalidated and its hashed files cached
  for good.
"""

from __future__ import annotations

import time

import httpx

from harness import (ALL_PERMISSIONS, CREATE_PORTAL_SESSION, GET_DESTINATION, destination_body,
                     mint_token, new_tenant, new_user, token_claims)

SESSIONS = "/v1/{org}/portal_session/"


def mint(tenant, **body) -> dict:
    r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json=body)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def as_session(worker, session: dict) -> httpx.Client:
    return httpx.Client(base_url=worker.url, timeout=30,
                        headers={"Authorization": f"Bearer {session['token']}"})


def test_a_session_acts_on_destinations_and_deliveries_of_its_organization(worker, tenant):
    dest, _ = tenant.create_destination()
    s = mint(tenant)
    assert set(s) == {"session_id", "url", "token", "expires_at"}
    assert s["url"] == f"{worker.url}/portal/#token={s['token']}"
    claims = token_claims(s["token"])
    assert claims["org"] == tenant.org_id and claims["exp"] - time.time() > 3500
    with as_session(worker, s) as portal:
        base = tenant.destinations_path
        assert [d["id"] for d in portal.get(base).json()["webhook_destinations"]] == [dest]
        created = portal.post(base, json=destination_body())
        assert created.status_code == 201, created.text
        new_id = created.json()["webhook_destination_id"]
        assert portal.post(tenant.destination_path(new_id), json={"name": "mine"}).status_code == 204
        assert portal.post(tenant.destination_path(new_id, "/rotate-secret")).status_code == 200
        assert portal.get(tenant.destination_path(dest, "/delivery")).status_code == 200
        assert portal.delete(tenant.destination_path(new_id)).status_code == 204
        # Not publishing, not minting sessions.
        r = portal.post(f"/v1/{tenant.org_id}/webhook_event/",
                        json={"type": "api-key-expiration-soon"})
        assert r.status_code == 403, r.text
        assert portal.post(SESSIONS.format(org=tenant.org_id), json={}).status_code == 403
    # Not another organization, whether or not it exists.
    other = new_tenant(worker)
    try:
        with as_session(worker, s) as portal:
            for org in (other.org_id, "no-such-org"):
                r = portal.get(f"/v1/{org}/webhook_destination/")
                assert r.status_code == 404, (org, r.text)
    finally:
        other.close()


def test_a_read_only_session_reads_and_every_change_is_403(worker, tenant):
    dest, _ = tenant.create_destination()
    s = mint(tenant, read_only=True, ttl_seconds=60)
    with as_session(worker, s) as portal:
        assert portal.get(tenant.destinations_path).status_code == 200
        assert portal.get(tenant.destination_path(dest)).status_code == 200
        assert portal.get(tenant.destination_path(dest, "/delivery")).status_code == 200
        assert portal.get(f"/v1/{tenant.org_id}/event_type/").status_code == 200
        changes = [
            portal.post(tenant.destinations_path, json=destination_body()),
            portal.post(tenant.destination_path(dest), json={"name": "x"}),
            portal.post(tenant.destination_path(dest, "/rotate-secret")),
            portal.post(tenant.destination_path(dest, "/test"), json={"type": "api-key-expiration-soon"}),
            portal.delete(tenant.destination_path(dest)),
        ]
        assert [r.status_code for r in changes] == [403] * 5, [r.text for r in changes]
    assert tenant.list_destinations()[0]["name"] is None


def test_revoked_and_expired_sessions_answer_401(worker, tenant):
    s = mint(tenant)
    with as_session(worker, s) as portal:
        assert portal.get(tenant.destinations_path).status_code == 200
        r = tenant.client.delete(SESSIONS.format(org=tenant.org_id) + s["session_id"])
        assert r.status_code == 204, r.text
        deadline = time.monotonic() + 60
        while (r := portal.get(tenant.destinations_path)).status_code != 401:
            assert time.monotonic() < deadline, "revoked session still works after 60 s"
            time.sleep(1)
        assert "revoked" in r.json()["detail"]
    # Revoking twice, or a session that does not exist: 404.
    again = tenant.client.delete(SESSIONS.format(org=tenant.org_id) + s["session_id"])
    assert again.status_code == 404
    assert tenant.client.delete(SESSIONS.format(org=tenant.org_id) + "0" * 24).status_code == 404
    # An expired token of a live session.
    live = mint(tenant)
    claims = token_claims(live["token"])
    claims.update(iat=int(time.time()) - 120, exp=int(time.time()) - 1)
    expired = mint_token(worker.jwt_secret, claims)
    r = httpx.get(worker.url + tenant.destinations_path, timeout=30,
                  headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401, r.text


def test_session_requests_are_checked_and_need_their_permission(worker, tenant):
    for body, field in (({"ttl_seconds": 59}, "ttl_seconds"), ({"ttl_seconds": 86401}, "ttl_seconds"),
                        ({"read_only": "no"}, "read_only"),
                        ({"allowed_origins": ["https://a.example/path"]}, "allowed_origins"),
                        ({"allowed_origins": "https://a.example"}, "allowed_origins")):
        r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["detail"][0]["loc"][1] == field
    s = mint(tenant, ttl_seconds=86400, allowed_origins=["HTTPS://App.Example.com:443"])
    assert token_claims(s["token"])["exp"] - time.time() > 86000
    without = [p for p in ALL_PERMISSIONS if p != CREATE_PORTAL_SESSION]
    user = new_user(worker, tenant.org_id, permissions=without)
    try:
        r = user.client.post(SESSIONS.format(org=tenant.org_id), json={})
        assert r.status_code == 403, r.text
    finally:
        user.close()
    reader = new_user(worker, tenant.org_id, permissions=[GET_DESTINATION])
    try:
        r = reader.client.delete(SESSIONS.format(org=tenant.org_id) + s["session_id"])
        assert r.status_code == 403, r.text
    finally:
        reader.close()


def test_the_page_is_framed_only_by_origins_a_live_session_allows(worker, tenant):
    page = httpx.get(worker.url + "/portal/", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    # Its bundle files are named by content hash and cached for good.
    scripts = [part.split('"')[0] for part in page.text.split('src="./')[1:]]
    assert scripts, page.text
    asset = httpx.get(f"{worker.url}/portal/{scripts[0]}", timeout=30)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(worker.url + "/portal/no-such-file.js", timeout=30).status_code == 404

    origin = "http://127.0.0.1:45678"
    framed = {"Referer": origin + "/embed.html", "Sec-Fetch-Dest": "iframe"}
    r = httpx.get(worker.url + "/portal/", headers=framed, timeout=30)
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    s = mint(tenant, allowed_origins=[origin])
    r = httpx.get(worker.url + "/portal/", headers=framed, timeout=30)
    assert r.headers["content-security-policy"].endswith(f"frame-ancestors {origin}")
    other = {"Referer": "http://127.0.0.1:45679/embed.html"}
    r = httpx.get(worker.url + "/portal/", headers=other, timeout=30)
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    # Once the session is revoked, its origins no longer frame the page.
    tenant.client.delete(SESSIONS.format(org=tenant.org_id) + s["session_id"])
    r = httpx.get(worker.url + "/portal/", headers=framed, timeout=30)
    assert r.headers["content-security-policy"].endswith("frame-ancestors 'none'")
