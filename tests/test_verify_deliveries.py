"""End-to-end tests of the Python package edgehook-verify (installed from its built wheel) on real
deliveries from wrangler dev: every event type on both header sets, with the scheme, key and
webhook id it reports; dual signing after a rotation, with the old secret, the new one and both;
and every error code a received webhook can produce (invalid_payload, which needs a signed body
that is not JSON, and the vectors are in tests/test_verify_python.py).
"""

from __future__ import annotations

import json
import time

import pytest

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RESOURCE, conversation_event,  # noqa: F401
                              engine, headers_of, key_expiry_event, org, publish, resource_event)
from dual_signing import receive_dual_signed
from edgehook_verify import Webhook, WebhookVerificationError
from receiver import Receiver
from verify_helpers import amigo_only, code_of

NEVER_ISSUED = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


def verified(keys, body: bytes, headers) -> tuple:
    event = Webhook(keys).verify(body, headers)
    assert event == json.loads(body)
    return event.scheme, event.asymmetric, event.key_index, event.webhook_id


def test_every_event_type_verifies_on_both_header_sets(org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url,
                                              accepted_types=[CONVERSATION, RESOURCE, KEY_EXPIRY])
        delivery_ids = [publish(org, make(org.org_id))["delivery_ids"][0]
                        for make in (conversation_event, resource_event, key_expiry_event)]
        received = rx.wait_for(3, timeout=20)
    assert {json.loads(r.body)["type"] for r in received} == {CONVERSATION, RESOURCE, KEY_EXPIRY}
    for req in received:
        delivery_id = req.header("x-amigo-idempotent-key")
        assert delivery_id in delivery_ids
        # The headers as they arrived (their spelling kept), and lowercased.
        for headers in (dict(req.headers), headers_of(req)):
            assert verified(secret, req.body, headers) == ("standard", False, 0, delivery_id)
        assert verified(secret, req.body, amigo_only(headers_of(req))) == ("amigo", False, 0, None)
        assert verified([NEVER_ISSUED, secret], req.body.decode(), headers_of(req))[2] == 1


def test_dual_signing_after_a_rotation_verifies_with_either_secret(org):
    with Receiver() as rx:
        signed = receive_dual_signed(org, rx)
        old, new, during = signed.old, signed.new, signed.request
        headers = headers_of(during)
        assert len(headers["x-amigo-request-signature"].split(",")) == 2
        assert len(headers["webhook-signature"].split(" ")) == 2
        for h, scheme in [(headers, "standard"), (amigo_only(headers), "amigo")]:
            for keys, index in [(old, 0), (new, 0), ([new, old], 0), ([NEVER_ISSUED, old], 1),
                                ([NEVER_ISSUED, new], 1)]:
                assert verified(keys, during.body, h)[:3] == (scheme, False, index), (scheme, keys)
            assert code_of(lambda: Webhook(NEVER_ISSUED).verify(during.body, h)) == \
                "no_matching_signature"

        # Once dual signing stops, the new secret alone signs.
        time.sleep(max(0.0, signed.stops_at - time.time()) + 0.5)
        publish(org, conversation_event(org.org_id))
        after = rx.wait_for(2, timeout=20)[1]
    for h in (headers_of(after), amigo_only(headers_of(after))):
        assert verified(new, after.body, h)[2] == 0
        assert code_of(lambda: Webhook(old).verify(after.body, h)) == "no_matching_signature"


def test_each_failed_check_of_a_received_webhook_has_its_code(org):
    with Receiver() as rx:
        dest, secret = org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        publish(org, resource_event(org.org_id))
        [req] = rx.wait_for(1, timeout=20)
    headers, body = headers_of(req), req.body
    wh = Webhook(secret)
    assert wh.verify(body, headers)["org_id"] == org.org_id
    flipped = bytearray(body)
    flipped[len(flipped) // 2] ^= 1
    no_id = {k: v for k, v in headers.items() if k != "webhook-id"}
    amigo_no_sig = {k: v for k, v in amigo_only(headers).items() if k != "x-amigo-request-signature"}
    cases = [
        (lambda: wh.verify(body, no_id), "missing_header"),
        (lambda: wh.verify(body, amigo_no_sig), "missing_header"),
        (lambda: wh.verify(body, {}), "missing_header"),
        (lambda: wh.verify(body, {**headers, "webhook-timestamp": "12:00"}), "malformed_timestamp"),
        (lambda: wh.verify(body, {**amigo_only(headers), "x-amigo-request-timestamp": "x"}),
         "malformed_timestamp"),
        (lambda: wh.verify(body, {**headers, "webhook-timestamp": str(int(time.time()) + 3600)}),
         "timestamp_too_new"),
        (lambda: wh.verify(bytes(flipped), headers), "no_matching_signature"),
        (lambda: wh.verify(bytes(flipped), amigo_only(headers)), "no_matching_signature"),
        (lambda: Webhook(NEVER_ISSUED).verify(body, headers), "no_matching_signature"),
        (lambda: Webhook(secret[:-2]).verify(body, headers), "malformed_secret"),
    ]
    for fn, code in cases:
        assert code_of(fn) == code
    with pytest.raises(WebhookVerificationError) as missing:
        wh.verify(body, no_id)
    assert missing.value.header == "webhook-id"
    # The webhook's own timestamp, aged past a tolerance of 0 s, in both schemes.
    time.sleep(max(0.0, int(headers["webhook-timestamp"]) + 2 - time.time()))
    strict = Webhook(secret, tolerance_seconds=0)
    assert code_of(lambda: strict.verify(body, headers)) == "timestamp_too_old"
    assert code_of(lambda: strict.verify(body, amigo_only(headers))) == "timestamp_too_old"
