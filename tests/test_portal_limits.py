"""End-to-end tests of what bounds portal sessions (issue 16), on a Worker of
their own with small limits:

- at most EDGEHOOK_PORTAL_MAX_SESSIONS live sessions per organization; the
  next mint is a 429 that says why, and a revoked session frees its place;
- sessions that can never be live again (expired, revoked, minted by a key
  that was revoked or expired) are purged from D1;
- a session's calls count against its minting user's rate limits, except the
  delivery query and one delivery, which all sessions of that user share in
  their own budget (EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE) and which leave
  the user's own 5 delivery queries a minute untouched.
"""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from harness import REPO_ROOT, Worker, admin, new_tenant, token_claims, tool_env
from test_portal_api import SESSIONS, as_session, keyed_user, mint, mint_with

MAX_SESSIONS = 4
PORTAL_PER_MINUTE = 6


@pytest.fixture(scope="module")
def limited():
    """A Worker with a cap of 4 sessions and 6 portal delivery calls a minute
    (the seed's 20 and 5 for everything else)."""
    w = Worker(vars={"EDGEHOOK_PORTAL_MAX_SESSIONS": str(MAX_SESSIONS),
                     "EDGEHOOK_PORTAL_RATE_LIMIT_PER_MINUTE": str(PORTAL_PER_MINUTE)})
    try:
        w.start()
        yield w
    finally:
        w.cleanup()


def session_rows(worker: Worker, org_id: str) -> set[str]:
    """The ids of the organization's rows in the local D1's portal_sessions."""
    out = subprocess.run(
        ["npx", "wrangler", "d1", "execute", "DB", "--local", "--json",
         "--config", str(worker.state_dir / "wrangler.toml"), "--persist-to", str(worker.state_dir),
         "--command", f"SELECT id FROM portal_sessions WHERE org_id = '{org_id}'"],
        cwd=REPO_ROOT, env=tool_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return {row["id"] for row in json.loads(out.stdout)[0]["results"]}


def test_an_organization_holds_at_most_its_cap_of_live_sessions(limited):
    tenant = new_tenant(limited)
    other = new_tenant(limited)
    try:
        sessions = [mint(tenant) for _ in range(MAX_SESSIONS)]
        r = tenant.client.post(SESSIONS.format(org=tenant.org_id), json={})
        assert r.status_code == 429, r.text
        detail = r.json()["detail"]
        assert f"{MAX_SESSIONS} live portal sessions" in detail and "revoke one" in detail, detail
        # Another organization has its own cap.
        assert mint(other)
        # A revoked session frees its place.
        r = tenant.client.delete(SESSIONS.format(org=tenant.org_id) + sessions[0]["session_id"])
        assert r.status_code == 204, r.text
        assert mint(tenant)
        assert tenant.client.post(SESSIONS.format(org=tenant.org_id), json={}).status_code == 429
    finally:
        tenant.close()
        other.close()


def test_sessions_that_can_never_be_live_again_are_purged(limited):
    tenant = new_tenant(limited)
    try:
        # Every session is minted before any of them dies (a mint purges its
        # organization's dead sessions itself), within the cap of 4.
        _, _, short_token, _ = keyed_user(limited, tenant.org_id, expires_in=4)
        expired = mint_with(limited, tenant.org_id, short_token)
        live = mint(tenant)
        revoked = mint(tenant)
        user, key_id, token, _ = keyed_user(limited, tenant.org_id)
        of_revoked_key = mint_with(limited, tenant.org_id, token)
        assert tenant.client.delete(SESSIONS.format(org=tenant.org_id) + revoked["session_id"]).status_code == 204
        with admin(limited) as op:
            r = op.delete(f"/admin/v1/organizations/{tenant.org_id}/users/{user}/api_keys/{key_id}")
            assert r.status_code == 204, r.text
        ids = {s["session_id"] for s in (live, revoked, of_revoked_key, expired)}
        assert session_rows(limited, tenant.org_id) == ids
        time.sleep(max(0.0, token_claims(expired["token"])["exp"] - time.time()) + 1)
        # The scheduled job purges them (so would the organization's next mint).
        r = httpx.get(limited.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=60)
        assert r.status_code == 200, r.text
        assert session_rows(limited, tenant.org_id) == {live["session_id"]}
        with as_session(limited, live) as portal:
            assert portal.get(tenant.destinations_path).status_code == 200
    finally:
        tenant.close()


def test_a_mint_purges_its_organizations_dead_sessions(limited):
    tenant = new_tenant(limited)
    try:
        first = mint(tenant)
        assert tenant.client.delete(SESSIONS.format(org=tenant.org_id) + first["session_id"]).status_code == 204
        second = mint(tenant)
        assert session_rows(limited, tenant.org_id) == {second["session_id"]}
    finally:
        tenant.close()


def test_sessions_share_their_minters_rate_limits(limited):
    """Issue 16: each session had a budget of its own, so a user with three
    sessions had four times the seed's limits."""
    tenant = new_tenant(limited)
    try:
        dest, _ = tenant.create_destination()
        a, b = mint(tenant), mint(tenant)
        deliveries = tenant.destination_path(dest, "/delivery")
        with as_session(limited, a) as sa, as_session(limited, b) as sb:
            # The log: 6 a minute for all of the user's sessions together.
            statuses = [c.get(deliveries).status_code for c in (sa, sb) * (PORTAL_PER_MINUTE // 2)]
            assert statuses == [200] * PORTAL_PER_MINUTE
            r = sa.get(deliveries)
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
            one = tenant.destination_path(dest, "/delivery/" + "0" * 24)
            assert sb.get(one).status_code == 429
            # The user's own delivery queries keep the seed's 5, uncharged by the sessions.
            assert [tenant.client.get(deliveries).status_code for _ in range(5)] == [200] * 5
            assert tenant.client.get(deliveries).status_code == 429
            # Everything else: one budget of 20 for the user and its sessions.
            listing = tenant.destinations_path
            spent = [tenant.client.get(listing).status_code for _ in range(10)]
            spent += [c.get(listing).status_code for c in (sa, sb) * 5]
            assert spent == [200] * 20
            assert sb.get(listing).status_code == 429
            assert tenant.client.get(listing).status_code == 429
    finally:
        tenant.close()
