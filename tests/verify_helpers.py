"""Helpers of the tests that verify real deliveries with edgehook-verify (the Python package,
installed from its built wheel): a webhook's headers without the Standard Webhooks set, and the
error code a verification ends with."""

from __future__ import annotations

from edgehook_verify import WebhookVerificationError


def amigo_only(headers: dict[str, str]) -> dict[str, str]:
    """The headers without `webhook-*`: only Amigo's scheme can verify them."""
    return {k: v for k, v in headers.items() if not k.startswith("webhook-")}


def code_of(fn) -> str:
    """The `code` of the WebhookVerificationError that `fn` raises, or "passed"."""
    try:
        fn()
    except WebhookVerificationError as e:
        return e.code
    return "passed"
