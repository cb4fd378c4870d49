"""Compatibility with Amigo's official Python SDK (amigo-sdk): pointed at the
local Worker, it signs in with a seeded API key through its own auth flow,
manages destinations through its HTTP client, and its generated pydantic
models accept edgehook's answers. And its webhook verification during dual
signing: `parse_webhook_event` rejects a dual-signed webhook, the README's
workaround with amigo-sdk itself and edgehook-verify accept it.
"""

from __future__ import annotations

import json
import time

import pytest
from amigo_sdk.config import AmigoConfig
from amigo_sdk.errors import (AuthenticationError, BadRequestError, ForbiddenError,
                              NotFoundError, ValidationError)
from amigo_sdk.generated.model import (
    UserSignInWithApiKeyResponse,
    WebhookDestination,
    WebhookDestinationCreateWebhookDestinationRequest,
    WebhookDestinationCreateWebhookDestinationResponse,
    WebhookDestinationGetWebhookDestinationsResponse,
    WebhookDestinationRotateWebhookDestinationSecretResponse,
    WebhookDestinationUpdateWebhookDestinationRequest,
    WebhookType,
)
from amigo_sdk.http_client import AmigoHttpClient

from amigo_sdk.webhooks import ConversationPostProcessingCompleteEvent
from amigo_sdk.webhooks import WebhookVerificationError as AmigoVerificationError
from amigo_sdk.webhooks import parse_webhook_event, verify_signature

from delivery_helpers import engine, headers_of, org  # noqa: F401
from dual_signing import receive_dual_signed
from edgehook_verify import Webhook
from harness import GET_DESTINATION, new_user, sign_in
from readme import MAIN_README, run_example
from receiver import Receiver


def config_for(worker, tenant, **overrides) -> AmigoConfig:
    """Every field explicit: AmigoConfig would otherwise read a .env file."""
    fields = dict(api_key=tenant.api_key, api_key_id=tenant.api_key_id, user_id=tenant.user_id,
                  organization_id=tenant.org_id, base_url=worker.url)
    fields.update(overrides)
    return AmigoConfig(**fields)


@pytest.fixture
def amigo(worker, tenant):
    with AmigoHttpClient(config_for(worker, tenant), timeout=30, retry_max_attempts=1) as client:
        yield client


def test_sign_in_response_validates_with_the_sdk_model(worker, tenant):
    r = sign_in(worker, tenant.org_id, tenant.user_id, tenant.api_key_id, tenant.api_key)
    assert r.status_code == 200, r.text
    token = UserSignInWithApiKeyResponse.model_validate_json(r.text)
    assert token.expires_at.utcoffset().total_seconds() == 0
    assert token.expires_at.timestamp() > time.time() + 3000


def test_sdk_signs_in_and_manages_destinations(worker, tenant, amigo):
    base = f"/v1/{tenant.org_id}/webhook_destination/"
    listed = WebhookDestinationGetWebhookDestinationsResponse.model_validate_json(
        amigo.request("GET", base).text)
    assert listed.webhook_destinations == []

    request = WebhookDestinationCreateWebhookDestinationRequest(
        url="https://hooks.example.com/amigo",
        accepted_types=[WebhookType.conversation_post_processing_complete,
                        WebhookType.agent_framework_resource_updated],
        retry_attempts=4,
    )
    r = amigo.request("POST", base, json=request.model_dump(mode="json"))
    assert r.status_code == 201, r.text
    created = WebhookDestinationCreateWebhookDestinationResponse.model_validate_json(r.text)
    assert created.secret.startswith("whsec_")

    listed = WebhookDestinationGetWebhookDestinationsResponse.model_validate_json(
        amigo.request("GET", base, params={"id": created.webhook_destination_id}).text)
    [d] = listed.webhook_destinations
    assert d.id == created.webhook_destination_id
    assert d.url.rstrip("/") == "https://hooks.example.com/amigo"
    assert d.retry_attempts == 4
    assert d.accepted_types == ["conversation-post-processing-complete",
                                "agent-framework-resource-updated"]
    assert d.secret_generated_at.utcoffset().total_seconds() == 0

    one = WebhookDestination.model_validate_json(
        amigo.request("GET", base + created.webhook_destination_id).text)
    assert one == d

    update = WebhookDestinationUpdateWebhookDestinationRequest(retry_attempts=2)
    r = amigo.request("POST", base + created.webhook_destination_id,
                      json=update.model_dump(mode="json", exclude_none=True))
    assert r.status_code == 204, r.text

    r = amigo.request("POST", base + created.webhook_destination_id + "/rotate-secret")
    rotated = WebhookDestinationRotateWebhookDestinationSecretResponse.model_validate_json(r.text)
    assert rotated.secret != created.secret
    assert rotated.dual_signing_stops_at.timestamp() > time.time() + 1700

    r = amigo.request("DELETE", base + created.webhook_destination_id)
    assert r.status_code == 204
    with pytest.raises(NotFoundError):
        amigo.request("DELETE", base + created.webhook_destination_id)


def test_sdk_raises_its_typed_errors_on_edgehooks_statuses(worker, tenant, amigo):
    base = f"/v1/{tenant.org_id}/webhook_destination/"
    with pytest.raises(ValidationError):
        amigo.request("POST", base, json={"url": "http://hooks.example.com/x",
                                          "accepted_types": ["api-key-expiration-soon"]})
    with pytest.raises(NotFoundError):
        amigo.request("GET", base + "0123456789abcdef01234567")
    for i in range(10):
        amigo.request("POST", base, json={"url": f"https://hooks.example.com/{i}",
                                          "accepted_types": ["api-key-expiration-soon"]})
    with pytest.raises(BadRequestError) as limit:
        amigo.request("POST", base, json={"url": "https://hooks.example.com/11",
                                          "accepted_types": ["api-key-expiration-soon"]})
    assert not isinstance(limit.value, ValidationError)

    reader = new_user(worker, tenant.org_id, [GET_DESTINATION])
    try:
        with AmigoHttpClient(config_for(worker, reader), timeout=30,
                             retry_max_attempts=1) as limited:
            assert len(WebhookDestinationGetWebhookDestinationsResponse.model_validate_json(
                limited.request("GET", base).text).webhook_destinations) == 10
            with pytest.raises(ForbiddenError):
                limited.request("POST", base, json={"url": "https://hooks.example.com/r",
                                                    "accepted_types": []})
    finally:
        reader.close()


def test_sdk_sign_in_fails_with_a_wrong_key(worker, tenant):
    cfg = config_for(worker, tenant, api_key=tenant.api_key + "x")
    with AmigoHttpClient(cfg, timeout=30, retry_max_attempts=1) as client:
        with pytest.raises(AuthenticationError):
            client.request("GET", f"/v1/{tenant.org_id}/webhook_destination/")


def test_dual_signed_webhook_fails_amigo_sdk_passes_the_workaround_and_edgehook_verify(org):
    """The README's section on receivers on Amigo's SDK, on a real dual-signed delivery."""
    parse_amigo_webhook = run_example("amigo-dual-signing", MAIN_README)["parse_amigo_webhook"]
    with Receiver() as rx:
        signed = receive_dual_signed(org, rx)
    old, new, req = signed.old, signed.new, signed.request
    headers = headers_of(req)
    amigo = {k: v for k, v in headers.items() if k.startswith("x-amigo-")}
    signature, timestamp = amigo["x-amigo-request-signature"], amigo["x-amigo-request-timestamp"]
    assert len(signature.split(",")) == 2

    # 1. Amigo's SDK, given the header as it arrives, rejects it with either secret.
    for secret in (old, new):
        with pytest.raises(AmigoVerificationError, match="Signature verification failed"):
            parse_webhook_event(req.body, signature, timestamp, secret)
        with pytest.raises(AmigoVerificationError):
            verify_signature(req.body.decode(), timestamp, signature, secret)

    # 2. The README's workaround with amigo-sdk: split on "," and verify each part.
    for secret in (old, new):
        event = parse_amigo_webhook(req.body, amigo, secret)
        assert isinstance(event, ConversationPostProcessingCompleteEvent)
        assert event.org_id == org.org_id
    never = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    for headers_, secret in [(amigo, never), ({**amigo, "x-amigo-request-signature": ""}, old),
                             ({**amigo, "x-amigo-request-signature": ","}, new),
                             ({**amigo, "x-amigo-request-timestamp": ""}, old)]:
        with pytest.raises(AmigoVerificationError):
            parse_amigo_webhook(req.body, headers_, secret)

    # 3. edgehook-verify, with the old secret and with the new one, on either header set.
    for h in (amigo, headers):
        for secret in (old, new):
            event = Webhook(secret).verify(req.body, h)
            assert event["conversation_id"] == json.loads(req.body)["conversation_id"]
            assert event.scheme == ("amigo" if h is amigo else "standard")
