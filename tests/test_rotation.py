"""End-to-end tests of secret rotation: during dual signing a webhook carries
both signatures (new first) and verifies with the old and the new secret in
Amigo's SDK, standardwebhooks and edgehook's own SDK; after dual signing
stops only the new secret verifies; a second rotation inside the cooldown is
400; concurrent changes to one destination answer 409 to the ones that collide.
"""

from __future__ import annotations

import threading
import time

import pytest
from amigo_sdk.webhooks import WebhookVerificationError as AmigoVerificationError
from amigo_sdk.webhooks import parse_webhook_event, verify_signature
from standardwebhooks.webhooks import Webhook as StandardWebhook

from delivery_helpers import (CONVERSATION, DUAL_SIGNING_SECONDS, amigo_signatures,  # noqa: F401
                              check_common_headers, conversation_event, engine, headers_of, org,
                              parse_time, publish, rejects_everywhere, sdk_verify,
                              standard_signatures, verify_webhooks, wait_for_state)
from harness import new_user
from receiver import Receiver


def rotate(tenant, destination_id: str):
    return tenant.client.post(tenant.destination_path(destination_id, "/rotate-secret"))


def test_dual_signing_then_only_the_new_secret(org):
    with Receiver() as rx:
        dest, old = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
        [before_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        [before] = rx.wait_for(1, timeout=20)
        verify_webhooks([before], old)
        assert len(amigo_signatures(before)) == 1 and len(standard_signatures(before)) == 1
        assert wait_for_state(org, dest, before_id, "success", 10)["dual_signed"] is False

        asked = time.time()
        r = rotate(org, dest)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"secret", "dual_signing_stops_at"}
        new = body["secret"]
        assert new.startswith("whsec_") and new != old
        stops_at = parse_time(body["dual_signing_stops_at"])
        assert asked + DUAL_SIGNING_SECONDS - 1 <= stops_at <= time.time() + DUAL_SIGNING_SECONDS + 1

        [during_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        during = rx.wait_for(2, timeout=20)[1]
        assert time.time() < stops_at, "the webhook came after dual signing stopped; cannot test it"
        check_common_headers(during)
        payload, ts = during.body, during.header("x-amigo-request-timestamp")
        # Amigo's header: two comma-separated signatures, the new secret's first.
        new_sig, old_sig = amigo_signatures(during)
        verify_signature(payload.decode(), ts, new_sig, new)
        verify_signature(payload.decode(), ts, old_sig, old)
        with pytest.raises(AmigoVerificationError):
            verify_signature(payload.decode(), ts, old_sig, new)
        event = parse_webhook_event(payload, new_sig, ts, new)
        assert event.org_id == org.org_id
        # Standard Webhooks: two entries; either secret verifies.
        assert len(standard_signatures(during)) == 2
        for secret in (old, new):
            StandardWebhook(secret).verify(payload, headers_of(during))
        # edgehook's SDK: with either secret, or both, on either header set.
        hdrs = headers_of(during)
        amigo_only = {k: v for k, v in hdrs.items() if not k.startswith("webhook-")}
        cases = [(payload, h, s) for h in (hdrs, amigo_only) for s in ([old], [new], [new, old])]
        for res in sdk_verify(cases):
            assert res["ok"], res
        # A secret never issued verifies nothing.
        rejects_everywhere(during, "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
        assert wait_for_state(org, dest, during_id, "success", 10)["dual_signed"] is True

        # After dual signing stops: the new secret alone.
        time.sleep(max(0.0, stops_at - time.time()) + 0.5)
        [after_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        after = rx.wait_for(3, timeout=20)[2]
        assert len(amigo_signatures(after)) == 1 and len(standard_signatures(after)) == 1
        verify_webhooks([after], new)
        rejects_everywhere(after, old)
        assert wait_for_state(org, dest, after_id, "success", 10)["dual_signed"] is False


def test_second_rotation_inside_the_cooldown_is_400(org):
    dest, _ = org.create_destination(url="https://hooks.example.com/rotate")
    first = rotate(org, dest)
    assert first.status_code == 200, first.text
    second = rotate(org, dest)
    assert second.status_code == 400, (second.status_code, second.text)
    assert "detail" in second.json()
    # The destination's secret_generated_at moved to the first rotation.
    r = org.client.get(org.destination_path(dest))
    assert r.status_code == 200, r.text
    assert abs(parse_time(r.json()["secret_generated_at"]) - time.time()) < 30


def test_rotation_of_unknown_destination_is_404(org):
    r = rotate(org, "0123456789abcdef01234567")
    assert r.status_code == 404, (r.status_code, r.text)


def _burst(calls) -> list[int]:
    """Fires the calls at the same instant from their own threads; their statuses."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int | None] = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        statuses[i] = call().status_code

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def _collides(org, other, make_calls, wanted, tries: int = 30) -> tuple[list[list[int]], str | None]:
    """Repeats a burst on fresh destinations until one collides (whether two
    requests overlap inside the Worker is a matter of timing, so a burst may
    not); every burst's statuses, each listed in the order of `make_calls`."""
    seen = []
    for i in range(tries):
        dest, _ = org.create_destination(url="https://hooks.example.com/burst")
        calls = make_calls(dest)
        # Alternate which call's thread starts first.
        order = list(range(len(calls))) if i % 2 == 0 else list(reversed(range(len(calls))))
        fired = _burst([calls[j] for j in order])
        statuses = [fired[order.index(j)] for j in range(len(calls))]
        seen.append(statuses)
        assert all(s in wanted for s in statuses), seen
        if 409 in statuses:
            return seen, dest
        org.client.delete(org.destination_path(dest))
    return seen, None


def test_concurrent_update_and_rotate_one_gets_409(engine, org):
    other = new_user(engine, org.org_id)
    try:
        def calls(dest):
            return [lambda: org.client.post(org.destination_path(dest), json={"retry_attempts": 5}),
                    lambda: rotate(other, dest)]
        seen, dest = _collides(org, other, calls, wanted={200, 204, 409})
        last = seen[-1]
        assert 409 in last, f"no burst of update + rotate collided in {len(seen)} tries: {seen}"
        assert sorted(last) in ([204, 409], [200, 409]), last
        # The change that got 409 did not apply; the other one did.
        d = org.client.get(org.destination_path(dest)).json()
        update_status, rotate_status = last
        assert d["retry_attempts"] == (5 if update_status == 204 else 3), (last, d)
        assert rotate(org, dest).status_code == (400 if rotate_status == 200 else 200)
    finally:
        other.close()


def test_concurrent_changes_to_one_destination_get_409(engine, org):
    """Update, rotate and delete at once: what collides is 409, the rest applies."""
    other, third = new_user(engine, org.org_id), new_user(engine, org.org_id)
    try:
        def calls(dest):
            return [lambda: org.client.post(org.destination_path(dest), json={"retry_attempts": 2}),
                    lambda: rotate(other, dest),
                    lambda: third.client.delete(third.destination_path(dest))]
        seen, _ = _collides(org, other, calls, wanted={200, 204, 404, 409})
        last = seen[-1]
        assert 409 in last, f"no burst collided in {len(seen)} tries: {seen}"
        assert any(s in (200, 204) for s in last), last
    finally:
        other.close()
        third.close()
