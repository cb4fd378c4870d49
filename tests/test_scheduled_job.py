"""End-to-end tests of the scheduled job (run on demand through wrangler's
`/__scheduled` route): deliveries older than the retention are purged and
younger ones kept; an `api-key-expiration-soon` event goes out once per API
key expiring within the warning window, to the destinations that accept it,
even when the job runs again.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import httpx

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RETENTION_SECONDS,  # noqa: F401
                              conversation_event, deliveries_path, engine, list_deliveries, org,
                              parse_time, publish, verify_webhooks, wait_for_state)
from harness import admin, new_user
from receiver import Receiver


def run_scheduled_job(worker) -> None:
    r = httpx.get(worker.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_retention_purges_old_deliveries_only(engine, org):
    with Receiver() as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        old = [publish(org, conversation_event(org.org_id))["delivery_ids"][0] for _ in range(2)]
        for i in old:
            wait_for_state(org, dest, i, "success", timeout=20)
        time.sleep(RETENTION_SECONDS + 1)
        [young] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        wait_for_state(org, dest, young, "success", timeout=20)
        assert len(list_deliveries(org, dest)["webhook_deliveries"]) == 3

        run_scheduled_job(engine)
        assert [d["id"] for d in list_deliveries(org, dest)["webhook_deliveries"]] == [young]
        for i in old:
            r = org.client.get(deliveries_path(org, dest, "/" + i))
            assert r.status_code == 404, (r.status_code, r.text)
        rx.assert_quiet(1, 3)


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
