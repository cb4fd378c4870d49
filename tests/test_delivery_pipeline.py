"""End-to-end tests of the delivery pipeline against receivers that are slow,
failing or huge, at Cloudflare's limits: the window of attempts in flight
(`EDGEHOOK_MAX_IN_FLIGHT`, counted by the receiver), timeouts that measure
only the receiver, the per-destination throttle (`max_per_second`), answers
bounded as decoded (brotli and gzip bombs, measured in the runtime's memory),
runs that yield to their alarm (`EDGEHOOK_RUN_BUDGET_SECONDS`), and the
storage an idempotency key takes in its organization's object.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import pytest

from delivery_helpers import (ENGINE_VARS, RESOURCE, get_delivery, list_deliveries, publish,
                              resource_event, verify_webhooks)
from harness import PeakMemory, new_tenant
from receiver import Receiver, ReceivedRequest, Reply


def pipeline_worker(make_worker, **vars: str):
    """A Worker with the delivery tests' settings plus `vars`."""
    return make_worker(vars={**ENGINE_VARS, **vars})


PUBLISHER = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import httpx
url, token, org, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = {"type": "agent-framework-resource-updated", "org_id": org, "resource_type": "agent",
        "updated_at": "2026-01-02T03:04:05Z"}
with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + token}, timeout=60) as c:
    def one(i):
        r = c.post(f"/v1/{org}/webhook_event/", json={**body, "resource_id": f"r-{i}"})
        assert r.status_code == 202, r.text
        return r.json()["delivery_ids"]
    with ThreadPoolExecutor(8) as pool:
        print(json.dumps([i for ids in pool.map(one, range(n)) for i in ids]))
"""


def publish_at_once(tenant, n: int) -> list[str]:
    """Publishes `n` events from 8 threads at once; returns their delivery ids.
    They go from another process, so that this one's receivers read the
    clock when requests arrive, not when the publishing threads let them."""
    out = subprocess.run(
        [sys.executable, "-c", PUBLISHER, tenant.worker.url, tenant.token, tenant.org_id, str(n)],
        check=True, capture_output=True, text=True, timeout=120,
    )
    return json.loads(out.stdout)


def delivery_id_of(req: ReceivedRequest) -> str:
    return req.header("webhook-id") or ""


def wait_for_ids(rx: Receiver, ids: list[str], timeout: float) -> list[ReceivedRequest]:
    """Waits until every id in `ids` arrived at least once; returns every request."""
    deadline = time.monotonic() + timeout
    while True:
        got = rx.received()
        missing = set(ids) - {delivery_id_of(r) for r in got}
        if not missing:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(missing)} of {len(ids)} deliveries never arrived")
        time.sleep(0.1)


def wait_finished(tenant, dest: str, ids: list[str], timeout: float) -> dict[str, dict]:
    """Waits until each delivery is `success` or `failed`; returns every record."""
    deadline = time.monotonic() + timeout
    records: dict[str, dict] = {}
    while True:
        for i in ids:
            if i not in records or records[i]["state"] not in ("success", "failed"):
                records[i] = get_delivery(tenant, dest, i)
        if all(r["state"] in ("success", "failed") for r in records.values()):
            return records
        if time.monotonic() > deadline:
            left = Counter(r["state"] for r in records.values())
            raise AssertionError(f"deliveries unfinished after {timeout} s: {left}")
        time.sleep(0.25)


# --- the window of attempts in flight ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("max_in_flight", [None, 2], ids=["default 6", "set to 2"])
def test_a_slow_receiver_never_sees_more_connections_than_the_window(make_worker, max_in_flight):
    """A receiver that answers after 1 s and counts its concurrent requests;
    40 events published at once. It never has more than the window at once
    (and has exactly that many: the window is used), every delivery succeeds
    at its first attempt, and every recorded duration is the receiver's time,
    between 1.0 and 2.0 s: no attempt's clock ran while it waited for a slot."""
    window = max_in_flight or 6
    extra = {"EDGEHOOK_MAX_IN_FLIGHT": str(max_in_flight)} if max_in_flight else {}
    w = pipeline_worker(make_worker, **extra)
    t = new_tenant(w)
    with Receiver(default=Reply(200, delay=1.0)) as rx:
        dest, secret = t.create_destination(url=rx.url, accepted_types=[RESOURCE])
        ids = publish_at_once(t, 40)
        assert len(ids) == 40
        got = wait_for_ids(rx, ids, timeout=40 / window * 1.0 + 60)
        assert rx.max_in_flight <= window, f"{rx.max_in_flight} requests at once"
        assert rx.max_in_flight == window, f"only {rx.max_in_flight} at once: the window is unused"
        records = wait_finished(t, dest, ids, timeout=30)
        for i, d in records.items():
            assert d["state"] == "success", d
            attempts = d["delivery_attempts"]
            assert len(attempts) == 1, (i, attempts)
            assert 1000 <= attempts[0]["duration_ms"] <= 2000, attempts[0]
        assert len(got) == 40, "no attempt was repeated"
        verify_webhooks(got[:3], secret)
    t.close()


@pytest.mark.slow
def test_healthy_requests_keep_arriving_while_held_ones_wait_for_their_timeout(make_worker):
    """Every 5th request is held past the destination's 2 s timeout, the rest
    answered in 10 ms. While a held request is open, healthy ones keep
    arriving (no batch waits for its slowest member), and a held attempt is
    recorded as a timeout of the receiver's 2 s, a healthy one as a quick success."""
    w = pipeline_worker(make_worker)
    t = new_tenant(w)

    def reply(n: int) -> Reply:
        return Reply(200, delay=3.0) if n % 5 == 4 else Reply(200, delay=0.01)

    with Receiver(reply_for=reply) as rx:
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE],
                                       timeout_seconds=2, retry_attempts=5)
        ids = publish_at_once(t, 40)
        got = wait_for_ids(rx, ids, timeout=120)
        held = [r for r in got if r.index % 5 == 4]
        healthy = [r for r in got if r.index % 5 != 4]
        assert held and healthy
        overlapping = [
            (h.index, a.index) for h in held for a in healthy
            if h.received_monotonic + 0.25 < a.received_monotonic < h.received_monotonic + 2.0
        ]
        assert overlapping, "no healthy request arrived while a held one was open"
        records = wait_finished(t, dest, ids, timeout=120)
        attempts = [a for d in records.values() for a in d["delivery_attempts"]]
        timeouts = [a for a in attempts if a["status_code"] == 0]
        quick = [a for a in attempts if a["status_code"] == 200]
        assert timeouts, attempts
        for a in timeouts:
            assert a["error"] == "timeout: no answer within 2 s", a
            assert 2000 <= a["duration_ms"] < 2900, a
        assert all(a["duration_ms"] < 1000 for a in quick), quick
        assert all(d["state"] == "success" for d in records.values())
    t.close()


# --- the throttle ------------------------------------------------------------------------------

def test_max_per_second_spreads_deliveries_and_keeps_the_waiting_pending(make_worker):
    """`max_per_second: 5` and 30 events published at once: they arrive over
    at least 5 s, no second of the receiver's clock holds more than 5,
    nothing is lost, and those that wait are `pending` meanwhile."""
    w = pipeline_worker(make_worker)
    t = new_tenant(w)
    with Receiver() as rx:
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE], max_per_second=5)
        assert t.client.get(t.destination_path(dest)).json()["max_per_second"] == 5
        ids = publish_at_once(t, 30)
        waiting = list_deliveries(t, dest, state="pending")["webhook_deliveries"]
        assert waiting, "deliveries that wait for the throttle show as pending"
        got = wait_for_ids(rx, ids, timeout=60)
        times = sorted(r.received_monotonic for r in got)
        assert len(got) == 30 and sorted(delivery_id_of(r) for r in got) == sorted(ids)
        assert times[-1] - times[0] >= 5.0, f"30 arrivals within {times[-1] - times[0]:.2f} s"
        busiest = max(sum(1 for u in times if s <= u < s + 1.0) for s in times)
        assert busiest <= 5, f"{busiest} arrivals within one second"
        # Lifted again, the destination takes what comes at once.
        r = t.client.post(t.destination_path(dest), json={"max_per_second": None})
        assert r.status_code == 204, r.text
        assert t.client.get(t.destination_path(dest)).json()["max_per_second"] is None
        more = publish_at_once(t, 12)
        start = time.monotonic()
        wait_for_ids(rx, more, timeout=30)
        assert time.monotonic() - start < 2.0
    t.close()


@pytest.mark.parametrize("value", [0, 1001, "5", 2.5])
def test_max_per_second_out_of_range_is_refused(worker, tenant, value):
    r = tenant.client.post(tenant.destinations_path,
                           json={"url": "https://hooks.example.com/t", "accepted_types": [],
                                 "max_per_second": value})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "max_per_second"]


# --- answers bounded as decoded ----------------------------------------------------------------

BROTLI_64_MIB = brotli.compress(bytes(64 << 20), quality=11, lgwin=24)
GZIP_8_MIB = gzip.compress(bytes(8 << 20), 9)


def test_compressed_answers_are_read_only_to_their_cap(make_worker):
    """A receiver answering 500 with `content-encoding: br` (54 bytes that
    decode to 64 MiB), and one with `gzip` under 8 KB that decodes to 8 MiB,
    20 attempts each: the runtime's memory grows by less than 32 MiB (the
    answers are never decoded), and the excerpt kept of each answer is at
    most 4 KB of the bytes as they came."""
    assert len(BROTLI_64_MIB) == 54 and len(GZIP_8_MIB) < 8192
    w = pipeline_worker(make_worker, EDGEHOOK_RETRY_SCHEDULE_SECONDS="0.2")
    t = new_tenant(w)
    bombs = [
        Receiver(default=Reply(500, headers={"content-encoding": "br"}, body=BROTLI_64_MIB)),
        Receiver(default=Reply(500, headers={"content-encoding": "gzip"}, body=GZIP_8_MIB)),
    ]
    with bombs[0], bombs[1]:
        dests = [t.create_destination(url=rx.url, accepted_types=[RESOURCE], retry_attempts=1)[0]
                 for rx in bombs]
        # Warm up the delivery path once, then measure from the current memory.
        publish(t, resource_event(t.org_id))
        for rx in bombs:
            rx.wait_for(2, timeout=30)
        memory = PeakMemory(w).start()
        publish_at_once(t, 10)
        for rx in bombs:
            rx.wait_for(2 + 20, timeout=60)
        grew = memory.grew_mib()
        assert grew < 32, f"the runtime grew by {grew:.0f} MiB reading compressed answers"
        # What is kept is the answer as it came, never decoded, and at most 4 KB of it.
        for dest, sent in zip(dests, [BROTLI_64_MIB, GZIP_8_MIB]):
            newest = list_deliveries(t, dest, limit=1)["webhook_deliveries"][0]["id"]
            record = wait_finished(t, dest, [newest], timeout=30)[newest]
            assert len(record["delivery_attempts"]) == 2
            for a in record["delivery_attempts"]:
                assert a["status_code"] == 500
                kept = a["response_body"]
                assert len(kept.encode()) <= 4096, len(kept)
                assert sent[:4096].decode(errors="replace").startswith(kept) and kept
                assert a["response_body_truncated"] is (len(sent) > 4096)
    t.close()


# --- runs that yield -------------------------------------------------------------------------

def test_a_run_past_its_budget_yields_and_its_alarm_continues_it(make_worker):
    """A 1 s run budget, 30 events at once, a receiver taking 0.4 s: the run
    yields (the object logs it) and its alarm continues it; every delivery
    arrives exactly once and succeeds."""
    w = pipeline_worker(make_worker, EDGEHOOK_RUN_BUDGET_SECONDS="1")
    t = new_tenant(w)
    with Receiver(default=Reply(200, delay=0.4)) as rx:
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE])
        ids = publish_at_once(t, 30)
        # None of what the run took ahead of its free slots when it yielded
        # waits out its lease (2 × 10 s + 30 s) before its alarm continues.
        got = wait_for_ids(rx, ids, timeout=25)
        records = wait_finished(t, dest, ids, timeout=30)
        time.sleep(1)
        got = rx.received()
        assert Counter(delivery_id_of(r) for r in got) == Counter(ids), "each exactly once"
        assert all(len(d["delivery_attempts"]) == 1 and d["state"] == "success"
                   for d in records.values())
        assert "delivery run yielded" in w.log_text()
    t.close()


@pytest.mark.slow
def test_a_destination_paused_mid_backlog_sends_the_rest_at_once_when_resumed(make_worker):
    """30 events at once to a receiver taking 0.5 s, paused after the first
    arrivals: the attempts in flight end, nothing more is sent while it is
    paused, and once resumed the rest arrive within seconds (none waits out
    the lease of 2 × 10 s + 30 s of those the run had taken ahead of its free
    slots), each exactly once and at its first attempt."""
    w = pipeline_worker(make_worker)
    t = new_tenant(w)
    with Receiver(default=Reply(200, delay=0.5)) as rx:
        dest, _ = t.create_destination(url=rx.url, accepted_types=[RESOURCE], timeout_seconds=10)
        ids = publish_at_once(t, 30)
        deadline = time.monotonic() + 20
        while len(rx.received()) < 6:
            assert time.monotonic() < deadline, "the first deliveries never arrived"
            time.sleep(0.05)
        r = t.client.post(t.destination_path(dest), json={"is_active": False})
        assert r.status_code == 204, r.text
        time.sleep(1.5)  # the attempts in flight end
        sent = len(rx.received())
        time.sleep(2)
        assert len(rx.received()) == sent, "sent while paused"
        assert sent < len(ids), "the backlog ended before the pause; nothing was left to hold"
        r = t.client.post(t.destination_path(dest), json={"is_active": True})
        assert r.status_code == 204, r.text
        resumed = time.monotonic()
        got = wait_for_ids(rx, ids, timeout=20)
        assert time.monotonic() - resumed < 20
        assert Counter(delivery_id_of(r) for r in got) == Counter(ids), "each exactly once"
        records = wait_finished(t, dest, ids, timeout=30)
        assert all(d["state"] == "success" and len(d["delivery_attempts"]) == 1
                   for d in records.values())
    t.close()


# --- idempotency keys --------------------------------------------------------------------------

def organization_database(w, org_id: str) -> Path:
    """The SQLite file of an organization's object: the one holding its key table."""
    for f in (Path(w.state_dir) / "v3" / "do").glob("*OrganizationObject*/*.sqlite"):
        with sqlite3.connect(f"file:{f}?mode=ro", uri=True) as db:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if "idempotency_keys" in names:
            return f
    raise AssertionError(f"no organization object with a key table in {w.state_dir}")


def checkpointed_size(db: Path) -> int:
    """The size of a stopped object's SQLite file once its log is written back."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db.stat().st_size


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_idempotency_key_takes_at_most_200_bytes_whatever_the_fan_out(make_worker):
    """10,000 keyed publishes to an organization with 10 destinations: its
    object's SQLite file grows by at most 200 bytes a key. A repeat still
    answers the first publish's ids."""
    w = pipeline_worker(make_worker, EDGEHOOK_PUBLISH_PER_SECOND="0")
    t = new_tenant(w)
    with Receiver() as rx:
        # Throttled to 1 a second, the destinations store every delivery and
        # attempt few of them: the test measures the publish path.
        for _ in range(10):
            t.create_destination(url=rx.url, accepted_types=[RESOURCE], max_per_second=1)
        first = publish(t, resource_event(t.org_id, "r-0"), idempotency_key="key-0")
        assert len(first["delivery_ids"]) == 10
        w.stop()
        db = organization_database(w, t.org_id)
        before = checkpointed_size(db)
        w.start()

        def keyed(n: int) -> None:
            answer = publish(t, resource_event(t.org_id, f"r-{n}"), idempotency_key=f"key-{n}")
            assert len(answer["delivery_ids"]) == 10

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(keyed, range(1, 10_001)))
        again = publish(t, resource_event(t.org_id, "r-0"), idempotency_key="key-0")
        assert again == first
        w.stop()
        after = checkpointed_size(db)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            keys = conn.execute("SELECT COUNT(*) FROM idempotency_keys").fetchone()[0]
        assert keys == 10_001
        per_key = (after - before) / 10_000
        assert per_key <= 200, f"{per_key:.0f} bytes a key"
    t.close()
