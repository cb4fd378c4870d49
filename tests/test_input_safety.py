"""End-to-end tests of the input checks that keep callers from aiming edgehook
inside a network or from publishing an event that receivers read differently
(issue 9, items 3, 4 and 9):

- destination host names that resolve only inside a network (single-label
  names, `.internal`, `.local`, `.home.arpa`, ...) answer 422 at create;
- IPv6 literals that embed a private IPv4 address (6to4, IPv4-translated,
  NAT64) or lie outside global unicast (site-local, Teredo, documentation)
  answer 422, while public ones are accepted;
- the local-only loopback setting still admits `http://127.0.0.1:PORT`
  receivers, and webhooks reach them;
- a published event that repeats a member name in one object, at any depth,
  answers 422 naming it, and nothing is delivered.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

import pytest

from delivery_helpers import (CONVERSATION, KEY_EXPIRY, RESOURCE, engine, org,  # noqa: F401
                              publish, publish_raw)
from harness import destination_body
from receiver import Receiver

INTERNAL_NAMES = [
    # the names the review saw accepted (the Worker then connected to 127.0.0.1)
    "https://vm:8891/webhook",
    "https://runsc/webhook",
    "https://localhost.localdomain/webhook",
    "https://instance-data/webhook",
    "https://foo.internal/webhook",
    # every reserved suffix, in any case, with or without the root's trailing dot
    "https://printer.local/webhook",
    "https://app.localhost:8443/webhook",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://wiki.intranet/webhook",
    "https://nas.lan/webhook",
    "https://router.home.arpa/webhook",
    "https://git.corp/webhook",
    "https://hooks.test/webhook",
    "https://hooks.invalid/webhook",
    "https://expyuzz4wqqyqhjn.onion/webhook",
    "https://Build.Internal./webhook",
    "https://VM./webhook",
    # a name made of numbers with an empty label is not an address, nor a host name
    "https://127.0.0.1../webhook",
]

PRIVATE_IPV6 = [
    # the forms the review saw accepted
    "https://[2002:7f00:1::]/webhook",  # 6to4 of 127.0.0.1
    "https://[2002:a9fe:a9fe::]/webhook",  # 6to4 of 169.254.169.254
    "https://[::ffff:0:7f00:1]/webhook",  # IPv4-translated 127.0.0.1
    "https://[fec0::1]/webhook",  # site-local
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/webhook",  # Teredo
    # the other rules of item 4
    "https://[::ffff:0:10.0.0.1]/webhook",  # IPv4-translated, dotted
    "https://[64:ff9b::a9fe:a9fe]/webhook",  # NAT64 of the metadata address
    "https://[64:FF9B::192.168.0.1]/webhook",
    "https://[64:ff9b:1::a00:1]/webhook",  # local-use NAT64 of 10.0.0.1
    "https://[100::1]/webhook",  # discard
    "https://[2001:db8::1]/webhook",  # documentation
    "https://[::8.8.8.8]/webhook",  # IPv4-compatible, deprecated
    "https://[4000::1]/webhook",  # outside 2000::/3
    "https://[0000:0000:0000:0000:0000:FFFF:7F00:0001]/webhook",
]

PUBLIC_IPV6 = [
    "https://[2606:4700:4700::1111]/webhook",
    "https://[2002:808:808::1]/webhook",  # 6to4 of 8.8.8.8
    "https://[64:ff9b::808:808]/webhook",  # NAT64 of 8.8.8.8
    "https://[::ffff:8.8.8.8]/webhook",
]


def assert_url_refused(tenant, url: str) -> None:
    r = tenant.client.post(tenant.destinations_path, json=destination_body(url=url))
    assert r.status_code == 422, (url, r.status_code, r.text)
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "url"], r.text
    assert error["type"] == "url_host", r.text
    assert tenant.list_destinations() == []


@pytest.mark.parametrize("url", INTERNAL_NAMES)
def test_internal_host_name_is_422(org, url):
    assert_url_refused(org, url)


@pytest.mark.parametrize("url", PRIVATE_IPV6)
def test_ipv6_literal_of_a_private_address_is_422(org, url):
    assert_url_refused(org, url)


@pytest.mark.parametrize("url", PUBLIC_IPV6)
def test_public_ipv6_literal_is_accepted(org, url):
    did, _ = org.create_destination(url=url)
    stored = urlsplit(org.client.get(org.destination_path(did)).json()["url"])
    sent = urlsplit(url)
    assert ipaddress.ip_address(stored.hostname) == ipaddress.ip_address(sent.hostname)
    assert stored.path == sent.path


def test_the_refusal_names_the_host_and_why(org):
    r = org.client.post(org.destinations_path, json=destination_body(url="https://vm:8891/"))
    assert r.status_code == 422, r.text
    assert "single-label" in r.json()["detail"][0]["msg"], r.text
    r = org.client.post(org.destinations_path, json=destination_body(url="https://foo.internal/"))
    assert r.status_code == 422, r.text
    assert ".internal" in r.json()["detail"][0]["msg"], r.text
    r = org.client.post(org.destinations_path,
                        json=destination_body(url="https://[2002:7f00:1::]/"))
    assert r.status_code == 422, r.text
    assert "loopback" in r.json()["detail"][0]["msg"], r.text


def test_loopback_receivers_still_work_in_local_runs(org):
    """The local-only setting (on for the test Worker) admits an
    http://127.0.0.1:PORT receiver, and the webhook arrives there."""
    with Receiver() as rx:
        url = f"http://127.0.0.1:{rx.port}/webhook"
        did, _ = org.create_destination(url=url, accepted_types=[KEY_EXPIRY])
        assert org.client.get(org.destination_path(did)).json()["url"] == url
        event = {"type": KEY_EXPIRY, "org_id": org.org_id}
        answer = publish(org, event)
        [req] = rx.wait_for(1, timeout=20)
        assert req.header("webhook-id") == answer["delivery_ids"][0]
        assert json.loads(req.body) == event


AMBIGUOUS_EVENTS = [
    # the review's body: which type is it?
    (b'{"type":"x","type":"agent-framework-resource-updated"}', ["body", "type"]),
    (b'{"type":"agent-framework-resource-updated","type":"conversation-post-processing-complete"}',
     ["body", "type"]),
    # nested, in an object inside an array
    (b'{"type":"agent-framework-resource-updated","resource":{"tags":[{"id":1},'
     b'{"id":2,"name":"a","id":3}]}}',
     ["body", "resource", "tags", "1", "id"]),
    # the same name spelled with an escape is the same name
    (b'{"type":"agent-framework-resource-updated","org_id":"a","org_\\u0069d":"b"}',
     ["body", "org_id"]),
]


@pytest.mark.parametrize("body,loc", AMBIGUOUS_EVENTS)
def test_event_with_a_repeated_member_name_is_422_and_not_delivered(org, body, loc):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[CONVERSATION, RESOURCE, KEY_EXPIRY])
        r = publish_raw(org, body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == loc, r.text
        assert error["type"] == "duplicate_member", r.text
        assert f'"{loc[-1]}"' in error["msg"], r.text
        rx.assert_quiet(1.5, 0)


def test_the_same_name_in_different_objects_is_delivered_as_sent(org):
    with Receiver() as rx:
        org.create_destination(url=rx.url, accepted_types=[RESOURCE])
        body = (b'{"type":"agent-framework-resource-updated","id":"r1",'
                b'"parent":{"id":"p1","type":"folder"},"children":[{"id":"c1"},{"id":"c2"}]}')
        answer = publish(org, body)
        [req] = rx.wait_for(1, timeout=20)
        assert req.body == body
        assert req.header("webhook-id") == answer["delivery_ids"][0]
        rx.assert_quiet(1, 1)
