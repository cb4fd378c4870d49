"""End-to-end tests of which destination URLs the Worker accepts: HTTPS to a
public host only; `localhost` and IP literals of private, loopback,
link-local, CGNAT and metadata ranges (IPv4 and IPv6) answer 422; the
local-only setting EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS admits
http://127.0.0.1:PORT receivers and nothing else.
"""

from __future__ import annotations

import pytest

from harness import Worker, destination_body, new_tenant

REFUSED = [
    # scheme
    "http://hooks.example.com/webhook",
    "ftp://hooks.example.com/webhook",
    "ws://hooks.example.com/webhook",
    "hooks.example.com/webhook",
    "",
    # localhost by name
    "https://localhost/webhook",
    "https://LOCALHOST:8443/webhook",
    "https://localhost./webhook",
    "https://api.localhost/webhook",
    # IPv4 private, loopback, link-local/metadata, CGNAT, unspecified
    "https://10.0.0.1/webhook",
    "https://10.255.255.254/webhook",
    "https://172.16.0.1/webhook",
    "https://172.31.255.254/webhook",
    "https://192.168.0.1/webhook",
    "https://192.168.255.254:8443/webhook",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.0.1/webhook",
    "https://100.64.0.1/webhook",
    "https://100.127.255.254/webhook",
    "https://0.0.0.0/webhook",
    # other spellings of private addresses (URL parsers normalize them)
    "https://167772161/webhook",  # 10.0.0.1
    "https://0xa.0.0.1/webhook",
    "https://012.0.0.1/webhook",
    "https://10.1/webhook",
    "https://0xc0a80001/webhook",  # 192.168.0.1
    # IPv6 loopback, link-local, unique-local, mapped IPv4, unspecified
    "https://[fe80::1]/webhook",
    "https://[fc00::1]/webhook",
    "https://[fd00:ec2::254]/webhook",
    "https://[::ffff:10.0.0.1]/webhook",
    "https://[::ffff:169.254.169.254]/webhook",
    "https://[::]/webhook",
    # credentials in the URL
    "https://user:pass@hooks.example.com/webhook",
]

ACCEPTED = [
    "https://hooks.example.com/webhook",
    "https://hooks.example.com:8443/path?x=1",
    "https://8.8.8.8/webhook",
    "https://172.32.0.1/webhook",  # just above 172.16/12
    "https://172.15.255.254/webhook",  # just below it
    "https://100.128.0.1/webhook",  # just above 100.64/10
    "https://192.169.0.1/webhook",
    "https://169.253.255.254/webhook",
    "https://[2606:4700:4700::1111]/webhook",
]


@pytest.fixture
def fresh_tenant(worker):
    t = new_tenant(worker)
    yield t
    t.close()


@pytest.mark.parametrize("url", REFUSED)
def test_unsafe_destination_url_is_422(fresh_tenant, url):
    r = fresh_tenant.client.post(fresh_tenant.destinations_path, json=destination_body(url=url))
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert ["body", "url"] in [e["loc"] for e in r.json()["detail"]]
    assert fresh_tenant.list_destinations() == []


@pytest.mark.parametrize("url", ACCEPTED)
def test_public_https_destination_url_is_accepted(fresh_tenant, url):
    did, _ = fresh_tenant.create_destination(url=url)
    stored = fresh_tenant.client.get(fresh_tenant.destination_path(did)).json()["url"]
    assert stored.rstrip("/") == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}/webhook", "http://127.0.0.1:{port}"])
def test_loopback_receiver_is_allowed_when_the_setting_is_on(tenant, receiver, url):
    url = url.format(port=receiver.port)
    did, _ = tenant.create_destination(url=url)
    assert tenant.client.get(tenant.destination_path(did)).json()["url"].rstrip("/") == url


@pytest.mark.parametrize("url", ["http://10.0.0.1:9000/webhook", "http://localhost:9000/webhook",
                                 "http://192.168.1.1:9000/webhook"])
def test_the_loopback_setting_admits_nothing_but_loopback(tenant, url):
    r = tenant.client.post(tenant.destinations_path, json=destination_body(url=url))
    assert r.status_code == 422, (url, r.text)


# Loopback addresses: the session Worker admits them (the setting is on), so
# they are checked against a Worker with the setting at its default, false.
LOOPBACK = [
    "http://127.0.0.1:{port}/webhook",
    "https://127.0.0.1/webhook",
    "https://127.1.2.3/webhook",
    "https://2130706433/webhook",  # 127.0.0.1
    "https://0x7f.0.0.1/webhook",
    "https://0177.0.0.1/webhook",
    "https://127.1/webhook",
    "https://[::1]/webhook",
    "http://[::1]:{port}/webhook",
    "https://[::ffff:127.0.0.1]/webhook",
    "https://[0:0:0:0:0:0:0:1]/webhook",
]


@pytest.fixture(scope="module")
def strict_tenant():
    """A tenant of a Worker started with the production default
    EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS=false."""
    with Worker(vars={"EDGEHOOK_ALLOW_LOOPBACK_DESTINATIONS": "false"}) as w:
        t = new_tenant(w, org_id="strict-urls")
        yield t
        t.close()


@pytest.mark.parametrize("url", LOOPBACK)
def test_loopback_url_is_refused_when_the_setting_is_off(strict_tenant, receiver, url):
    t = strict_tenant
    url = url.format(port=receiver.port)
    r = t.client.post(t.destinations_path, json=destination_body(url=url))
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert ["body", "url"] in [e["loc"] for e in r.json()["detail"]]


def test_public_url_is_accepted_when_the_setting_is_off(strict_tenant):
    did, _ = strict_tenant.create_destination(url="https://hooks.example.com/strict")
    strict_tenant.client.delete(strict_tenant.destination_path(did))
