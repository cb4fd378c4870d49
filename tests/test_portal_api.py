"""End-to-end tests of customer-portal sessions and the portal page's headers
(the page itself is driven in a browser by test_portal.py):

- a session's token works for its organization's destination and delivery
  endpoints, and only those: not publishing, not minting sessions, not
  another organization;
- a read-only session reads and every change answers 403;
- a revoked session and an expired token answer 401;
- bad session requests are 422 naming the field;
- `/portal/` is served with a frame-ancestors policy taken from the signed
  `?frame=` parameter of the session URL it was opened with (never from
  another session), the page revalidated and its hashed files cached for good;
- what a security review found (issue 16): a session never holds more than
  its minter and ends with the minting key, odd origins are refused, answers
  carrying secrets are `no-store`, token errors never quote the decoder, the
  session URL ignores a forged `Host`;
- the new session fields `open`, `theme` and `return_url`, and their 422s.

The session cap, the purge and the shared rate limits need Workers of their
own: test_portal_limits.py.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from harness import (ALL_PERMISSIONS, CREATE_DESTINATION, CREATE_PORTAL_SESSION, DELETE_DESTINATION,
                     GET_DELIVERIES, GET_DESTINATION, UPDATE_DESTINATION, admin, destination_body,
                     mint_token, new_tenant, new_user, sign_in, token_claims)

SESSIONS = "/v1/{org}/portal_session/"


def mint(tenant, **body) -> dict:
    r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json=body)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def as_session(worker, session: dict) -> httpx.Client:
    return httpx.Client(base_url=worker.url, timeout=30,
                        headers={"Authorization": f"Bearer {session['token']}"})


def wait_for_401(client: httpx.Client, path: str, seconds: float, what: str) -> httpx.Response:
    """Polls `path` once a second until it answers 401; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while (r := client.get(path)).status_code != 401:
        assert time.monotonic() < deadline, f"{what} still works after {seconds} s"
        time.sleep(1)
    return r


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
        r = wait_for_401(portal, tenant.destinations_path, 60, "a revoked session")
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


def frame_param(session: dict) -> str | None:
    """The `?frame=` parameter of a session's URL, if it has one."""
    return parse_qs(urlsplit(session["url"]).query).get("frame", [None])[0]


def page_policy(worker, query: str = "", headers: dict | None = None) -> str:
    r = httpx.get(f"{worker.url}/portal/{query}", headers=headers or {}, timeout=30)
    assert r.status_code == 200, r.text
    return r.headers["content-security-policy"]


def test_the_page_is_framed_only_by_the_origins_its_session_url_names(worker, tenant):
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

    origins = ["http://127.0.0.1:45678", "https://app.example.com"]
    s = mint(tenant, allowed_origins=origins)
    param = frame_param(s)
    assert param and s["url"].startswith(f"{worker.url}/portal/?frame=")
    assert s["url"].endswith("#token=" + s["token"])
    policy = page_policy(worker, "?frame=" + param)
    assert policy.endswith("frame-ancestors http://127.0.0.1:45678 https://app.example.com"), policy
    # A session without origins has no parameter: its page frames nothing.
    plain = mint(tenant)
    assert frame_param(plain) is None and "?" not in plain["url"]
    # Altered, cut or foreign parameters frame nothing.
    payload, sig = param.split(".")
    other_worker_sig = "A" * len(sig)
    for bad in (payload + "." + other_worker_sig, payload, param[:-2], "x.y", ""):
        assert page_policy(worker, "?frame=" + bad).endswith("frame-ancestors 'none'"), bad


def test_framing_never_follows_another_organizations_session(worker, tenant):
    """Issue 16: a live session of one organization listing an origin made
    every organization's page frameable from it (by `Referer`)."""
    origin = "http://127.0.0.1:45690"
    mint(tenant, allowed_origins=[origin])
    framed = {"Referer": origin + "/embed.html", "Sec-Fetch-Dest": "iframe"}
    other = new_tenant(worker)
    try:
        their = mint(other)
        # The other organization's session URL, loaded from that origin.
        query = urlsplit(their["url"]).query
        assert page_policy(worker, f"?{query}" if query else "", framed).endswith("frame-ancestors 'none'")
        # No session URL at all, only the Referer.
        assert page_policy(worker, "", framed).endswith("frame-ancestors 'none'")
    finally:
        other.close()


def test_each_bad_allowed_origin_is_422(tenant):
    """Issue 16: `*`, `,`, `;`, `'`, over-long hosts and more than ten origins
    were accepted, and could reach `frame-ancestors`."""
    long_label = "a" * 64
    long_host = ".".join(["a" * 63] * 4)  # 255 characters
    bad = [
        "https://a.com,script-src",
        "https://*.evil.com",
        "https://a.com;script-src",
        "https://a'b.com",
        "https://a_b.com",
        f"https://{long_label}.example.com",
        f"https://{long_host}",
        "https://" + "a" * 61_000 + ".com",
        "http://app.example.com",
        "https://127.0.0.1",
        "https://app.example.com/path",
        "*",
    ]
    for origin in bad:
        r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json={"allowed_origins": [origin]})
        assert r.status_code == 422, (origin[:80], r.status_code, r.text[:300])
        assert r.json()["detail"][0]["loc"] == ["body", "allowed_origins", "0"], r.text[:300]
    eleven = [f"https://h{i}.example.com" for i in range(11)]
    r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json={"allowed_origins": eleven})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "allowed_origins"]
    # Ten DNS names, and loopback http in this local run, are fine.
    ok = [f"https://h{i}.example.com" for i in range(9)] + ["http://127.0.0.1:8080"]
    assert mint(tenant, allowed_origins=ok)


@pytest.mark.parametrize("permissions, read_only, expected", [
    # Issue 16: this minter could not list destinations, yet its session created and deleted them.
    ((CREATE_PORTAL_SESSION,), False, 403),
    ((CREATE_PORTAL_SESSION,), True, 403),
    ((CREATE_PORTAL_SESSION, GET_DESTINATION), False, 403),
    ((CREATE_PORTAL_SESSION, GET_DESTINATION), True, 201),
    ((CREATE_PORTAL_SESSION, GET_DESTINATION, GET_DELIVERIES, UPDATE_DESTINATION), False, 201),
])
def test_a_session_never_holds_more_than_its_minter(worker, tenant, permissions, read_only, expected):
    dest, _ = tenant.create_destination()
    minter = new_user(worker, tenant.org_id, permissions=permissions)
    try:
        r = minter.client.post(SESSIONS.format(org=tenant.org_id), json={"read_only": read_only})
        assert r.status_code == expected, r.text
        if expected == 403:
            assert "permission" in r.json()["detail"]
            return
        s = r.json()
        assert set(token_claims(s["token"])["perms"]) <= set(permissions)
        with as_session(worker, s) as portal:
            assert portal.get(tenant.destinations_path).status_code == 200
            assert portal.get(tenant.destination_path(dest)).status_code == 200
            deliveries = portal.get(tenant.destination_path(dest, "/delivery")).status_code
            assert deliveries == (200 if GET_DELIVERIES in permissions else 403)
            renamed = portal.post(tenant.destination_path(dest), json={"name": "x"}).status_code
            assert renamed == (204 if UPDATE_DESTINATION in permissions else 403)
            # What the minter does not hold, the session does not either.
            assert portal.post(tenant.destinations_path, json=destination_body()).status_code == 403
            assert portal.delete(tenant.destination_path(dest)).status_code == 403
        assert tenant.client.get(tenant.destination_path(dest)).status_code == 200
    finally:
        minter.close()


def keyed_user(worker, org_id: str, expires_in: float | None = None):
    """A user holding every permission, with an API key (expiring in
    `expires_in` seconds if given), signed in: (user_id, key_id, token)."""
    with admin(worker) as op:
        r = op.post(f"/admin/v1/organizations/{org_id}/users", json={"permissions": list(ALL_PERMISSIONS)})
        assert r.status_code == 201, r.text
        user = r.json()["user_id"]
        body = {}
        if expires_in is not None:
            at = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
            body["expires_at"] = at.isoformat().replace("+00:00", "Z")
        r = op.post(f"/admin/v1/organizations/{org_id}/users/{user}/api_keys", json=body)
        assert r.status_code == 201, r.text
        key = r.json()
    r = sign_in(worker, org_id, user, key["api_key_id"], key["api_key"])
    assert r.status_code == 200, r.text
    return user, key["api_key_id"], r.json()["id_token"], key["expires_at"]


def mint_with(worker, org_id: str, token: str, **body) -> dict:
    r = httpx.post(f"{worker.url}/v1/{org_id}/portal_session/", json=body, timeout=30,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_session_ends_when_its_minting_key_is_revoked(worker, tenant):
    """Issue 16: a session kept answering 200 for its whole 24 h after the key
    that minted it was revoked."""
    user, key_id, token, _ = keyed_user(worker, tenant.org_id)
    s = mint_with(worker, tenant.org_id, token, ttl_seconds=86400)
    other = mint(tenant)
    with as_session(worker, s) as portal, as_session(worker, other) as bystander:
        assert portal.get(tenant.destinations_path).status_code == 200
        with admin(worker) as op:
            r = op.delete(f"/admin/v1/organizations/{tenant.org_id}/users/{user}/api_keys/{key_id}")
            assert r.status_code == 204, r.text
        r = wait_for_401(portal, tenant.destinations_path, 31, "a session of a revoked key")
        assert "portal session" in r.json()["detail"]
        # Sessions minted with other keys go on.
        assert bystander.get(tenant.destinations_path).status_code == 200
    # Revoked with its key: revoking it again finds nothing.
    r = tenant.client.delete(SESSIONS.format(org=tenant.org_id) + s["session_id"])
    assert r.status_code == 404, r.text


def test_a_session_ends_when_its_minting_key_expires(worker, tenant):
    """Issue 16: a session outlived the expiry of the key that minted it."""
    _, _, token, key_expires = keyed_user(worker, tenant.org_id, expires_in=6)
    s = mint_with(worker, tenant.org_id, token, ttl_seconds=3600)
    key_exp = datetime.fromisoformat(key_expires.replace("Z", "+00:00")).timestamp()
    session_exp = datetime.fromisoformat(s["expires_at"].replace("Z", "+00:00")).timestamp()
    assert session_exp <= key_exp, (s["expires_at"], key_expires)
    assert token_claims(s["token"])["exp"] <= key_exp
    with as_session(worker, s) as portal:
        assert portal.get(tenant.destinations_path).status_code == 200
        time.sleep(max(0.0, key_exp - time.time()) + 1.5)
        r = portal.get(tenant.destinations_path)
        assert r.status_code == 401, r.text


def test_answers_that_carry_a_secret_or_a_token_are_never_stored(worker, tenant):
    """Issue 16: sign-in, session and rotate answers had no Cache-Control."""
    answers = {}
    with admin(worker) as op:
        r = op.post(f"/admin/v1/organizations/{tenant.org_id}/users/{tenant.user_id}/api_keys", json={})
        answers["new API key"] = r
        key = r.json()
    answers["sign-in"] = sign_in(worker, tenant.org_id, tenant.user_id, key["api_key_id"], key["api_key"])
    answers["portal session"] = tenant.client.post(SESSIONS.format(org=tenant.org_id), json={})
    created = tenant.client.post(tenant.destinations_path, json=destination_body())
    answers["destination create"] = created
    dest = created.json()["webhook_destination_id"]
    answers["rotation"] = tenant.client.post(tenant.destination_path(dest, "/rotate-secret"))
    for what, r in answers.items():
        assert r.status_code in (200, 201), (what, r.text)
        assert r.headers.get("cache-control") == "no-store", (what, dict(r.headers))
    # Answers without a secret need not say so.
    assert "no-store" not in tenant.client.get(tenant.destinations_path).headers.get("cache-control", "")


def test_token_errors_never_quote_library_internals(worker, tenant):
    """Issue 16: `invalid token: Base64 error: Invalid symbol 58, offset 24.`"""
    signed, sig = tenant.token.rsplit(".", 1)
    for bad in (f"{signed}.{sig[:4]}:{sig[5:]}", "a.b.c", "x:y", tenant.token[:-3] + "A:A"):
        r = httpx.get(worker.url + tenant.destinations_path, timeout=30,
                      headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, r.text
        detail = r.json()["detail"]
        for internal in ("Base64", "base64", "symbol", "offset", "JSON", "Utf8", "error"):
            assert internal not in detail, (bad, detail)
        assert detail.startswith("invalid token: "), detail


def test_the_session_url_ignores_a_forged_host(worker, tenant):
    """Issue 16: the session `url` was built from the request's Host header."""
    r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json={},
                           headers={"Host": "evil.example"})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["url"].startswith(f"{worker.url}/portal/#token="), s["url"]
    assert "evil.example" not in s["url"]


DEST_ID = "0123456789abcdef01234567"
DELIVERY_ID = "89abcdef0123456701234567"


def test_open_theme_and_return_url_reach_the_url_and_the_token(worker, tenant):
    s = mint(tenant,
             open={"destination_id": DEST_ID, "delivery_id": DELIVERY_ID},
             theme={"name": "Acme Cloud", "accent_color": "#FFD700", "mode": "dark"},
             return_url="https://app.example.com/settings/webhooks")
    assert s["url"].endswith(f"#token={s['token']}&destination={DEST_ID}&delivery={DELIVERY_ID}")
    portal = token_claims(s["token"])["portal"]
    assert portal["return_url"] == "https://app.example.com/settings/webhooks"
    # Gold is unreadable as text on the light page, readable on the dark one;
    # on a button it takes black text. Only the dark scheme is carried for "dark".
    assert portal["theme"] == {"name": "Acme Cloud", "mode": "dark",
                               "dark": {"accent": "#ffd700", "on_accent": "#000000", "link": "#ffd700"}}
    auto = token_claims(mint(tenant, theme={"accent_color": "#ffd700"})["token"])["portal"]["theme"]
    assert auto["mode"] == "auto"
    assert auto["light"] == {"accent": "#ffd700", "on_accent": "#000000", "link": "#1f5fd1"}
    one = mint(tenant, open={"destination_id": DEST_ID})
    assert one["url"].endswith(f"&destination={DEST_ID}")
    # A plain session carries none of it.
    plain = mint(tenant)
    assert "portal" not in token_claims(plain["token"]) and "&" not in plain["url"].split("#")[1]


@pytest.mark.parametrize("body, loc", [
    ({"open": {"destination_id": "nope"}}, ["body", "open", "destination_id"]),
    ({"open": {}}, ["body", "open", "destination_id"]),
    ({"open": {"destination_id": DEST_ID, "delivery_id": "x"}}, ["body", "open", "delivery_id"]),
    ({"open": DEST_ID}, ["body", "open"]),
    ({"theme": {"accent_color": "gold"}}, ["body", "theme", "accent_color"]),
    ({"theme": {"accent_color": "#fd0"}}, ["body", "theme", "accent_color"]),
    ({"theme": {"mode": "sepia"}}, ["body", "theme", "mode"]),
    ({"theme": {"name": "x" * 61}}, ["body", "theme", "name"]),
    ({"theme": {"name": ""}}, ["body", "theme", "name"]),
    ({"theme": "dark"}, ["body", "theme"]),
    ({"return_url": "http://app.example.com/back"}, ["body", "return_url"]),
    ({"return_url": "javascript:alert(1)"}, ["body", "return_url"]),
    ({"return_url": "https://user:pw@app.example.com/"}, ["body", "return_url"]),
    ({"return_url": "/relative"}, ["body", "return_url"]),
])
def test_bad_session_fields_are_422(tenant, body, loc):
    r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc, r.text
