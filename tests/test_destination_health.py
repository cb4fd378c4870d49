"""End-to-end tests of what happens when a destination fails, with small
thresholds set through vars: events published while a destination is paused
are kept as `skipped` and recovered later in creation order; a failing
destination is warned about, disabled and announced through operational
webhooks, and recovers; `delivery.exhausted` once per delivery; recoveries
(dry run, one at a time, 14 days back, surviving a SIGKILL); stats that agree
with the deliveries query; operational destinations' own API; and edgehook's
own idempotency namespace for its system events.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from delivery_helpers import (ENGINE_VARS, KEY_EXPIRY, RESOURCE, engine, get_delivery, headers_of,  # noqa: F401
                              list_deliveries, org, publish, publish_raw, resource_event,
                              verify_webhooks, wait_for_state)
from harness import admin, new_tenant, new_user
from receiver import Receiver, Reply

OPERATIONAL = ["destination.failing", "destination.disabled", "destination.recovered",
               "delivery.exhausted", "destination.created", "destination.updated",
               "destination.deleted"]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ops_path(t, suffix: str = "") -> str:
    return f"/v1/{t.org_id}/operational_destination/{suffix}"


def create_operational(t, url: str, types=OPERATIONAL) -> tuple[str, str]:
    r = t.client.post(ops_path(t), json={"url": url, "accepted_types": list(types)})
    assert r.status_code == 201, (r.status_code, r.text)
    body = r.json()
    return body["webhook_destination_id"], body["secret"]


def events_of(rx: Receiver, secret: str) -> list[dict]:
    """Every operational webhook received so far, each verified with the
    Standard Webhooks library, in arrival order."""
    out = []
    for req in rx.received():
        out.append(StandardWebhook(secret).verify(req.body, headers_of(req)))
    return out


def wait_for_event(rx: Receiver, secret: str, predicate, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        for e in events_of(rx, secret):
            if predicate(e):
                return e
        if time.monotonic() > deadline:
            raise AssertionError(f"no such operational event; got {[e['type'] for e in events_of(rx, secret)]}")
        time.sleep(0.2)


def catalog_schemas(t) -> dict[str, dict]:
    r = t.client.get(f"/v1/{t.org_id}/event_type/")
    assert r.status_code == 200, r.text
    return {d["type"]: d for d in r.json()["event_types"]}


def conforms(schema: dict, value) -> None:
    """The catalog's subset of JSON Schema: required fields, consts and enums."""
    for name in schema.get("required", []):
        assert name in value, (name, value)
    for name, sub in schema.get("properties", {}).items():
        if name not in value:
            continue
        if "const" in sub:
            assert value[name] == sub["const"], (name, value[name])
        if "enum" in sub:
            assert value[name] in sub["enum"], (name, value[name])
        if sub.get("type") == "string":
            assert isinstance(value[name], str), (name, value[name])
        if sub.get("type") == "integer":
            assert isinstance(value[name], int), (name, value[name])


# --- skipped, never lost; recovered in creation order ------------------------------------------

def test_events_published_while_paused_are_skipped_then_recovered_in_creation_order(engine, org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        r = org.client.post(org.destination_path(dest), json={"is_active": False})
        assert r.status_code == 204, r.text
        d = org.client.get(org.destination_path(dest)).json()
        assert (d["is_active"], d["disabled_reason"], d["disabled_at"]) == (False, None, None), \
            "a pause by the owner gives no reason"
        for n in range(5):
            # The destination's object decides: paused, it keeps the event as skipped.
            answer = publish(org, resource_event(org.org_id, f"paused-{n}"))
            assert answer["delivery_ids"] == [], "a skipped delivery is not one that will be attempted"
        page = list_deliveries(org, dest, state="skipped")["webhook_deliveries"]
        assert len(page) == 5
        assert all(d["state"] == "skipped" and d["status"] == "failed" for d in page)
        assert [d["webhook_content"]["resource_id"] for d in reversed(page)] == \
            [f"paused-{n}" for n in range(5)]
        r = org.client.post(org.destination_path(dest), json={"is_active": True})
        assert r.status_code == 204
        rx.assert_quiet(2, 0)  # resuming sends nothing skipped
        since = iso(datetime.now(timezone.utc) - timedelta(minutes=5))
        dry = org.client.post(org.destination_path(dest, "/recover"),
                              json={"since": since, "dry_run": True})
        assert dry.status_code == 202, dry.text
        assert dry.json() == {"recovery_id": None, "count": 5}
        r = org.client.post(org.destination_path(dest, "/recover"), json={"since": since})
        assert r.status_code == 202, r.text
        rec = r.json()
        assert rec["count"] == 5 and len(rec["recovery_id"]) == 24
        got = rx.wait_for(5, timeout=30)
        arrived = [int(json.loads(q.body)["resource_id"].split("-")[1]) for q in got]
        assert sorted(arrived) == list(range(5))
        # Started in creation order, up to the window (6) at once: none
        # arrives before one created more than a window earlier.
        assert all(n <= k + 5 for k, n in enumerate(arrived)), arrived
        assert sorted(q.header("webhook-id") for q in got) == sorted(d["id"] for d in page), \
            "recovered with their original ids"
        verify_webhooks(got, secret)
        deadline = time.monotonic() + 20
        while True:
            p = org.client.get(org.destination_path(dest, f"/recover/{rec['recovery_id']}")).json()
            if p["state"] == "done":
                break
            assert time.monotonic() < deadline, p
            time.sleep(0.2)
        assert p == {"state": "done", "count": 5, "done": 5, "failed": 0}
        assert list_deliveries(org, dest, state="skipped")["webhook_deliveries"] == []
        missing = org.client.get(org.destination_path(dest, "/recover/0123456789abcdef01234567"))
        assert missing.status_code == 404


# --- the health ladder and operational webhooks -----------------------------------------------

LADDER_VARS = {
    **ENGINE_VARS,
    "EDGEHOOK_RETRY_SCHEDULE_SECONDS": "0.3",
    "EDGEHOOK_DISABLE_AFTER_SECONDS": "8",
    "EDGEHOOK_DISABLE_AFTER_FAILURES": "3",
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_destination_is_warned_about_disabled_and_recovers(make_worker):
    w = make_worker(vars=LADDER_VARS)
    t = new_tenant(w)
    with Receiver(default=Reply(500, body=b"down")) as rx, Receiver() as ops:
        ops_id, ops_secret = create_operational(t, ops.url)
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1)
        created = wait_for_event(ops, ops_secret, lambda e: e["type"] == "destination.created", 20)
        assert created["destination_id"] == dest and created["url"] == rx.url
        published = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d = t.client.get(t.destination_path(dest)).json()
            if not d["is_active"]:
                break
            published += publish(t, resource_event(t.org_id))["delivery_ids"]
            time.sleep(0.4)
        assert d["is_active"] is False and d["disabled_reason"] == "failing", d
        assert d["disabled_at"]
        disabled = wait_for_event(ops, ops_secret, lambda e: e["type"] == "destination.disabled", 20)
        assert disabled["reason"] == "failing" and disabled["exhausted"] >= 3
        warnings = [e for e in events_of(ops, ops_secret) if e["type"] == "destination.failing"]
        assert [e["percent"] for e in warnings] == [50, 75, 90], warnings
        assert all(e["last_error"] == "HTTP status 500" for e in warnings)
        # The stats show the streak: since when, its last warning, no disabling ahead.
        health = t.client.get(t.destination_path(dest, "/stats")).json()["health"]
        assert health["last_warning_percent"] == 90, health
        assert health["failing_since"] == warnings[0]["failing_since"], (health, warnings[0])
        assert health["failing_since"] < health["last_warning_at"] < d["disabled_at"], (health, d)
        assert health["last_error"] == "HTTP status 500"
        assert health["exhausted_deliveries"] >= 3 and health["disable_at"] is None
        # Published while disabled: skipped, never sent.
        skipped = publish(t, resource_event(t.org_id, "while-disabled"))
        assert skipped["delivery_ids"] == []
        n = len(rx.received())
        # Fixed and re-enabled: the next success needs no new failure.
        rx.set_script([], default=Reply(200))
        r = t.client.post(t.destination_path(dest), json={"is_active": True})
        assert r.status_code == 204
        d = t.client.get(t.destination_path(dest)).json()
        assert (d["is_active"], d["disabled_reason"], d["disabled_at"]) == (True, None, None)
        recovered = wait_for_event(ops, ops_secret, lambda e: e["type"] == "destination.recovered", 20)
        assert recovered["reason"] == "re-enabled"
        health = t.client.get(t.destination_path(dest, "/stats")).json()["health"]
        assert health == {"failing_since": None, "exhausted_deliveries": 0, "last_warning_percent": None,
                          "last_warning_at": None, "last_error": None, "disable_at": None}, health
        time.sleep(1)
        assert all(json.loads(q.body).get("resource_id") != "while-disabled"
                   for q in rx.received()[n:]), "a skipped event is not sent on re-enabling"
        # Every delivery that failed for good was announced exactly once.
        exhausted = Counter(e["delivery_id"] for e in events_of(ops, ops_secret)
                            if e["type"] == "delivery.exhausted")
        failed = {i for i in published if get_delivery(t, dest, i)["state"] == "failed"}
        assert failed and set(exhausted) == failed, (exhausted, failed)
        assert set(exhausted.values()) == {1}
        # Each operational webhook verifies with both libraries and fits its schema.
        schemas = catalog_schemas(t)
        reqs = ops.received()
        verify_webhooks(reqs, ops_secret)
        for req in reqs:
            event = json.loads(req.body)
            assert schemas[event["type"]]["operational"] is True
            conforms(schemas[event["type"]]["schema"], event)
            assert event["org_id"] == t.org_id and event["destination_id"] == dest
        # The operational destination keeps its own log.
        ops_log = t.client.get(ops_path(t, f"{ops_id}/delivery"), params={"limit": 50})
        assert ops_log.status_code == 200 and ops_log.json()["webhook_deliveries"]
    t.close()


# --- recovering a time range ------------------------------------------------------------------

def test_recover_answers_409_while_running_and_422_past_14_days(engine, org):
    with Receiver(default=Reply(200, delay=0.3)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        org.client.post(org.destination_path(dest), json={"is_active": False})
        for n in range(30):
            publish(org, resource_event(org.org_id, f"r-{n}"))
        org.client.post(org.destination_path(dest), json={"is_active": True})
        since = iso(datetime.now(timezone.utc) - timedelta(minutes=5))
        first = org.client.post(org.destination_path(dest, "/recover"), json={"since": since})
        assert first.status_code == 202, first.text
        second = org.client.post(org.destination_path(dest, "/recover"), json={"since": since})
        assert second.status_code == 409, second.text
        too_old = iso(datetime.now(timezone.utc) - timedelta(days=14, minutes=1))
        r = org.client.post(org.destination_path(dest, "/recover"), json={"since": too_old})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "since"]
        r = org.client.post(org.destination_path(dest, "/recover"),
                            json={"since": since, "states": ["success"]})
        assert r.status_code == 422
        rx.wait_for(30, timeout=60)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_recovery_cut_off_by_a_crash_resumes_and_delivers_every_delivery(make_worker):
    w = make_worker(vars=ENGINE_VARS)
    t = new_tenant(w)
    with Receiver(default=Reply(200, delay=0.2)) as rx:
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE])
        t.client.post(t.destination_path(dest), json={"is_active": False})
        expected = []
        for n in range(450):
            publish(t, resource_event(t.org_id, f"c-{n}"))
            expected.append(f"c-{n}")
        t.client.post(t.destination_path(dest), json={"is_active": True})
        since = iso(datetime.now(timezone.utc) - timedelta(minutes=10))
        r = t.client.post(t.destination_path(dest, "/recover"), json={"since": since})
        assert r.status_code == 202 and r.json()["count"] == 450, r.text
        recovery = r.json()["recovery_id"]
        rx.wait_for(40, timeout=60)
        w.kill()  # SIGKILL mid-recovery
        w.start()
        deadline = time.monotonic() + 180
        while True:
            got = {json.loads(q.body)["resource_id"] for q in rx.received()}
            if got >= set(expected):
                break
            assert time.monotonic() < deadline, f"{len(set(expected) - got)} never arrived"
            time.sleep(1)
        p = t.client.get(t.destination_path(dest, f"/recover/{recovery}")).json()
        assert p["count"] == 450
    t.close()


# --- stats -------------------------------------------------------------------------------------

def test_stats_agree_with_the_deliveries_query(engine, org):
    with Receiver(reply_for=lambda n: Reply(500) if n % 3 == 0 else Reply(200)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1)
        ids = [publish(org, resource_event(org.org_id))["delivery_ids"][0] for _ in range(24)]
        for i in ids:
            wait_for_state(org, dest, i, {"success", "failed"}, timeout=30)
        org.client.post(org.destination_path(dest), json={"is_active": False})
        publish(org, resource_event(org.org_id, "skipped"))
        r = org.client.get(org.destination_path(dest, "/stats"))
        assert r.status_code == 200, r.text
        stats = r.json()
        for state in ("pending", "retrying", "success", "failed", "skipped"):
            listed = list_deliveries(org, dest, state=state, limit=50)["webhook_deliveries"]
            assert stats["deliveries"][state] == len(listed), (state, stats["deliveries"])
        finished = stats["deliveries"]["success"] + stats["deliveries"]["failed"]
        assert finished == 24
        assert stats["success_rate"] == pytest.approx(stats["deliveries"]["success"] / finished)
        assert stats["attempts"] == len(rx.received())
        assert stats["latency"]["p50_ms"] is not None and stats["latency"]["p99_ms"] >= stats["latency"]["p50_ms"]
        assert sum(h["attempts"] for h in stats["series"]) == stats["attempts"]
        assert len(stats["series"]) in (1, 2)  # the deliveries' hour (and the next, at an hour's turn)
        bad = org.client.get(org.destination_path(dest, "/stats"),
                             params={"since": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"})
        assert bad.status_code == 422


# --- operational destinations ------------------------------------------------------------------

def test_operational_destinations_have_their_own_api_and_limit(engine, org):
    ids = [create_operational(org, f"https://ops{n}.example.com/h", ["destination.disabled"])[0]
           for n in range(3)]
    r = org.client.post(ops_path(org), json={"url": "https://ops4.example.com/h",
                                             "accepted_types": ["destination.disabled"]})
    assert r.status_code == 400 and "3 operational destinations" in r.text, r.text
    # They do not count toward the 10 webhook destinations.
    for n in range(10):
        org.create_destination()
    listed = org.client.get(ops_path(org)).json()["webhook_destinations"]
    assert [d["id"] for d in listed] == ids
    assert len(org.list_destinations()) == 10
    # A webhook type is no operational type, and the other way round.
    r = org.client.post(ops_path(org), json={"url": "https://x.example.com",
                                             "accepted_types": [RESOURCE]})
    assert r.status_code == 422
    # Each kind is unknown under the other's paths.
    assert org.client.get(org.destination_path(ids[0])).status_code == 404
    assert org.client.get(ops_path(org, ids[0])).status_code == 200
    r = org.client.post(ops_path(org, ids[0]), json={"accepted_types": ["delivery.exhausted"]})
    assert r.status_code == 204
    assert org.client.get(ops_path(org, ids[0])).json()["accepted_types"] == ["delivery.exhausted"]
    assert org.client.post(ops_path(org, f"{ids[0]}/rotate-secret")).status_code == 200
    assert org.client.delete(ops_path(org, ids[1])).status_code == 204
    assert org.client.get(ops_path(org, ids[1])).status_code == 404
    # The catalog marks operational types, and no producer may publish one.
    schemas = catalog_schemas(org)
    assert all(schemas[t]["operational"] for t in OPERATIONAL)
    assert not schemas[RESOURCE]["operational"]
    r = publish_raw(org, {"type": "destination.disabled", "org_id": org.org_id})
    assert r.status_code == 422


def test_an_operational_destination_has_its_stats_and_recovers_its_failures(engine, org):
    with Receiver([Reply(500), Reply(500)]) as rx:
        r = org.client.post(ops_path(org), json={"url": rx.url, "retry_attempts": 1,
                                                 "accepted_types": ["destination.created"]})
        assert r.status_code == 201, r.text
        ops, secret = r.json()["webhook_destination_id"], r.json()["secret"]
        org.create_destination()  # its destination.created fails twice, for good
        first, _ = rx.wait_for(2, timeout=20)

        def path(suffix: str) -> str:
            return ops_path(org, ops + suffix)

        deadline = time.monotonic() + 20
        while True:
            [failed] = org.client.get(path("/delivery")).json()["webhook_deliveries"]
            if failed["state"] == "failed":
                break
            assert time.monotonic() < deadline, failed
            time.sleep(0.2)
        stats = org.client.get(path("/stats"))
        assert stats.status_code == 200, stats.text
        assert stats.json()["deliveries"]["failed"] == 1 and stats.json()["attempts"] == 2
        since = iso(datetime.now(timezone.utc) - timedelta(minutes=5))
        rec = org.client.post(path("/recover"), json={"since": since})
        assert rec.status_code == 202, rec.text
        assert rec.json()["count"] == 1
        again = rx.wait_for(3, timeout=20)[2]
        assert [e["type"] for e in events_of(rx, secret)] == ["destination.created"] * 3
        assert again.header("webhook-id") == first.header("webhook-id")  # the same delivery, sent again
        deadline = time.monotonic() + 20
        while True:
            p = org.client.get(path(f"/recover/{rec.json()['recovery_id']}")).json()
            if p["state"] == "done":
                break
            assert time.monotonic() < deadline, p
            time.sleep(0.2)
        assert p == {"state": "done", "count": 1, "done": 1, "failed": 0}
        # Under the other kind's paths it is unknown.
        assert org.client.get(org.destination_path(ops, "/stats")).status_code == 404
        assert org.client.post(org.destination_path(ops, "/recover"),
                               json={"since": since}).status_code == 404


def test_operational_destinations_need_the_destination_permissions(engine, org):
    reader = new_user(engine, org.org_id, permissions=("Webhook:GetWebhookDestination",))
    try:
        r = reader.client.post(ops_path(reader), json={"url": "https://o.example.com",
                                                       "accepted_types": ["destination.created"]})
        assert r.status_code == 403
        assert reader.client.get(ops_path(reader)).status_code == 200
    finally:
        reader.close()


# --- system events no tenant can block ---------------------------------------------------------

def test_a_tenant_cannot_use_edgehooks_own_idempotency_keys(engine, org):
    for key in ("edgehook:api-key-expiration-soon:x", "EDGEHOOK:anything"):
        r = publish_raw(org, resource_event(org.org_id), idempotency_key=key)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    ok = publish_raw(org, resource_event(org.org_id), idempotency_key="api-key-expiration-soon:x")
    assert ok.status_code == 202, ok.text


def run_scheduled_job(worker) -> None:
    r = httpx.get(worker.url + "/__scheduled", params={"cron": "*/5 * * * *"}, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text)


def test_one_keys_failed_warning_never_keeps_the_others_from_theirs(make_worker):
    broken_org = "broken-" + os.urandom(4).hex()
    w = make_worker(vars={**ENGINE_VARS, "EDGEHOOK_TEST_FAULTS": f"warn-expiring-key-of:{broken_org}"})
    soon = iso(datetime.now(timezone.utc) + timedelta(days=2))
    tenants = []
    with Receiver() as rx, admin(w) as op:
        for org_id in (broken_org, None, None):
            t = new_tenant(w, org_id=org_id)
            t.create_destination(url=rx.url, accepted_types=[KEY_EXPIRY])
            r = op.post(f"/admin/v1/organizations/{t.org_id}/users/{t.user_id}/api_keys",
                        json={"expires_at": soon})
            assert r.status_code == 201
            tenants.append(t)
        run_scheduled_job(w)
        got = rx.wait_for(2, timeout=20)
        assert {json.loads(q.body)["org_id"] for q in got} == {t.org_id for t in tenants[1:]}
        run_scheduled_job(w)  # the fault is spent: the broken organization's key is warned now
        got = rx.wait_for(3, timeout=20)
        rx.assert_quiet(1, 3)
        assert {json.loads(q.body)["org_id"] for q in got} == {t.org_id for t in tenants}
    for t in tenants:
        t.close()
