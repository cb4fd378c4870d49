"""End-to-end tests of delivery attempts and retries against real receivers:
500 then 200, retries exhausted, timeouts, refused connections, 429 with
Retry-After and redirects. Each checks the delivery's final state, its
recorded attempts (status code, 0 when nothing answered, error text), the
number of attempts (1 + retry_attempts), the same delivery id on every retry,
and the gaps against the retry schedule (1 s here, ±10 % jitter).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

from delivery_helpers import (CONVERSATION, conversation_event, engine, get_delivery, org,  # noqa: F401
                              parse_time, publish, verify_webhooks, wait_for_state)
from harness import free_port
from receiver import Receiver, Reply

SCHEDULE_SECONDS = 1.0
JITTER = 0.1
# Slack for the alarm firing and the attempt's own round trip under wrangler dev.
LATE_TOLERANCE = 0.75
EARLY_TOLERANCE = 0.05


def assert_gaps_follow_schedule(times: list[float], minimum: list[float] | None = None) -> None:
    """`times` of consecutive attempts: each gap is the schedule's wait within
    jitter and tolerance (or at least `minimum[i]` when a Retry-After asked more)."""
    gaps = [b - a for a, b in zip(times, times[1:])]
    for i, gap in enumerate(gaps):
        low = SCHEDULE_SECONDS * (1 - JITTER) - EARLY_TOLERANCE
        high = SCHEDULE_SECONDS * (1 + JITTER) + LATE_TOLERANCE
        if minimum and minimum[i] > SCHEDULE_SECONDS:
            low = minimum[i] - EARLY_TOLERANCE
            high = minimum[i] + LATE_TOLERANCE
        assert low <= gap <= high, f"gap {i + 1} is {gap:.3f} s, expected {low:.2f}..{high:.2f}: {gaps}"


def assert_same_delivery_id(reqs, delivery_id: str) -> None:
    for r in reqs:
        assert r.header("x-amigo-idempotent-key") == delivery_id
        assert r.header("webhook-id") == delivery_id


def test_500_then_200_is_retried_on_schedule_and_succeeds(org):
    with Receiver([Reply(500), Reply(500)], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=3)
        event = conversation_event(org.org_id)
        [delivery_id] = publish(org, event)["delivery_ids"]
        reqs = rx.wait_for(3, timeout=20)
        d = wait_for_state(org, dest, delivery_id, {"success", "failed"}, timeout=10)
        rx.assert_quiet(2.5, 3)
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        assert all(r.body == reqs[0].body for r in reqs)
        assert_gaps_follow_schedule([r.received_monotonic for r in reqs])
        # Every attempt is signed anew at its own time.
        assert len({r.header("x-amigo-request-timestamp") for r in reqs}) == 3

        assert d["state"] == "success" and d["status"] == "success", d
        assert d["next_retry_at"] is None
        assert d["webhook_content"] == event
        assert d["type"] == CONVERSATION and d["id"] == delivery_id
        assert d["dual_signed"] is False
        attempts = d["delivery_attempts"]
        assert [a["status_code"] for a in attempts] == [500, 500, 200]
        assert attempts[0]["error"] and "500" in attempts[0]["error"]
        assert attempts[2]["error"] is None
        for a, r in zip(attempts, reqs):
            assert abs(parse_time(a["delivery_time"]) - r.received_at) < 1.0, (a, r.received_at)
            assert 0 <= a["duration_ms"] < 5000
        assert parse_time(d["created_at"]) <= parse_time(attempts[0]["delivery_time"]) + 0.001


def test_retries_exhausted_end_failed_after_one_plus_retry_attempts(org):
    with Receiver(default=Reply(500, body=b"down")) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=4)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        rx.wait_for(1, timeout=20)
        # Between attempts the delivery is retrying, with the next attempt's time.
        mid = wait_for_state(org, dest, delivery_id, "retrying", timeout=5, poll=0.05)
        assert mid["status"] == "failed"
        assert mid["next_retry_at"] is not None
        last_attempt = parse_time(mid["delivery_attempts"][-1]["delivery_time"])
        wait = parse_time(mid["next_retry_at"]) - last_attempt
        assert SCHEDULE_SECONDS * (1 - JITTER) - 0.05 <= wait <= SCHEDULE_SECONDS * (1 + JITTER) + 0.5, mid

        reqs = rx.wait_for(5, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "failed", timeout=10)
        rx.assert_quiet(2.5, 5)
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        assert_gaps_follow_schedule([r.received_monotonic for r in reqs])
        assert d["status"] == "failed" and d["next_retry_at"] is None, d
        assert [a["status_code"] for a in d["delivery_attempts"]] == [500] * 5
        assert all("500" in a["error"] for a in d["delivery_attempts"])


def test_timeout_is_a_failed_attempt_with_status_0(org):
    with Receiver(default=Reply(200, delay=3)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=1, timeout_seconds=1)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        reqs = rx.wait_for(2, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "failed", timeout=15)
        rx.assert_quiet(2.5, 2)
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        # The retry waits the schedule after the attempt gave up (1 s timeout).
        gap = reqs[1].received_monotonic - reqs[0].received_monotonic
        assert 1.0 + SCHEDULE_SECONDS * (1 - JITTER) - EARLY_TOLERANCE <= gap \
            <= 1.0 + SCHEDULE_SECONDS * (1 + JITTER) + LATE_TOLERANCE + 0.5, gap
        attempts = d["delivery_attempts"]
        assert [a["status_code"] for a in attempts] == [0, 0], attempts
        for a in attempts:
            assert "timeout" in a["error"].lower(), a
            assert 900 <= a["duration_ms"] <= 2500, a


def test_refused_connection_is_a_failed_attempt_with_status_0(org):
    closed = f"http://127.0.0.1:{free_port()}/webhook"
    dest, _ = org.create_destination(url=closed, accepted_types=[CONVERSATION], retry_attempts=2)
    [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
    d = wait_for_state(org, dest, delivery_id, "failed", timeout=20)
    attempts = d["delivery_attempts"]
    assert [a["status_code"] for a in attempts] == [0, 0, 0], attempts
    for a in attempts:
        assert "refused" in a["error"].lower(), a
    times = [parse_time(a["delivery_time"]) for a in attempts]
    assert_gaps_follow_schedule(times)
    assert d["status"] == "failed" and d["next_retry_at"] is None


def test_429_retry_after_delays_the_retry_beyond_the_schedule(org):
    with Receiver([Reply(429, headers={"Retry-After": "2"})], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=2)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        reqs = rx.wait_for(2, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "success", timeout=10)
        rx.assert_quiet(1.5, 2)
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        gap = reqs[1].received_monotonic - reqs[0].received_monotonic
        assert 2.0 - EARLY_TOLERANCE <= gap <= 2.0 + LATE_TOLERANCE, gap
        assert [a["status_code"] for a in d["delivery_attempts"]] == [429, 200]
        assert "429" in d["delivery_attempts"][0]["error"]


def test_retry_after_shorter_than_the_schedule_does_not_hasten_the_retry(org):
    with Receiver([Reply(503, headers={"Retry-After": "0"})], default=Reply(204)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=1)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        reqs = rx.wait_for(2, timeout=20)
        assert_gaps_follow_schedule([r.received_monotonic for r in reqs])
        d = wait_for_state(org, dest, delivery_id, "success", timeout=10)
        assert [a["status_code"] for a in d["delivery_attempts"]] == [503, 204]
        verify_webhooks(reqs, secret)


def test_redirect_is_a_failure_and_is_not_followed(org):
    with Receiver() as target:
        with Receiver(default=Reply(302, headers={"Location": target.url})) as rx:
            dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                                  retry_attempts=1)
            [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
            reqs = rx.wait_for(2, timeout=20)
            d = wait_for_state(org, dest, delivery_id, "failed", timeout=10)
            rx.assert_quiet(2, 2)
            target.assert_quiet(0, 0)
            assert_same_delivery_id(reqs, delivery_id)
            verify_webhooks(reqs, secret)
            assert_gaps_follow_schedule([r.received_monotonic for r in reqs])
            attempts = d["delivery_attempts"]
            assert [a["status_code"] for a in attempts] == [302, 302]
            assert all("redirect" in a["error"].lower() for a in attempts), attempts


def test_dropped_connection_is_a_failed_attempt_with_status_0(org):
    with Receiver([Reply(drop_connection=True)], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=1)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        reqs = rx.wait_for(2, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "success", timeout=10)
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        first, second = d["delivery_attempts"]
        assert first["status_code"] == 0 and first["error"], first
        assert second["status_code"] == 200 and second["error"] is None


def test_each_delivery_of_a_burst_is_retried_independently(org):
    """Many pending deliveries share the destination's alarm; each keeps its own
    attempt count and schedule."""
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=2)
        # The five first attempts fail (they all come before any retry is due).
        rx.set_script([Reply(500)] * 5, default=Reply(200))
        with ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: publish(org, conversation_event(org.org_id)), range(5)))
        ids = [a["delivery_ids"][0] for a in answers]
        reqs = rx.wait_for(10, timeout=25)
        rx.assert_quiet(2, 10)
        counts = Counter(r.header("webhook-id") for r in reqs)
        assert counts == {i: 2 for i in ids}, counts
        verify_webhooks(reqs, secret)
        for i in ids:
            d = wait_for_state(org, dest, i, "success", timeout=10)
            assert [a["status_code"] for a in d["delivery_attempts"]] == [500, 200], d
            mine = [r.received_monotonic for r in reqs if r.header("webhook-id") == i]
            assert_gaps_follow_schedule(mine)


def test_retry_after_is_capped_at_one_hour(org):
    with Receiver(default=Reply(503, headers={"Retry-After": "7200"})) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                         retry_attempts=3)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        rx.wait_for(1, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "retrying", timeout=10, poll=0.05)
        wait = parse_time(d["next_retry_at"]) - parse_time(d["delivery_attempts"][0]["delivery_time"])
        assert 3600 - 1 <= wait <= 3600 + 2, (wait, d)
        rx.assert_quiet(1, 1)
        assert org.client.delete(org.destination_path(dest)).status_code == 204


def test_retry_after_as_an_http_date_is_honored(org):
    when = formatdate(time.time() + 3, usegmt=True)
    with Receiver([Reply(503, headers={"Retry-After": when})], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=2)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        reqs = rx.wait_for(2, timeout=20)
        gap = reqs[1].received_monotonic - reqs[0].received_monotonic
        # The date has whole seconds: the retry comes between 2 and 3 s (plus slack) later.
        assert 2.0 - EARLY_TOLERANCE <= gap <= 3.0 + LATE_TOLERANCE, gap
        wait_for_state(org, dest, delivery_id, "success", timeout=10)
        verify_webhooks(reqs, secret)


def test_paused_destination_holds_its_retries_until_reactivated(org):
    with Receiver([Reply(500)], default=Reply(200)) as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                              retry_attempts=3)
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        rx.wait_for(1, timeout=20)
        r = org.client.post(org.destination_path(dest), json={"is_active": False})
        assert r.status_code == 204, r.text
        rx.assert_quiet(3, 1)
        assert get_delivery(org, dest, delivery_id)["state"] in ("pending", "retrying")
        r = org.client.post(org.destination_path(dest), json={"is_active": True})
        assert r.status_code == 204, r.text
        reqs = rx.wait_for(2, timeout=20)
        d = wait_for_state(org, dest, delivery_id, "success", timeout=10)
        assert [a["status_code"] for a in d["delivery_attempts"]] == [500, 200]
        assert_same_delivery_id(reqs, delivery_id)
        verify_webhooks(reqs, secret)
        rx.assert_quiet(1, 2)


def test_deleted_destination_gets_no_more_retries(org):
    with Receiver(default=Reply(500)) as rx:
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION],
                                         retry_attempts=5)
        publish(org, conversation_event(org.org_id))
        rx.wait_for(1, timeout=20)
        r = org.client.delete(org.destination_path(dest))
        assert r.status_code == 204, r.text
        # An attempt already under way may still land; nothing after it.
        time.sleep(0.5)
        n = len(rx.received())
        assert n <= 2, n
        rx.assert_quiet(3, n)
        r = org.client.get(org.destination_path(dest, "/delivery"))
        assert r.status_code == 404, (r.status_code, r.text)
