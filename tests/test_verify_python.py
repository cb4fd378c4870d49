"""Tests of the Python package edgehook-verify (sdk-python/), as installed from its built wheel by
scripts/build-python.sh: the shared vectors (tests/vectors.json) including Standard Webhooks' v1a,
every error code, header mappings and body types, several secrets and public keys, the README's
Flask, FastAPI and Django examples run as written, the wheel's typing (mypy against the stubs),
and the wheel installed and used by every CPython from 3.9 to 3.13 found on the machine.
Webhooks are signed here with hmac and cryptography, independently of edgehook's core. Real
deliveries from wrangler dev are in tests/test_verify_deliveries.py.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import edgehook_verify
from edgehook_verify import ERROR_CODES, VerifiedEvent, Webhook, WebhookVerificationError
from harness import REPO_ROOT
from readme import run_example

VECTORS = json.loads((REPO_ROOT / "tests" / "vectors.json").read_text())
# Vectors are from 2021 and 2022: this tolerance (about 136 years) admits their timestamps.
FOREVER = 2**32 - 1
SECRET = "whsec_" + base64.b64encode(b"edgehook-verify tests secret 32b").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of thirty-two byt").decode()


def sign_standard(secret: str, body: bytes, msg_id: str = "msg_test", ts: int | None = None) -> dict:
    ts = int(time.time()) if ts is None else ts
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": "v1," + base64.b64encode(sig).decode()}


def sign_amigo(secrets: list[str], body: bytes, ts_ms: int | None = None) -> dict:
    ts_ms = int(time.time() * 1000) if ts_ms is None else ts_ms
    sigs = [hmac.new(s.encode(), f"v1:{ts_ms}:".encode() + body, hashlib.sha256).hexdigest()
            for s in secrets]
    return {"x-amigo-request-timestamp": str(ts_ms), "x-amigo-request-signature": ",".join(sigs)}


class Ed25519Pair:
    """A key pair made by cryptography: its whpk_ form and v1a signatures."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = "whpk_" + base64.b64encode(raw).decode()

    def sign(self, body: bytes, msg_id: str = "msg_ed", ts: int | None = None) -> dict:
        ts = int(time.time()) if ts is None else ts
        sig = self.key.sign(f"{msg_id}.{ts}.".encode() + body)
        return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                "webhook-signature": "v1a," + base64.b64encode(sig).decode()}


def code_of(fn) -> str:
    try:
        fn()
    except WebhookVerificationError as e:
        assert e.code in ERROR_CODES
        return e.code
    return "passed"


BODY = json.dumps({"type": "agent-framework-resource-updated", "org_id": "o",
                   "resource_type": "agent", "resource_id": "r",
                   "updated_at": "2030-01-01T00:00:00Z"}).encode()


# --- the shared vectors ---------------------------------------------------------------------

@pytest.mark.parametrize("v", VECTORS["standard"], ids=lambda v: v["id"])
def test_standard_webhooks_vectors_verify(v):
    headers = {"webhook-id": v["id"], "webhook-timestamp": v["timestamp"],
               "webhook-signature": v["signature"]}
    event = Webhook(v["secret"], tolerance_seconds=FOREVER).verify(v["body"].encode(), headers)
    assert event == json.loads(v["body"])
    assert (event.scheme, event.asymmetric, event.key_index, event.webhook_id) == \
        ("standard", False, 0, v["id"])
    tampered = v["body"].replace("t", "T", 1).encode()
    assert code_of(lambda: Webhook(v["secret"], tolerance_seconds=FOREVER)
                   .verify(tampered, headers)) == "no_matching_signature"


@pytest.mark.parametrize("v", VECTORS["v1a"], ids=lambda v: v["id"])
def test_the_v1a_vector_verifies_with_its_public_key(v):
    headers = {"webhook-id": v["id"], "webhook-timestamp": v["timestamp"],
               "webhook-signature": v["signature"]}
    event = Webhook(v["public_key"], tolerance_seconds=FOREVER).verify(v["body"], headers)
    assert event == json.loads(v["body"])
    assert (event.scheme, event.asymmetric, event.key_index) == ("standard", True, 0)
    # The public key is the one of the vector's signing key, as cryptography derives it.
    seed = base64.b64decode(v["signing_key"].removeprefix("whsk_"))
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)
    assert v["public_key"] == "whpk_" + base64.b64encode(raw).decode()
    assert code_of(lambda: Webhook(v["public_key"], tolerance_seconds=FOREVER).verify(
        v["body"].replace("2", "3", 1), headers)) == "no_matching_signature"


@pytest.mark.parametrize("v", VECTORS["amigo"], ids=lambda v: v["timestamp"])
def test_the_amigo_vector_verifies(v):
    headers = {"X-Amigo-Request-Timestamp": v["timestamp"],
               "X-Amigo-Request-Signature": v["signature"]}
    event = Webhook(v["secret"], tolerance_seconds=FOREVER).verify(v["body"], headers)
    assert event == json.loads(v["body"])
    assert (event.scheme, event.asymmetric, event.key_index, event.webhook_id) == \
        ("amigo", False, 0, None)


# --- error codes ----------------------------------------------------------------------------

def test_every_error_code_is_raised_for_its_failure():
    wh = Webhook(SECRET)
    std = sign_standard(SECRET, BODY)
    now = int(time.time())
    cases = {
        "missing_header": [({"webhook-id": "m", "webhook-signature": "v1,x"}, BODY), ({}, BODY),
                           ({"x-amigo-request-timestamp": "1"}, BODY)],
        "malformed_timestamp": [({**std, "webhook-timestamp": "soon"}, BODY),
                                ({**std, "webhook-timestamp": "-1"}, BODY),
                                ({**sign_amigo([SECRET], BODY), "x-amigo-request-timestamp": "1e3"}, BODY)],
        "timestamp_too_old": [(sign_standard(SECRET, BODY, ts=now - 400), BODY),
                              (sign_amigo([SECRET], BODY, ts_ms=(now - 400) * 1000), BODY)],
        "timestamp_too_new": [(sign_standard(SECRET, BODY, ts=now + 400), BODY),
                              (sign_amigo([SECRET], BODY, ts_ms=(now + 400) * 1000), BODY)],
        "no_matching_signature": [(std, BODY + b" "), (sign_standard(OTHER_SECRET, BODY), BODY),
                                  ({**std, "webhook-signature": "v1,"}, BODY),
                                  ({**std, "webhook-signature": "v2," + std["webhook-signature"][3:]}, BODY),
                                  (sign_amigo([OTHER_SECRET], BODY), BODY)],
        "invalid_payload": [(sign_standard(SECRET, b"not json"), b"not json"),
                            (sign_standard(SECRET, b"[1, 2]"), b"[1, 2]")],
    }
    for code, examples in cases.items():
        for headers, body in examples:
            assert code_of(lambda: wh.verify(body, headers)) == code, (code, headers)
    with pytest.raises(WebhookVerificationError) as missing:
        wh.verify(BODY, {"webhook-id": "m", "webhook-signature": "v1,x"})
    assert missing.value.header == "webhook-timestamp"
    assert str(missing.value) == "missing header webhook-timestamp"
    for secret in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_***", [], [SECRET, "whsec_%"],
                   42, [SECRET, 42], "whpk_QUJD", "whpk_AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]:
        assert code_of(lambda: Webhook(secret)) == "malformed_secret", secret
    assert isinstance(WebhookVerificationError("x", "y"), ValueError)
    assert set(ERROR_CODES) == set(cases) | {"malformed_secret"}


def test_the_tolerance_is_applied_both_ways():
    now = int(time.time())
    for offset, code in [(-20, "timestamp_too_old"), (20, "timestamp_too_new"), (5, "passed")]:
        headers = sign_standard(SECRET, BODY, ts=now + offset)
        assert code_of(lambda: Webhook(SECRET, tolerance_seconds=10).verify(BODY, headers)) == code


# --- inputs ---------------------------------------------------------------------------------

def test_bodies_and_header_mappings_of_every_kind():
    from django.conf import settings
    if not settings.configured:
        settings.configure()
    from django.http.request import HttpHeaders
    from starlette.datastructures import Headers as StarletteHeaders
    from werkzeug.datastructures import EnvironHeaders, Headers as WerkzeugHeaders

    headers = sign_standard(SECRET, BODY)
    wh = Webhook(SECRET)
    message = email.message.Message()
    for k, v in headers.items():
        message[k] = v
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    mappings = [
        headers,
        {k.upper(): v for k, v in headers.items()},
        {k.title(): v.encode() for k, v in headers.items()},
        WerkzeugHeaders(headers),
        EnvironHeaders(environ),
        StarletteHeaders(headers),
        HttpHeaders(environ),
        message,
    ]
    for mapping in mappings:
        assert wh.verify(BODY, mapping)["resource_id"] == "r", type(mapping)
    for body in [BODY, BODY.decode(), bytearray(BODY), memoryview(BODY)]:
        assert wh.verify(body, headers).webhook_id == "msg_test", type(body)
    with pytest.raises(TypeError):
        wh.verify({"type": "x"}, headers)
    with pytest.raises(TypeError):
        wh.verify(BODY, {"webhook-id": 1, "webhook-timestamp": "1", "webhook-signature": "v1,x"})
    # A non-ASCII body verifies as its UTF-8 bytes.
    text = json.dumps({"type": "x", "note": "é✓😀"}, ensure_ascii=False)
    assert wh.verify(text, sign_standard(SECRET, text.encode()))["note"] == "é✓😀"


def test_several_keys_during_rotation_and_which_one_verified():
    new = Ed25519Pair()
    old = Ed25519Pair()
    signed = new.sign(BODY)
    both = {**signed, "webhook-signature":
            signed["webhook-signature"] + " " + old.sign(BODY)["webhook-signature"]}
    for keys, index in [([new.public_key], 0), ([old.public_key], 0),
                        ([SECRET, old.public_key], 1), ((SECRET, Ed25519Pair().public_key, new.public_key), 2)]:
        event = Webhook(keys).verify(BODY, both)
        assert (event.scheme, event.asymmetric, event.key_index) == ("standard", True, index), keys
    assert code_of(lambda: Webhook(Ed25519Pair().public_key).verify(BODY, both)) == "no_matching_signature"
    # A v1a signature is never taken for a v1 one, nor matched by a secret.
    as_v1 = {**signed, "webhook-signature": signed["webhook-signature"].replace("v1a,", "v1,")}
    assert code_of(lambda: Webhook(new.public_key).verify(BODY, as_v1)) == "no_matching_signature"
    assert code_of(lambda: Webhook(SECRET).verify(BODY, signed)) == "no_matching_signature"
    # HMAC secrets: dual-signed Amigo and Standard Webhooks headers, either secret.
    amigo = sign_amigo([OTHER_SECRET, SECRET], BODY)
    for keys, index in [([SECRET], 0), ([OTHER_SECRET], 0), ([OTHER_SECRET, SECRET], 0),
                        ([new.public_key, SECRET], 1)]:
        event = Webhook(keys).verify(BODY, amigo)
        assert (event.scheme, event.key_index, event.webhook_id) == ("amigo", index, None), keys
    # Amigo's scheme is HMAC only: public keys alone verify none of it.
    assert code_of(lambda: Webhook(new.public_key).verify(BODY, amigo)) == "no_matching_signature"


def test_a_verified_event_is_a_dict_that_says_what_verified_it():
    event = Webhook(SECRET).verify(BODY, sign_standard(SECRET, BODY, msg_id="msg_dict"))
    assert isinstance(event, dict) and isinstance(event, VerifiedEvent)
    assert event == json.loads(BODY) and json.loads(json.dumps(event)) == json.loads(BODY)
    assert event.webhook_id == "msg_dict"
    with pytest.raises(AttributeError):
        event.other = 1  # only the four attributes exist


# --- the README's examples, run as written --------------------------------------------------

@pytest.fixture
def example(monkeypatch):
    """Runs a README example with EDGEHOOK_SECRET set; returns its namespace and what it handled."""
    monkeypatch.setenv("EDGEHOOK_SECRET", SECRET)
    handled: list = []
    return lambda name: (run_example(name, handle=handled.append), handled)


def requests_to_send():
    """(body, headers, expected status) of a valid, a tampered and an Amigo-only webhook."""
    amigo = sign_amigo([SECRET], BODY)
    return [(BODY, sign_standard(SECRET, BODY), 204),
            (BODY.replace(b'"r"', b'"s"'), sign_standard(SECRET, BODY), 400),
            (BODY, amigo, 204)]


def test_the_flask_example(example):
    namespace, handled = example("flask")
    client = namespace["app"].test_client()
    for body, headers, status in requests_to_send():
        r = client.post("/webhooks/edgehook", data=body,
                        headers={**headers, "content-type": "application/json"})
        assert r.status_code == status, r.data
    assert r.status_code == 204
    assert [e["resource_id"] for e in handled] == ["r", "r"]
    assert [e.scheme for e in handled] == ["standard", "amigo"]


def test_the_fastapi_example(example):
    from fastapi.testclient import TestClient
    namespace, handled = example("fastapi")
    client = TestClient(namespace["app"])
    for body, headers, status in requests_to_send():
        r = client.post("/webhooks/edgehook", content=body,
                        headers={**headers, "content-type": "application/json"})
        assert r.status_code == status, r.text
    assert [e.scheme for e in handled] == ["standard", "amigo"]


def test_the_django_example(example):
    from django.conf import settings
    if not settings.configured:
        settings.configure()
    import django
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import path

    django.setup()
    namespace, handled = example("django")
    urls = type(sys)("readme_django_urls")
    urls.urlpatterns = [path("webhooks/edgehook", namespace["edgehook_webhook"])]
    sys.modules["readme_django_urls"] = urls
    with override_settings(ROOT_URLCONF="readme_django_urls", ALLOWED_HOSTS=["testserver"]):
        client = Client()
        for body, headers, status in requests_to_send():
            r = client.post("/webhooks/edgehook", data=body, content_type="application/json",
                            headers=headers)
            assert r.status_code == status, r.content
        assert client.get("/webhooks/edgehook").status_code == 405
    assert [e.scheme for e in handled] == ["standard", "amigo"]


# --- the wheel: typing and interpreters -----------------------------------------------------

def test_the_wheel_ships_types_that_mypy_checks(tmp_path):
    package = Path(edgehook_verify.__file__).parent
    assert (package / "py.typed").exists() and (package / "_native.pyi").exists()
    good = tmp_path / "good.py"
    good.write_text(
        "from edgehook_verify import Webhook, WebhookVerificationError\n"
        "event = Webhook(['whsec_x', 'whpk_y'], tolerance_seconds=10).verify(b'{}', {'a': 'b'})\n"
        "kind: str = event.scheme\nindex: int = event.key_index\n"
        "value = event['type']\n"
        "try:\n    pass\nexcept WebhookVerificationError as e:\n    code: str = e.code\n")
    bad = tmp_path / "bad.py"
    bad.write_text("from edgehook_verify import Webhook\nWebhook(42)\n"
                   "n: int = Webhook('whsec_x').verify(b'{}', {}).scheme\n")
    run = lambda f: subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                                    str(f)], capture_output=True, text=True, cwd=tmp_path)
    ok = run(good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = run(bad)
    assert wrong.returncode == 1 and wrong.stdout.count("error:") == 2, wrong.stdout


def interpreters() -> list[str]:
    """CPython 3.9 to 3.13 on this machine (pyenv's, and python3.X on PATH)."""
    found = {}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in range(9, 14):
        candidates = sorted(pyenv.glob(f"3.{minor}.*/bin/python3")) + \
            [Path(p) / f"python3.{minor}" for p in os.environ.get("PATH", "").split(os.pathsep)]
        for c in candidates:
            if c.exists():
                found[minor] = str(c)
                break
    return [found[m] for m in sorted(found)]


@pytest.mark.slow
def test_the_wheel_installs_and_verifies_on_every_cpython_found(tmp_path):
    wheels = sorted((REPO_ROOT / "target" / "wheels").glob("edgehook_verify-*-cp39-abi3-*.whl"))
    assert wheels, "no wheel: run scripts/build-python.sh"
    # maturin checked the library's glibc symbols against this tag when it built the wheel.
    assert "manylinux_2_17_x86_64" in wheels[-1].name, wheels[-1].name
    pythons = interpreters()
    assert pythons, "no CPython 3.9-3.13 found"
    v = VECTORS["v1a"][0]
    check = (
        "import json, sys\nfrom edgehook_verify import Webhook\n"
        f"v = json.loads({json.dumps(json.dumps(v))})\n"
        "h = {'webhook-id': v['id'], 'webhook-timestamp': v['timestamp'], 'webhook-signature': v['signature']}\n"
        "e = Webhook(v['public_key'], tolerance_seconds=2**32 - 1).verify(v['body'], h)\n"
        "print(sys.version_info[:2], e.asymmetric, e['test'])\n")
    seen = []
    for python in pythons:
        env_dir = tmp_path / Path(python).parent.parent.name
        subprocess.run([python, "-m", "venv", str(env_dir)], check=True, capture_output=True)
        pip = subprocess.run([str(env_dir / "bin" / "pip"), "install", "--quiet", "--no-index",
                              "--disable-pip-version-check", str(wheels[-1])],
                             capture_output=True, text=True)
        assert pip.returncode == 0, (python, pip.stderr)
        out = subprocess.run([str(env_dir / "bin" / "python"), "-c", check], capture_output=True,
                             text=True)
        assert out.returncode == 0, (python, out.stderr)
        assert out.stdout.strip().endswith("True 2432232314"), out.stdout
        seen.append(out.stdout.split(")")[0] + ")")
    print("edgehook-verify wheel verified on:", ", ".join(seen))
