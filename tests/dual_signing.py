"""One webhook received during dual signing, for the tests of verifiers: a destination created on a
receiver, its secret rotated, one event published and received before dual signing stops."""

from __future__ import annotations

import time
from dataclasses import dataclass

from delivery_helpers import CONVERSATION, conversation_event, parse_time, publish
from receiver import ReceivedRequest, Receiver


@dataclass
class DualSigned:
    old: str
    new: str
    stops_at: float
    request: ReceivedRequest


def receive_dual_signed(org, rx: Receiver) -> DualSigned:
    """Creates a destination on `rx`, rotates its secret and returns the first webhook, asserting
    that it arrived while both secrets signed."""
    dest, old = org.create_destination(url=rx.url, accepted_types=[CONVERSATION])
    r = org.client.post(org.destination_path(dest, "/rotate-secret"))
    assert r.status_code == 200, r.text
    new, stops_at = r.json()["secret"], parse_time(r.json()["dual_signing_stops_at"])
    publish(org, conversation_event(org.org_id))
    [request] = rx.wait_for(1, timeout=20)
    assert time.time() < stops_at, "the webhook came after dual signing stopped; cannot test it"
    return DualSigned(old, new, stops_at, request)
