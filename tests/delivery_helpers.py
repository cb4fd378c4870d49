"""Helpers shared by the delivery tests: a Worker tuned for delivery (short
retry schedule, no rate limits so tests can poll), publishing events, reading
delivery records, waiting for a delivery's state, and the one verification
helper every test uses on what a receiver got: each webhook must verify with
Amigo's official Python SDK, with the `standardwebhooks` library and with
edgehook's own SDK (the npm package in pkg/, run by Node).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from datetime import datetime

import httpx
import pytest
from amigo_sdk.webhooks import (ConversationPostProcessingCompleteEvent,
                                WebhookVerificationError as AmigoVerificationError,
                                parse_webhook_event, verify_signature)
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError as StandardVerificationError

from harness import REPO_ROOT, Worker, build_worker, new_tenant, tool_env
from receiver import ReceivedRequest

# Retries after 1 s each (5 of them at most); rate limits off so tests can poll
# the delivery records as often as they need; dual signing short enough to see
# it stop. (The retention test starts a Worker of its own with a short one.)
DUAL_SIGNING_SECONDS = 4
ENGINE_VARS = {
    "EDGEHOOK_RETRY_SCHEDULE_SECONDS": "1,1,1,1,1",
    "EDGEHOOK_DUAL_SIGNING_SECONDS": str(DUAL_SIGNING_SECONDS),
    "EDGEHOOK_RATE_LIMIT_PER_MINUTE": "0",
    "EDGEHOOK_RATE_LIMIT_SLOW_PER_MINUTE": "0",
}

CONVERSATION = "conversation-post-processing-complete"
KEY_EXPIRY = "api-key-expiration-soon"
RESOURCE = "agent-framework-resource-updated"

SDK_ENTRY = REPO_ROOT / "pkg" / "dist" / "index.mjs"
# The npm package's `@edgehook/sdk/ed25519` entry: the same API, and `whpk_` public keys too.
SDK_ED25519_ENTRY = REPO_ROOT / "pkg" / "dist" / "ed25519.mjs"
SDK_VERIFY_SCRIPT = REPO_ROOT / "tests" / "delivery_verify.mjs"


def start_engine(extra_vars: dict[str, str] | None = None) -> Worker:
    """Builds (if needed) and starts a Worker with ENGINE_VARS plus `extra_vars`."""
    build_worker()
    return Worker(vars={**ENGINE_VARS, **(extra_vars or {})}).start()


_shared_engine: Worker | None = None


def _stop_shared_engine() -> None:
    if _shared_engine is not None:
        _shared_engine.cleanup()


def shared_engine() -> Worker:
    """The Worker the delivery tests share (started once per session, since a
    start under wrangler dev takes a while): short retry schedule, no rate limits."""
    global _shared_engine
    if _shared_engine is None or not _shared_engine.running:
        if _shared_engine is not None:
            _shared_engine.cleanup()
        _shared_engine = start_engine()
        atexit.register(_stop_shared_engine)
    return _shared_engine


@pytest.fixture
def engine():
    """The shared delivery Worker (see `shared_engine`)."""
    return shared_engine()


@pytest.fixture
def org(engine):
    """A fresh organization on `engine` with a signed-in user holding every permission."""
    t = new_tenant(engine)
    yield t
    t.close()


# --- events ---------------------------------------------------------------------------------

def conversation_event(org_id: str, conversation_id: str | None = None) -> dict:
    """A `conversation-post-processing-complete` event exactly as Amigo's SDK parses it."""
    return {
        "type": CONVERSATION,
        "post_processing_type": "extract-memories",
        "conversation_id": conversation_id or os.urandom(12).hex(),
        "org_id": org_id,
    }


def resource_event(org_id: str, resource_id: str | None = None) -> dict:
    return {
        "type": RESOURCE,
        "org_id": org_id,
        "resource_type": "agent",
        "resource_id": resource_id or os.urandom(12).hex(),
        "updated_at": "2026-01-02T03:04:05Z",
    }


def key_expiry_event(org_id: str) -> dict:
    return {
        "type": KEY_EXPIRY,
        "org_id": org_id,
        "api_key_id": os.urandom(12).hex(),
        "user_id": os.urandom(12).hex(),
        "expires_at": "2026-01-02T03:04:05Z",
    }


def event_path(org_id: str) -> str:
    return f"/v1/{org_id}/webhook_event/"


def publish_raw(tenant, body: bytes | dict, idempotency_key: str | None = None) -> httpx.Response:
    """POST /v1/{org}/webhook_event/ with `body` (bytes sent as they are)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return tenant.client.post(event_path(tenant.org_id), content=content, headers=headers)


def publish(tenant, body: bytes | dict, idempotency_key: str | None = None) -> dict:
    """Publishes (202 asserted) and returns {event_id, delivery_ids}.

    Like a producer that keeps to the organization's publish quota, it waits
    out a 429's `Retry-After` (a few times at most): a test that publishes
    thousands in a row must not depend on how fast the machine is."""
    for _ in range(5):
        r = publish_raw(tenant, body, idempotency_key)
        if r.status_code != 429 or "Retry-After" not in r.headers:
            break
        time.sleep(int(r.headers["Retry-After"]))
    assert r.status_code == 202, (r.status_code, r.text)
    answer = r.json()
    assert set(answer) == {"event_id", "delivery_ids"}, answer
    return answer


# --- delivery records -----------------------------------------------------------------------

def deliveries_path(tenant, destination_id: str, suffix: str = "") -> str:
    return tenant.destination_path(destination_id, "/delivery" + suffix)


def get_delivery(tenant, destination_id: str, delivery_id: str) -> dict:
    r = tenant.client.get(deliveries_path(tenant, destination_id, "/" + delivery_id))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def list_deliveries(tenant, destination_id: str, **params) -> dict:
    r = tenant.client.get(deliveries_path(tenant, destination_id), params=params)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def wait_for_state(tenant, destination_id: str, delivery_id: str, states: set[str] | str,
                   timeout: float, poll: float = 0.25) -> dict:
    """Polls one delivery until its `state` is in `states`; fails with the last
    record after `timeout` seconds."""
    states = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    while True:
        d = get_delivery(tenant, destination_id, delivery_id)
        if d["state"] in states:
            return d
        if time.monotonic() > deadline:
            raise AssertionError(
                f"delivery {delivery_id} still {d['state']!r} after {timeout} s "
                f"(wanted {sorted(states)}): {d}")
        time.sleep(poll)


def parse_time(value: str) -> float:
    """An RFC 3339 date-time as Unix seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- verification ---------------------------------------------------------------------------

@dataclass
class Verified:
    """What the three verifiers made of one webhook."""

    amigo_event: object
    standard_event: dict
    sdk_event: dict


def _ensure_sdk_built() -> None:
    if SDK_ENTRY.exists():
        return
    r = subprocess.run(["bash", "scripts/build-sdk.sh"], cwd=REPO_ROOT, env=tool_env(),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"building the SDK package failed: {r.stdout}{r.stderr}"


def sdk_verify(cases: list[tuple[bytes, dict[str, str], list[str]]],
               entry: Path = SDK_ENTRY) -> list[dict]:
    """Runs edgehook's own SDK (Node), from its default `entry` or another
    (SDK_ED25519_ENTRY), on (body, headers, secrets or public keys) cases; one
    result {ok, event | code, message} per case."""
    _ensure_sdk_built()
    payload = {
        "pkg": str(entry),
        "cases": [{"body_b64": base64.b64encode(body).decode(), "headers": headers,
                   "secrets": secrets} for body, headers, secrets in cases],
    }
    r = subprocess.run([str(REPO_ROOT / "node_modules" / ".bin" / "node"), str(SDK_VERIFY_SCRIPT)],
                       input=json.dumps(payload).encode(), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    results = json.loads(r.stdout)
    assert len(results) == len(cases)
    return results


def headers_of(req: ReceivedRequest) -> dict[str, str]:
    return {k.lower(): v for k, v in req.headers}


def amigo_signatures(req: ReceivedRequest) -> list[str]:
    return req.header("x-amigo-request-signature").split(",")


def standard_signatures(req: ReceivedRequest) -> list[str]:
    return req.header("webhook-signature").split(" ")


def verify_webhooks(reqs: list[ReceivedRequest], secret: str) -> list[Verified]:
    """Checks that every request verifies with `secret` through Amigo's Python
    SDK, `standardwebhooks` and edgehook's own SDK (both of its header sets),
    and carries the headers every attempt must carry. Returns the parsed events."""
    out = []
    sdk_cases = []
    for req in reqs:
        check_common_headers(req)
        body = req.body
        # Amigo's SDK: outside dual signing the header holds one signature.
        sig = req.header("x-amigo-request-signature")
        ts = req.header("x-amigo-request-timestamp")
        event = json.loads(body)
        if event.get("type") == CONVERSATION:
            amigo_event = parse_webhook_event(body, sig, ts, secret)
            assert isinstance(amigo_event, ConversationPostProcessingCompleteEvent)
        else:
            # Amigo's SDK parses only its own event type; its signature check covers every body.
            verify_signature(body.decode(), ts, sig, secret)
            amigo_event = event
        standard_event = StandardWebhook(secret).verify(body, headers_of(req))
        out.append(Verified(amigo_event, standard_event, {}))
        hdrs = headers_of(req)
        amigo_only = {k: v for k, v in hdrs.items() if not k.startswith("webhook-")}
        sdk_cases += [(body, hdrs, [secret]), (body, amigo_only, [secret])]
    for i, res in enumerate(sdk_verify(sdk_cases)):
        assert res["ok"], f"edgehook SDK rejected webhook {i // 2} ({'amigo headers' if i % 2 else 'standard headers'}): {res}"
        if i % 2 == 0:
            out[i // 2].sdk_event = res["event"]
    for v, req in zip(out, reqs):
        assert v.standard_event == json.loads(req.body)
        assert v.sdk_event == json.loads(req.body)
    return out


def rejects_everywhere(req: ReceivedRequest, secret: str) -> None:
    """Asserts that `secret` verifies `req` with none of the three verifiers."""
    body = req.body
    for sig in amigo_signatures(req):
        with pytest.raises(AmigoVerificationError):
            verify_signature(body.decode(), req.header("x-amigo-request-timestamp"), sig, secret)
    with pytest.raises(StandardVerificationError):
        StandardWebhook(secret).verify(body, headers_of(req))
    hdrs = headers_of(req)
    amigo_only = {k: v for k, v in hdrs.items() if not k.startswith("webhook-")}
    for res in sdk_verify([(body, hdrs, [secret]), (body, amigo_only, [secret])]):
        assert not res["ok"] and res["code"] == "no_matching_signature", res


def check_common_headers(req: ReceivedRequest, asymmetric: bool = False) -> None:
    """The headers of every attempt (DESIGN.md §2), consistent with each other;
    `asymmetric`: of a destination that signs with ed25519 (`v1a` entries)."""
    assert req.method == "POST"
    assert req.header("content-type").split(";")[0].strip() == "application/json"
    ua = req.header("user-agent") or ""
    assert ua.startswith("edgehook/"), ua
    assert len(ua.split()[0]) > len("edgehook/"), ua
    delivery_id = req.header("x-amigo-idempotent-key")
    assert delivery_id and req.header("webhook-id") == delivery_id
    ms = int(req.header("x-amigo-request-timestamp"))
    s = int(req.header("webhook-timestamp"))
    assert ms // 1000 == s, (ms, s)
    assert abs(ms / 1000 - req.received_at) < 10, (ms, req.received_at)
    for sig in amigo_signatures(req):
        assert len(sig) == 64 and sig == sig.lower() and int(sig, 16) >= 0, sig
    version, size = ("v1a", 64) if asymmetric else ("v1", 32)
    for sig in standard_signatures(req):
        tag, _, signature = sig.partition(",")
        assert tag == version and len(base64.b64decode(signature)) == size, sig
