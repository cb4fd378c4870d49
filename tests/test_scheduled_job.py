"""End-to-end tests of the scheduled job (run on demand through wrangler's
`/__scheduled` route): an `api-key-expiration-soon` event goes out once per
API key expiring within the warning window, to the destinations that accept
it, even when the job runs again. (Retention is each destination object's
own: see test_delivery_log.py.)
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx

from delivery_helpers import (CONVERSATION, KEY_EXPIRY,  # noqa: F401
                              conversation_event, deliveries_path, engine, list_deliveries, org,
                              parse_time, publish, verify_webhooks, wait_for_state)
from harness import admin, new_user
from receiver import Receiver


def run_scheduled_job(worker) -> None:
    r = httpx.get(worker.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_key_expiring_soon_emits_one_event(engine, org):
    with Receiver() as rx, Receiver() as other:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[KEY_EXPIRY])
        org.create_destination(url=other.url, accepted_types=[CONVERSATION])
        user = new_user(engine, org.org_id)
        user.close()
        now = datetime.now(timezone.utc)
        with admin(engine) as op:
            keys = {}
            # A key cannot be created already expired: "expired" expires in a
            # moment, and the job runs once it has.
            for name, expires in (("soon", now + timedelta(days=2)),
                                  ("later", now + timedelta(days=30)),
                                  ("expired", now + timedelta(seconds=2))):
                r = op.post(f"/admin/v1/organizations/{org.org_id}/users/{user.user_id}/api_keys",
                            json={"expires_at": iso(expires)})
                assert r.status_code == 201, (r.status_code, r.text)
                keys[name] = r.json()
        assert abs(parse_time(keys["soon"]["expires_at"]) - (now + timedelta(days=2)).timestamp()) < 1
        time.sleep(max(0.0, parse_time(keys["expired"]["expires_at"]) - time.time()) + 0.5)

        run_scheduled_job(engine)
        [req] = rx.wait_for(1, timeout=20)
        run_scheduled_job(engine)
        rx.assert_quiet(2, 1)
        other.assert_quiet(0, 0)

        [v] = verify_webhooks([req], secret)
        event = json.loads(req.body)
        assert set(event) == {"type", "org_id", "api_key_id", "user_id", "expires_at"}, event
        assert event["type"] == KEY_EXPIRY
        assert event["org_id"] == org.org_id
        assert event["api_key_id"] == keys["soon"]["api_key_id"]
        assert event["user_id"] == user.user_id
        assert parse_time(event["expires_at"]) == parse_time(keys["soon"]["expires_at"])
        d = wait_for_state(org, dest, req.header("webhook-id"), "success", timeout=20)
        assert d["type"] == KEY_EXPIRY and d["webhook_content"] == event
