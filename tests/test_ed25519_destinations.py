"""End-to-end tests of destinations that sign with ed25519 (`"signing": "ed25519"`): their real
deliveries carry Standard Webhooks' asymmetric `v1a` signatures that verify with the destination's
`whpk_` public key in edgehook-verify, in the npm package's `@edgehook/sdk/ed25519` entry and in
`cryptography` (independently of edgehook's code), while Amigo's header set stays HMAC with the
secret; the public key is in the create answer and every read, the signing key in no answer and
no log; rotation dual-signs with both key pairs, then with the new one alone; anything but
"hmac" or "ed25519" is a 422; HMAC destinations send no `v1a`; operational destinations sign the
same way.
"""

from __future__ import annotations

import base64
import json
import re
import time

import httpx
import pytest
from amigo_sdk.webhooks import parse_webhook_event, verify_signature
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardVerificationError

from delivery_helpers import (CONVERSATION, SDK_ED25519_ENTRY, amigo_signatures,  # noqa: F401
                              check_common_headers, conversation_event, engine, headers_of, org,
                              parse_time, publish, sdk_verify, wait_for_state)
from edgehook_verify import Webhook
from harness import destination_body
from receiver import ReceivedRequest, Receiver
from schema import assert_valid
from verify_helpers import amigo_only, code_of

OPERATIONAL = "/v1/{org}/operational_destination/"


def raw_key(public_key: str) -> bytes:
    """The 32 bytes of a `whpk_` key, checking its form on the way."""
    assert public_key.startswith("whpk_"), public_key
    raw = base64.b64decode(public_key.removeprefix("whpk_"), validate=True)
    assert len(raw) == 32, public_key
    return raw


def v1a_signatures(req: ReceivedRequest) -> list[bytes]:
    """The signatures of `webhook-signature`, asserting each is a `v1a` entry of 64 bytes."""
    out = []
    for entry in req.header("webhook-signature").split(" "):
        version, _, signature = entry.partition(",")
        assert version == "v1a", entry
        out.append(base64.b64decode(signature, validate=True))
        assert len(out[-1]) == 64, entry
    return out


def signs(public_key: str, req: ReceivedRequest, signature: bytes) -> bool:
    """Whether `signature` is ed25519 over `{id}.{timestamp}.{body}` by `public_key`, checked by
    `cryptography` alone."""
    message = f"{req.header('webhook-id')}.{req.header('webhook-timestamp')}.".encode() + req.body
    try:
        Ed25519PublicKey.from_public_bytes(raw_key(public_key)).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def create_ed25519(org, path: str | None = None, **fields) -> dict:
    """Creates a destination that signs with ed25519 (201 asserted); its create answer."""
    r = org.client.post(path or org.destinations_path,
                        json=destination_body(signing="ed25519", **fields))
    assert r.status_code == 201, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"webhook_destination_id", "secret", "public_key"}, body
    raw_key(body["public_key"])
    assert body["secret"].startswith("whsec_")
    return body


def other_public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


@pytest.fixture
def served(engine) -> dict:
    r = httpx.get(engine.url + "/openapi.json", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_ed25519_destination_sends_v1a_that_its_public_key_verifies(org, served):
    with Receiver() as rx:
        created = create_ed25519(org, url=rx.url, accepted_types=[CONVERSATION])
        dest, secret, public_key = (created["webhook_destination_id"], created["secret"],
                                    created["public_key"])
        assert_valid(served, "src__app__endpoints__webhook_destination__create_webhook_destination__Response",
                     created)
        # Readable at any time, in the one read and the list.
        one = org.client.get(org.destination_path(dest)).json()
        assert (one["signing"], one["public_key"]) == ("ed25519", public_key)
        assert_valid(served, "WebhookDestination", one)
        [listed] = org.list_destinations()
        assert listed == one

        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        [req] = rx.wait_for(1, timeout=20)
    check_common_headers(req, asymmetric=True)
    headers, body = headers_of(req), req.body
    [signature] = v1a_signatures(req)
    assert signs(public_key, req, signature)
    assert not signs(other_public_key(), req, signature)

    # edgehook-verify with the public key: the Standard Webhooks scheme, asymmetric.
    event = Webhook(public_key).verify(body, headers)
    assert event == json.loads(body)
    assert (event.scheme, event.asymmetric, event.key_index, event.webhook_id) == \
        ("standard", True, 0, delivery_id)
    assert code_of(lambda: Webhook(other_public_key()).verify(body, headers)) == \
        "no_matching_signature"
    tampered = body.replace(org.org_id.encode(), b"x" * len(org.org_id))
    assert code_of(lambda: Webhook(public_key).verify(tampered, headers)) == "no_matching_signature"

    # The npm package's ed25519 entry, with the public key.
    ok, wrong_key, tampered_res = sdk_verify(
        [(body, headers, [public_key]), (body, headers, [other_public_key()]),
         (tampered, headers, [public_key])], entry=SDK_ED25519_ENTRY)
    assert ok["ok"] and ok["event"] == json.loads(body), ok
    assert (wrong_key["ok"], wrong_key["code"]) == (False, "no_matching_signature"), wrong_key
    assert (tampered_res["ok"], tampered_res["code"]) == (False, "no_matching_signature")

    # standardwebhooks (PyPI, 1.1.0) verifies only `v1` entries: it skips every other version, so
    # it cannot check a `v1a` signature and that check is left out. What it does show: the
    # Standard Webhooks header set carries no HMAC signature that the secret would verify.
    with pytest.raises(StandardVerificationError):
        StandardWebhook(secret).verify(body, headers)

    # Amigo's header set: HMAC with the destination's secret, exactly as for any destination.
    ts, [amigo_sig] = req.header("x-amigo-request-timestamp"), amigo_signatures(req)
    verify_signature(body.decode(), ts, amigo_sig, secret)
    assert parse_webhook_event(body, amigo_sig, ts, secret).org_id == org.org_id
    event = Webhook(secret).verify(body, amigo_only(headers))
    assert (event.scheme, event.asymmetric, event.webhook_id) == ("amigo", False, None)
    [npm_amigo] = sdk_verify([(body, amigo_only(headers), [secret])])
    assert npm_amigo["ok"], npm_amigo
    # The public key verifies none of Amigo's set, and the secret none of the v1a one.
    assert code_of(lambda: Webhook(public_key).verify(body, amigo_only(headers))) == \
        "no_matching_signature"
    assert code_of(lambda: Webhook(secret).verify(body, {k: v for k, v in headers.items()
                                                         if not k.startswith("x-amigo-")})) == \
        "no_matching_signature"
    assert wait_for_state(org, dest, delivery_id, "success", 10)["dual_signed"] is False


def test_an_hmac_destination_sends_no_v1a_and_has_no_public_key(org):
    with Receiver() as rx:
        r = org.client.post(org.destinations_path, json=destination_body(url=rx.url))
        assert r.status_code == 201, r.text
        assert set(r.json()) == {"webhook_destination_id", "secret"}
        default = r.json()["webhook_destination_id"], r.json()["secret"]
        explicit = org.create_destination(url=rx.url, signing="hmac")
        for dest, _ in (default, explicit):
            one = org.client.get(org.destination_path(dest)).json()
            assert (one["signing"], one["public_key"]) == ("hmac", None)
        publish(org, conversation_event(org.org_id))
        received = rx.wait_for(2, timeout=20)
    verified_by = []
    for req in received:
        check_common_headers(req)
        assert "v1a" not in req.header("webhook-signature")
        for dest, secret in (default, explicit):
            if code_of(lambda: Webhook(secret).verify(req.body, headers_of(req))) == "passed":
                event = Webhook(secret).verify(req.body, headers_of(req))
                assert (event.scheme, event.asymmetric) == ("standard", False)
                verified_by.append(dest)
    assert sorted(verified_by) == sorted([default[0], explicit[0]])


@pytest.mark.parametrize("signing", ["rsa", "ED25519", "v1a", "", None, 1, ["ed25519"]])
def test_signing_other_than_hmac_or_ed25519_is_422(org, signing):
    r = org.client.post(org.destinations_path, json=destination_body(signing=signing))
    assert r.status_code == 422, (r.status_code, r.text)
    [entry] = r.json()["detail"]
    assert entry["loc"] == ["body", "signing"], entry
    assert entry["msg"] == "Input should be 'hmac' or 'ed25519'" and entry["type"] == "enum"
    assert org.list_destinations() == []


def test_signing_never_changes_after_create(org):
    created = create_ed25519(org)
    dest = created["webhook_destination_id"]
    for signing in ("hmac", "ed25519"):
        r = org.client.post(org.destination_path(dest), json={"signing": signing})
        assert r.status_code == 422, (r.status_code, r.text)
        assert [e["loc"] for e in r.json()["detail"]] == [["body", "signing"]]
    one = org.client.get(org.destination_path(dest)).json()
    assert (one["signing"], one["public_key"]) == ("ed25519", created["public_key"])


def test_rotation_dual_signs_with_both_key_pairs_then_only_the_new(org, served):
    with Receiver() as rx:
        created = create_ed25519(org, url=rx.url, accepted_types=[CONVERSATION])
        dest, old_secret, old_key = (created["webhook_destination_id"], created["secret"],
                                     created["public_key"])
        r = org.client.post(org.destination_path(dest, "/rotate-secret"))
        assert r.status_code == 200, r.text
        rotated = r.json()
        assert set(rotated) == {"secret", "dual_signing_stops_at", "public_key"}, rotated
        assert_valid(served, "src__app__endpoints__webhook_destination__rotate_webhook_destination_secret__Response",
                     rotated)
        new_secret, new_key = rotated["secret"], rotated["public_key"]
        assert new_key != old_key and new_secret != old_secret
        raw_key(new_key)
        stops_at = parse_time(rotated["dual_signing_stops_at"])
        assert org.client.get(org.destination_path(dest)).json()["public_key"] == new_key
        assert org.list_destinations()[0]["public_key"] == new_key

        [during_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        [during] = rx.wait_for(1, timeout=20)
        assert time.time() < stops_at, "the webhook came after dual signing stopped; cannot test it"

        # Both key pairs sign, the new one first: `v1a,<new> v1a,<old>`.
        new_sig, old_sig = v1a_signatures(during)
        assert signs(new_key, during, new_sig) and signs(old_key, during, old_sig)
        assert not signs(old_key, during, new_sig)
        headers, body = headers_of(during), during.body
        for keys, index in [(old_key, 0), (new_key, 0), ([new_key, old_key], 0),
                            ([other_public_key(), old_key], 1)]:
            event = Webhook(keys).verify(body, headers)
            assert (event.scheme, event.asymmetric, event.key_index) == ("standard", True, index)
        results = sdk_verify([(body, headers, [old_key]), (body, headers, [new_key])],
                             entry=SDK_ED25519_ENTRY)
        assert all(res["ok"] for res in results), results
        # Amigo's set is dual-signed with the two secrets, as for any destination.
        for secret in (old_secret, new_secret):
            assert Webhook(secret).verify(body, amigo_only(headers)).scheme == "amigo"
        assert wait_for_state(org, dest, during_id, "success", 10)["dual_signed"] is True

        # After dual signing stops: the new key pair alone.
        time.sleep(max(0.0, stops_at - time.time()) + 0.5)
        [after_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        after = rx.wait_for(2, timeout=20)[1]
    [signature] = v1a_signatures(after)
    assert signs(new_key, after, signature) and not signs(old_key, after, signature)
    headers, body = headers_of(after), after.body
    assert Webhook(new_key).verify(body, headers).asymmetric is True
    assert code_of(lambda: Webhook(old_key).verify(body, headers)) == "no_matching_signature"
    new_only, old_only = sdk_verify([(body, headers, [new_key]), (body, headers, [old_key])],
                                    entry=SDK_ED25519_ENTRY)
    assert new_only["ok"], new_only
    assert (old_only["ok"], old_only["code"]) == (False, "no_matching_signature"), old_only
    assert Webhook(new_secret).verify(body, amigo_only(headers)).scheme == "amigo"
    assert code_of(lambda: Webhook(old_secret).verify(body, amigo_only(headers))) == \
        "no_matching_signature"
    assert wait_for_state(org, dest, after_id, "success", 10)["dual_signed"] is False


def test_an_operational_destination_signs_with_ed25519_too(org):
    path = OPERATIONAL.format(org=org.org_id)
    with Receiver() as rx:
        created = create_ed25519(org, path, url=rx.url, accepted_types=["destination.created"])
        ops_id, public_key = created["webhook_destination_id"], created["public_key"]
        r = org.client.get(path + ops_id)
        assert r.status_code == 200, r.text
        assert (r.json()["signing"], r.json()["public_key"]) == ("ed25519", public_key)
        [listed] = org.client.get(path).json()["webhook_destinations"]
        assert listed["public_key"] == public_key
        bad = org.client.post(path, json=destination_body(
            accepted_types=["destination.created"], signing="rsa"))
        assert bad.status_code == 422, bad.text
        # A webhook destination created now is announced to the operational one.
        announced, _ = org.create_destination()
        [req] = rx.wait_for(1, timeout=20)
    assert len(v1a_signatures(req)) == 1
    event = Webhook(public_key).verify(req.body, headers_of(req))
    assert (event["type"], event.asymmetric) == ("destination.created", True)
    assert event["destination_id"] == announced


# Any 32 bytes in base64, as a signing key's seed would be written.
SEED_LIKE = re.compile(r"[A-Za-z0-9+/]{43}=")


def public_key_of_seed(seed: bytes) -> str:
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


def assert_holds_no_signing_key(what: str, text: str, public_keys: set[str]) -> None:
    """`text` holds no `whsk_` key, and no base64 of 32 bytes that is the seed of one of the
    `public_keys` (the signing key in any base64 spelling, with or without its prefix)."""
    assert "whsk_" not in text, what
    for match in SEED_LIKE.finditer(text):
        seed = base64.b64decode(match.group(0))
        assert public_key_of_seed(seed) not in public_keys, (what, match.group(0))


def test_the_signing_key_is_in_no_answer_and_no_log(org, engine):
    answers: list[tuple[str, str]] = []

    def call(method: str, path: str, **kw) -> httpx.Response:
        r = org.client.request(method, path, **kw)
        answers.append((f"{method} {path} → {r.status_code}", r.text + "\n" + str(r.headers)))
        return r

    with Receiver() as rx:
        created = create_ed25519(org, url=rx.url, accepted_types=[CONVERSATION])
        answers.append(("create", json.dumps(created)))
        dest = created["webhook_destination_id"]
        ops = OPERATIONAL.format(org=org.org_id)
        r = call("POST", ops, json=destination_body(url=rx.url, signing="ed25519",
                                                    accepted_types=["destination.updated"]))
        assert r.status_code == 201, r.text
        ops_id = r.json()["webhook_destination_id"]
        public_keys = {created["public_key"], r.json()["public_key"]}
        [delivery_id] = publish(org, conversation_event(org.org_id))["delivery_ids"]
        rx.wait_for(1, timeout=20)
        wait_for_state(org, dest, delivery_id, "success", 10)
        r = call("POST", org.destination_path(dest, "/rotate-secret"))
        assert r.status_code == 200, r.text
        public_keys.add(r.json()["public_key"])
        r = call("POST", ops + ops_id + "/rotate-secret")
        assert r.status_code == 200, r.text
        public_keys.add(r.json()["public_key"])
        assert call("POST", org.destination_path(dest), json={"name": "renamed"}).status_code == 204
        assert call("POST", org.destination_path(dest, "/test"),
                    json={"type": CONVERSATION}).status_code == 202
        rx.wait_for(3, timeout=20)
        for method, path in [("GET", org.destinations_path), ("GET", org.destination_path(dest)),
                             ("GET", ops), ("GET", ops + ops_id),
                             ("GET", org.destination_path(dest, "/delivery")),
                             ("GET", org.destination_path(dest, f"/delivery/{delivery_id}")),
                             ("GET", org.destination_path(dest, "/stats")),
                             ("GET", ops + ops_id + "/delivery")]:
            assert call(method, path).status_code == 200, answers[-1]
        received = rx.received()
    assert len(public_keys) == 4
    for what, text in answers:
        assert_holds_no_signing_key(what, text, public_keys)
    for req in received:
        assert_holds_no_signing_key("a webhook", str(req.headers) + req.body.decode(), public_keys)
    assert_holds_no_signing_key("the wrangler log", engine.log_text(), public_keys)
    # The check is real: a signing key in a text is found.
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    with pytest.raises(AssertionError):
        assert_holds_no_signing_key("planted", json.dumps({"x": base64.b64encode(seed).decode()}),
                                    {public_key_of_seed(seed)})
