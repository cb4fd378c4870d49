"""End-to-end tests of where deliveries live: each destination's Durable
Object keeps its own delivery log, and D1 holds only the control plane.

- after publishes, deliveries and attempts, wrangler's local D1 holds no
  event, delivery or attempt (read with `wrangler d1 execute --local`), and
  the event's bytes are found in the destination object's storage only;
- an id that names no destination never creates an object;
- deleting a destination while an attempt is in flight ends it: nothing is
  attempted again and the object's storage is freed (its log, with the
  delivery that was in flight, goes with it);
- the object purges its own log past retention with its alarm (no job);
- `limit=0` paging ends; one delivery's detail shows the start of the
  receiver's answer, the seed's list never does;
- a delete or a rotation cut off between D1 and the object is safe to retry.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from delivery_helpers import (CONVERSATION, conversation_event,  # noqa: F401
                              deliveries_path, engine, headers_of, list_deliveries, org,
                              publish, start_engine, verify_webhooks, wait_for_state)
from harness import REPO_ROOT, new_tenant, tool_env
from receiver import Receiver, Reply

CONTROL_PLANE = {"organizations", "users", "api_keys", "webhook_destinations", "portal_sessions"}


def object_files(worker, class_name: str) -> list[Path]:
    """The SQLite files of a Durable Object class in the worker's local state."""
    d = Path(worker.state_dir) / "v3" / "do" / f"edgehook-{class_name}"
    return sorted(p for p in d.glob("*.sqlite")) if d.exists() else []


def object_rows(path: Path, table: str) -> int | None:
    """Rows of `table` in one object's SQLite; None when the table is gone."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:
            return None


def objects_holding(worker, class_name: str, marker: bytes) -> list[Path]:
    """The objects whose database (with its write-ahead log) contains `marker`."""
    def holds(p: Path) -> bool:
        return any(marker in f.read_bytes()
                   for f in (p, p.with_name(p.name + "-wal")) if f.exists())
    return [p for p in object_files(worker, class_name) if holds(p)]


def d1(worker, sql: str) -> list[dict]:
    """Runs `sql` on the worker's local D1 with wrangler and returns its rows."""
    out = subprocess.run(
        ["npx", "wrangler", "d1", "execute", "DB", "--local", "--json",
         "--config", str(Path(worker.state_dir) / "wrangler.toml"),
         "--persist-to", str(worker.state_dir), "--command", sql],
        cwd=REPO_ROOT, env=tool_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)[0]["results"]


@pytest.mark.slow
def test_d1_holds_no_event_delivery_or_attempt(engine, org):
    marker = "marker-" + os.urandom(8).hex()
    with Receiver([Reply(500)], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=3)
        ids = [publish(org, conversation_event(org.org_id, marker + f"-{i}"))["delivery_ids"][0]
               for i in range(5)]
        for i in ids:
            wait_for_state(org, dest, i, "success", timeout=30)
        verify_webhooks(rx.wait_for(6, timeout=10), secret)  # one failed attempt, then 5 successes
    # The log is in the destination's object.
    holders = objects_holding(engine, "DestinationObject", marker.encode())
    assert len(holders) == 1, holders
    assert object_rows(holders[0], "deliveries") == 5
    assert object_rows(holders[0], "attempts") == 6
    tables = {r["name"] for r in d1(engine, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' "
                                            "AND name NOT LIKE 'd1_%'")}
    assert tables == CONTROL_PLANE, tables
    for table in CONTROL_PLANE:
        rows = d1(engine, f"SELECT * FROM {table}")
        assert marker not in json.dumps(rows), (table, rows)
    # Not a byte of the events ever reached D1's files.
    d1_files = list((Path(engine.state_dir) / "v3" / "d1").rglob("*.sqlite*"))
    assert d1_files and not [p for p in d1_files if marker.encode() in p.read_bytes()]


def test_unknown_ids_never_create_an_object(engine, org):
    known, _ = org.create_destination(accepted_types=[CONVERSATION])
    before = object_files(engine, "DestinationObject")
    unknown = os.urandom(12).hex()
    delivery = os.urandom(12).hex()
    calls = [
        ("POST", org.destination_path(unknown), {"retry_attempts": 2}),
        ("DELETE", org.destination_path(unknown), None),
        ("POST", org.destination_path(unknown, "/rotate-secret"), None),
        ("GET", org.destination_path(unknown), None),
        ("GET", deliveries_path(org, unknown), None),
        ("GET", deliveries_path(org, unknown, "/" + delivery), None),
        ("POST", deliveries_path(org, unknown, f"/{delivery}/retry"), None),
    ]
    for method, path, body in calls:
        r = org.client.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # An unknown delivery of a known destination is a 404 of the known object.
    r = org.client.get(deliveries_path(org, known, "/" + delivery))
    assert r.status_code == 404, r.text
    after = object_files(engine, "DestinationObject")
    assert after == before, set(after) - set(before)


def test_delete_during_an_attempt_ends_it_and_frees_the_object(engine, org):
    marker = "inflight-" + os.urandom(8).hex()
    with Receiver([Reply(200, delay=8)], default=Reply(500)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                         retry_attempts=5, timeout_seconds=10)
        [delivery] = publish(org, conversation_event(org.org_id, marker))["delivery_ids"]
        rx.wait_for(1, timeout=20)  # the attempt is in flight: the receiver holds it 8 s
        [holder] = objects_holding(engine, "DestinationObject", marker.encode())
        started = time.monotonic()
        r = org.client.delete(org.destination_path(dest))
        assert r.status_code == 204, r.text
        assert time.monotonic() - started < 5, "delete waited for the attempt"
        # Nothing is attempted again (retries would come after 1 s each).
        rx.assert_quiet(6, 1)
        r = org.client.get(deliveries_path(org, dest, "/" + delivery))
        assert r.status_code == 404, r.text
    # The object's storage is freed: no log, no queue, no secrets or settings.
    if holder.exists():
        assert object_rows(holder, "deliveries") is None
        assert object_rows(holder, "_cf_KV") in (None, 0)


RETENTION_SECONDS = 6


@pytest.mark.slow
def test_the_object_purges_its_log_past_retention():
    w = start_engine({"EDGEHOOK_DELIVERY_RETENTION_SECONDS": str(RETENTION_SECONDS)})
    org = new_tenant(w)
    with Receiver() as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        old = [publish(org, conversation_event(org.org_id))["delivery_ids"][0] for _ in range(2)]
        for i in old:
            wait_for_state(org, dest, i, "success", timeout=20)
        time.sleep(RETENTION_SECONDS / 2)
        [young] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        wait_for_state(org, dest, young, "success", timeout=20)
        # The alarm set for the oldest delivery's expiry purges it; no job runs.
        deadline = time.monotonic() + RETENTION_SECONDS + 10
        while len(list_deliveries(org, dest)["webhook_deliveries"]) > 1:
            assert time.monotonic() < deadline, list_deliveries(org, dest)
            time.sleep(0.25)
        assert [d["id"] for d in list_deliveries(org, dest)["webhook_deliveries"]] == [young]
        for i in old:
            r = org.client.get(deliveries_path(org, dest, "/" + i))
            assert r.status_code == 404, (r.status_code, r.text)
        rx.assert_quiet(1, 3)
    org.close()
    w.cleanup()


def test_limit_zero_ends_paging(engine, org):
    dest, _ = org.create_destination(accepted_types=[CONVERSATION])
    publish(org, conversation_event(org.org_id))
    page = list_deliveries(org, dest, limit=0)
    assert page == {"webhook_deliveries": [], "has_more": False, "continuation_token": None}
    # A token of a page of more is a small integer; an unknown one is a 422.
    publish(org, conversation_event(org.org_id))
    first = list_deliveries(org, dest, limit=1)
    assert first["has_more"] is True and 0 < first["continuation_token"] < 2**53
    r = org.client.get(deliveries_path(org, dest), params={"continuation_token": 987654321})
    assert r.status_code == 422, r.text


def test_detail_shows_the_start_of_the_receivers_answer_never_the_list(engine, org):
    long_answer = b"x" * 6000
    with Receiver([Reply(500, body=b'{"error":"db down"}'), Reply(200, body=long_answer)]) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        [delivery] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        d = wait_for_state(org, dest, delivery, "success", timeout=20)
        first, second = d["delivery_attempts"]
        assert first["response_body"] == '{"error":"db down"}'
        assert first["response_body_truncated"] is False
        assert second["response_body"] == "x" * 4096 and second["response_body_truncated"] is True
        listed = list_deliveries(org, dest)["webhook_deliveries"][0]["delivery_attempts"]
        assert all("response_body" not in a for a in listed), listed


@pytest.mark.parametrize("reply", [
    Reply(200, body=b"y" * (1 << 20)),
    Reply(200, body=b"y" * (1 << 20), chunked=True),
    Reply(200, body=b"y" * 100, chunked=True),
    Reply(200, body=b"y" * 8192),
], ids=["1 MiB with its length", "1 MiB chunked", "100 B chunked", "8 KB with its length"])
def test_an_answer_is_kept_to_4_kb_however_it_is_framed(engine, org, reply):
    """Read in one piece when its length is fixed within the 8 KB cap, as a
    capped stream otherwise: either way the excerpt is its start, at most 4 KB."""
    with Receiver(default=reply) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        [delivery] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        [attempt] = wait_for_state(org, dest, delivery, "success", timeout=20)["delivery_attempts"]
        kept = reply.body[:4096].decode()
        assert attempt["response_body"] == kept
        assert attempt["response_body_truncated"] is (len(reply.body) > 4096)


@pytest.mark.slow
def test_half_failed_delete_and_rotation_are_safe_to_retry():
    w = start_engine({"EDGEHOOK_TEST_FAULTS":
                      "delete-between-object-and-d1,rotate-between-d1-and-object"})
    org = new_tenant(w)
    try:
        with Receiver() as rx:
            dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
            # Rotation cut off after D1: the old secret still signs alone.
            r = org.client.post(org.destination_path(dest, "/rotate-secret"))
            assert r.status_code == 500, r.text
            publish(org, conversation_event(org.org_id))
            [req] = rx.wait_for(1, timeout=20)
            assert len(req.header("webhook-signature").split()) == 1
            verify_webhooks([req], secret)
            # Retried, it rotates; both secrets sign during dual signing.
            r = org.client.post(org.destination_path(dest, "/rotate-secret"))
            assert r.status_code == 200, r.text
            new_secret = r.json()["secret"]
            publish(org, conversation_event(org.org_id))
            second = rx.wait_for(2, timeout=20)[1]
            assert len(second.header("webhook-signature").split()) == 2
            for s in (new_secret, secret):
                StandardWebhook(s).verify(second.body, headers_of(second))

            # Delete cut off after the object stopped: nothing is delivered any more.
            r = org.client.delete(org.destination_path(dest))
            assert r.status_code == 500, r.text
            assert publish(org, conversation_event(org.org_id))["delivery_ids"] == []
            rx.assert_quiet(2, 2)
            # Retried, it completes.
            r = org.client.delete(org.destination_path(dest))
            assert r.status_code == 204, r.text
            assert org.list_destinations() == []
    finally:
        org.close()
        w.cleanup()
