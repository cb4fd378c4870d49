"""End-to-end tests of publishing events (`POST /v1/{org}/webhook_event/`):
fan-out to the destinations that accept the type (never to paused or deleted
ones), the body delivered byte for byte and verified by Amigo's SDK,
standardwebhooks and edgehook's own SDK, the Idempotency-Key (exact under
concurrency, 409 for another body), the publish quota's 429, how soon a
destination change reaches publishing, the 413, 422 and 403 answers; and a
destination's test event and the event-type catalog.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RESOURCE, conversation_event, engine,  # noqa: F401
                              list_deliveries, org, publish, publish_raw, resource_event,
                              verify_webhooks, wait_for_state)
from harness import ALL_PERMISSIONS, GET_DESTINATION, SEND_EVENT, new_tenant, new_user
from receiver import Receiver


def test_fan_out_reaches_only_active_destinations_accepting_the_type(org):
    with Receiver() as conv_only, Receiver() as both, Receiver() as resource_only, \
            Receiver() as paused, Receiver() as deleted:
        conv_id, conv_secret = org.create_destination(url=conv_only.url, accepted_types=[CONVERSATION])
        both_id, both_secret = org.create_destination(url=both.url, accepted_types=[CONVERSATION, RESOURCE])
        res_id, res_secret = org.create_destination(url=resource_only.url, accepted_types=[RESOURCE])
        paused_id, _ = org.create_destination(url=paused.url, accepted_types=[CONVERSATION, RESOURCE])
        deleted_id, _ = org.create_destination(url=deleted.url, accepted_types=[CONVERSATION, RESOURCE])
        r = org.client.post(org.destination_path(paused_id), json={"is_active": False})
        assert r.status_code == 204, r.text
        r = org.client.delete(org.destination_path(deleted_id))
        assert r.status_code == 204, r.text

        conv = conversation_event(org.org_id)
        first = publish(org, conv)
        assert len(first["delivery_ids"]) == 2
        resource = resource_event(org.org_id)
        second = publish(org, resource)
        assert len(second["delivery_ids"]) == 2
        # Nobody accepts this type: stored as an event, no delivery.
        third = publish(org, {"type": KEY_EXPIRY, "org_id": org.org_id})
        assert third["delivery_ids"] == []

        [got_conv] = conv_only.wait_for(1, timeout=20)
        got_both = both.wait_for(2, timeout=20)
        [got_res] = resource_only.wait_for(1, timeout=20)
        for rx, n in ((conv_only, 1), (both, 2), (resource_only, 1), (paused, 0), (deleted, 0)):
            rx.assert_quiet(1.5, n)

        verify_webhooks([got_conv], conv_secret)
        verify_webhooks(got_both, both_secret)
        verify_webhooks([got_res], res_secret)
        assert json.loads(got_conv.body) == conv
        assert json.loads(got_res.body) == resource
        assert sorted(json.loads(r.body)["type"] for r in got_both) == sorted([CONVERSATION, RESOURCE])

        # Each delivery id went to exactly one destination, the one whose record holds it.
        ids = {r.header("webhook-id") for r in [got_conv, got_res, *got_both]}
        assert ids == set(first["delivery_ids"]) | set(second["delivery_ids"])
        assert got_conv.header("webhook-id") in first["delivery_ids"]
        assert got_res.header("webhook-id") in second["delivery_ids"]
        for dest, req in ((conv_id, got_conv), (res_id, got_res), (both_id, got_both[0]),
                          (both_id, got_both[1])):
            d = wait_for_state(org, dest, req.header("webhook-id"), "success", timeout=10)
            assert d["webhook_content"] == json.loads(req.body)
        # The paused destination keeps both events as skipped: never sent, not
        # among the publishes' delivery_ids.
        r = org.client.get(org.destination_path(paused_id, "/delivery"))
        assert r.status_code == 200, r.text
        kept = r.json()["webhook_deliveries"]
        assert sorted(d["type"] for d in kept) == sorted([CONVERSATION, RESOURCE]), kept
        assert all(d["state"] == "skipped" and d["delivery_attempts"] == [] for d in kept)
        assert not {d["id"] for d in kept} & (set(first["delivery_ids"]) | set(second["delivery_ids"]))


def test_reactivated_destination_receives_events_published_after(org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        assert org.client.post(org.destination_path(dest), json={"is_active": False}).status_code == 204
        assert publish(org, conversation_event(org.org_id))["delivery_ids"] == []
        rx.assert_quiet(1.5, 0)
        assert org.client.post(org.destination_path(dest), json={"is_active": True}).status_code == 204
        answer = publish(org, conversation_event(org.org_id))
        [req] = rx.wait_for(1, timeout=20)
        assert req.header("webhook-id") == answer["delivery_ids"][0]
        verify_webhooks([req], secret)
        rx.assert_quiet(1.5, 1)


def test_body_arrives_byte_for_byte(org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        body = ('{  "conversation_id" :"caf\u00e9 \\u00e9 \U0001F600 \\"q\\"",\n\t'
                '"type":"conversation-post-processing-complete" ,  "org_id":"'
                + org.org_id + '",\r\n"post_processing_type"  :  "generate-tasks"   }').encode()
        answer = publish(org, body)
        [req] = rx.wait_for(1, timeout=20)
        assert req.body == body
        [v] = verify_webhooks([req], secret)
        assert v.amigo_event.conversation_id == "caf\u00e9 \u00e9 \U0001F600 \"q\""
        d = wait_for_state(org, dest, answer["delivery_ids"][0], "success", timeout=10)
        assert d["webhook_content"] == json.loads(body)


def test_idempotency_key_returns_the_first_answer_and_creates_nothing(org, engine):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        key = "order-42-processed"
        event = conversation_event(org.org_id)
        first = publish(org, event, idempotency_key=key)
        # The same key with the same body answers the first publish.
        again = publish(org, event, idempotency_key=key)
        assert again == first
        # The same key with another body is refused: it names another event.
        r = publish_raw(org, conversation_event(org.org_id), idempotency_key=key)
        assert r.status_code == 409, (r.status_code, r.text)
        assert "another body" in r.json()["detail"], r.text
        [req] = rx.wait_for(1, timeout=20)
        rx.assert_quiet(2, 1)
        verify_webhooks([req], secret)
        listed = org.client.get(org.destination_path(dest, "/delivery")).json()
        assert [d["id"] for d in listed["webhook_deliveries"]] == first["delivery_ids"]

        # Another key publishes anew.
        other = publish(org, conversation_event(org.org_id), idempotency_key=key + "-b")
        assert other["event_id"] != first["event_id"]
        rx.wait_for(2, timeout=20)

        # The same key in another organization is another event.
        stranger = new_tenant(engine)
        try:
            with Receiver() as rx2:
                stranger.create_destination(url=rx2.url, accepted_types=[CONVERSATION])
                theirs = publish(stranger, conversation_event(stranger.org_id), idempotency_key=key)
                assert theirs["event_id"] != first["event_id"]
                assert len(theirs["delivery_ids"]) == 1
                rx2.wait_for(1, timeout=20)
        finally:
            stranger.close()
        rx.assert_quiet(1, 2)


def test_body_above_256_kb_is_413(org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        big = json.dumps({"type": CONVERSATION, "pad": "x" * (256 * 1024)}).encode()
        r = publish_raw(org, big)
        assert r.status_code == 413, (r.status_code, r.text)
        # Just under the limit is accepted.
        pad = 256 * 1024 - len(json.dumps({"type": CONVERSATION, "pad": ""}))
        ok = json.dumps({"type": CONVERSATION, "pad": "x" * pad}).encode()
        assert len(ok) == 256 * 1024
        answer = publish(org, ok)
        [req] = rx.wait_for(1, timeout=20)
        assert req.body == ok and req.header("webhook-id") == answer["delivery_ids"][0]
        rx.assert_quiet(1, 1)


def test_bad_events_are_422_and_deliver_nothing(org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION, RESOURCE, KEY_EXPIRY])
        for body in (b'{"org_id": "x"}', b'{"type": "conversation-post-processing"}',
                     b'{"type": 3}', b'[{"type": "conversation-post-processing-complete"}]',
                     b'"conversation-post-processing-complete"', b'{"type": "conversation-post-',
                     b"", b'{"type": null}'):
            r = publish_raw(org, body)
            assert r.status_code == 422, (body, r.status_code, r.text)
            assert "detail" in r.json(), r.text
        rx.assert_quiet(1.5, 0)


def test_publishing_needs_the_send_permission(engine, org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        others = [p for p in ALL_PERMISSIONS if p != SEND_EVENT]
        user = new_user(engine, org.org_id, others)
        try:
            r = publish_raw(user, conversation_event(org.org_id))
            assert r.status_code == 403, (r.status_code, r.text)
        finally:
            user.close()
        sender = new_user(engine, org.org_id, [SEND_EVENT])
        try:
            publish(sender, conversation_event(org.org_id))
        finally:
            sender.close()
        rx.wait_for(1, timeout=20)
        rx.assert_quiet(1, 1)


def test_other_organization_cannot_publish_into_this_one(engine, org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        stranger = new_tenant(engine)
        try:
            r = stranger.client.post(f"/v1/{org.org_id}/webhook_event/",
                                     json=conversation_event(org.org_id))
            assert r.status_code in (401, 403, 404), (r.status_code, r.text)
        finally:
            stranger.close()
        rx.assert_quiet(1.5, 0)


# How soon a destination change reaches publishing. Each change tells the
# organization's object at once; its routing table is also re-read from D1 at
# most ROUTING_TTL seconds after it was read, should that notice be lost.
ROUTING_TTL_SECONDS = 5


def first_publish_where(org, predicate, event, timeout=ROUTING_TTL_SECONDS + 1) -> float:
    """Publishes `event` until `predicate(answer)` holds; returns the seconds it took."""
    start = time.monotonic()
    while True:
        answer = publish(org, event)
        if predicate(answer):
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"change not seen after {timeout} s: {answer}"
        time.sleep(0.05)


def test_destination_changes_reach_publishing_within_the_stated_seconds(org):
    with Receiver() as rx:
        event = conversation_event(org.org_id)
        assert publish(org, event)["delivery_ids"] == []  # nothing routes yet

        # Created: the next publish routes to it.
        dest, _ = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        took = first_publish_where(org, lambda a: len(a["delivery_ids"]) == 1, event)
        assert took <= ROUTING_TTL_SECONDS

        # Types changed: publishing follows.
        r = org.client.post(org.destination_path(dest), json={"accepted_types": [RESOURCE]})
        assert r.status_code == 204, r.text
        took = first_publish_where(org, lambda a: a["delivery_ids"] == [], event)
        assert took <= ROUTING_TTL_SECONDS
        took = first_publish_where(org, lambda a: len(a["delivery_ids"]) == 1,
                                   resource_event(org.org_id))
        assert took <= ROUTING_TTL_SECONDS

        # Paused, then deleted: nothing more is routed to it.
        r = org.client.post(org.destination_path(dest), json={"is_active": False})
        assert r.status_code == 204, r.text
        took = first_publish_where(org, lambda a: a["delivery_ids"] == [], resource_event(org.org_id))
        assert took <= ROUTING_TTL_SECONDS
        other, _ = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        r = org.client.delete(org.destination_path(other))
        assert r.status_code == 204, r.text
        took = first_publish_where(org, lambda a: a["delivery_ids"] == [], resource_event(org.org_id))
        assert took <= ROUTING_TTL_SECONDS


def test_concurrent_publishes_with_one_key_make_one_event(org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        event = conversation_event(org.org_id)
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(
                lambda _: publish(org, event, idempotency_key="concurrent-1"), range(10)))
        assert all(a == answers[0] for a in answers), answers
        assert len(answers[0]["delivery_ids"]) == 1
        rx.wait_for(1, timeout=20)
        rx.assert_quiet(2, 1)


def test_concurrent_publishes_to_shared_destinations_each_get_their_own_deliveries(org):
    """Publishes that arrive together travel to a destination's object
    together: each publish still answers with exactly its own deliveries, every
    active destination receives every event once, and a paused one keeps each
    as skipped."""
    with Receiver() as first, Receiver() as second, Receiver() as paused:
        first_id, _ = org.create_destination(url=first.url, accepted_types=[CONVERSATION])
        second_id, _ = org.create_destination(url=second.url, accepted_types=[CONVERSATION])
        paused_id, _ = org.create_destination(url=paused.url, accepted_types=[CONVERSATION])
        r = org.client.post(org.destination_path(paused_id), json={"is_active": False})
        assert r.status_code == 204, r.text
        events = [conversation_event(org.org_id) for _ in range(40)]
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda e: publish(org, e), events))
        ids = [d for a in answers for d in a["delivery_ids"]]
        assert all(len(a["delivery_ids"]) == 2 for a in answers), answers
        assert len(set(ids)) == 80
        for rx in (first, second):
            got = rx.wait_for(40, timeout=60)
            rx.assert_quiet(1.5, 40)
            assert {r.header("webhook-id") for r in got} <= set(ids)
            assert sorted(json.loads(r.body)["conversation_id"] for r in got) == \
                sorted(e["conversation_id"] for e in events)
        paused.assert_quiet(0.5, 0)
        skipped = list_deliveries(org, paused_id, state="skipped", limit=50)["webhook_deliveries"]
        assert len(skipped) == 40
        assert not set(d["id"] for d in skipped) & set(ids)


def test_an_event_that_matches_nothing_stores_nothing(org):
    org.create_destination(accepted_types=[RESOURCE])
    answer = publish(org, conversation_event(org.org_id))
    assert answer["delivery_ids"] == [] and len(answer["event_id"]) == 24


def test_publish_quota_answers_429_with_retry_after(make_worker):
    w = make_worker(vars={"EDGEHOOK_PUBLISH_PER_SECOND": "5",
                          "EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0"})
    org = new_tenant(w)
    try:
        event = conversation_event(org.org_id)
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda _: publish_raw(org, event).status_code, range(40)))
        elapsed = time.monotonic() - started
        # A burst of twice the rate passes, plus what refilled meanwhile; the rest is 429.
        assert set(codes) == {202, 429}, codes
        assert 10 <= codes.count(202) <= 10 + 5 * elapsed + 1, (codes.count(202), elapsed)
        for _ in range(30):
            r = publish_raw(org, event)
            if r.status_code == 429:
                break
        assert r.status_code == 429, (r.status_code, r.text)
        assert "rate limit" in r.json()["detail"]
        assert int(r.headers["Retry-After"]) >= 1
        time.sleep(int(r.headers["Retry-After"]))
        assert publish_raw(org, event).status_code == 202
        # The quota is the organization's: another organization is not held back.
        other = new_tenant(w)
        try:
            assert publish_raw(other, conversation_event(other.org_id)).status_code == 202
        finally:
            other.close()
    finally:
        org.close()


def test_a_test_event_is_a_signed_example_recorded_like_any_delivery(org):
    with Receiver() as rx:
        # The destination accepts another type: a test event goes to it all the same.
        dest, secret = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        r = org.client.post(org.destination_path(dest, "/test"), json={"type": CONVERSATION})
        assert r.status_code == 202, r.text
        assert set(r.json()) == {"delivery_id"}
        delivery_id = r.json()["delivery_id"]
        [req] = rx.wait_for(1, timeout=20)
        [verified] = verify_webhooks([req], secret)
        assert req.header("webhook-id") == delivery_id
        body = json.loads(req.body)
        assert body["type"] == CONVERSATION and body["org_id"] == org.org_id
        catalog = org.client.get(f"/v1/{org.org_id}/event_type/").json()["event_types"]
        example = next(t["example"] for t in catalog if t["type"] == CONVERSATION)
        assert body == {**example, "org_id": org.org_id}
        d = wait_for_state(org, dest, delivery_id, "success", timeout=20)
        assert d["type"] == CONVERSATION and d["webhook_content"] == body

        for bad in ({}, {"type": "no-such-type"}, {"type": 3}):
            r = org.client.post(org.destination_path(dest, "/test"), json=bad)
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["detail"][0]["loc"] == ["body", "type"]
        r = org.client.post(org.destination_path("a" * 24, "/test"), json={"type": CONVERSATION})
        assert r.status_code == 404, r.text
        rx.assert_quiet(1, 1)


def test_test_events_need_the_update_permission(engine, org):
    reader = new_user(engine, org.org_id, permissions=[GET_DESTINATION])
    try:
        dest, _ = org.create_destination(accepted_types=[CONVERSATION])
        r = reader.client.post(org.destination_path(dest, "/test"), json={"type": CONVERSATION})
        assert r.status_code == 403, r.text
        # Reading the catalog needs only the read permission.
        r = reader.client.get(f"/v1/{org.org_id}/event_type/")
        assert r.status_code == 200, r.text
    finally:
        reader.close()


def test_the_catalog_describes_every_type_and_feeds_the_openapi_document(engine, org):
    r = org.client.get(f"/v1/{org.org_id}/event_type/")
    assert r.status_code == 200, r.text
    catalog = r.json()["event_types"]
    assert [t["type"] for t in catalog if not t["operational"]] == [CONVERSATION, KEY_EXPIRY, RESOURCE]
    assert [t["type"] for t in catalog if t["operational"]] == [
        "destination.failing", "destination.disabled", "destination.recovered",
        "delivery.exhausted", "destination.created", "destination.updated", "destination.deleted"]
    served = httpx.get(engine.url + "/openapi.json", timeout=30).json()
    for t in catalog:
        assert t["description"] and t["example"]["type"] == t["type"]
        for field in t["schema"]["required"]:
            assert field in t["example"], (t["type"], field)
        name = "".join(p.capitalize() for p in re.split(r"[-.]", t["type"])) + "Event"
        documented = served["components"]["schemas"][name]
        assert documented["required"] == t["schema"]["required"]
        assert documented["example"] == t["example"]
    # The catalog is the organization's: it needs credentials.
    r = httpx.get(engine.url + f"/v1/{org.org_id}/event_type/", timeout=30)
    assert r.status_code == 401
