"""Verify edgehook webhooks in Python with the Rust core edgehook signs with.

    from edgehook_verify import Webhook, WebhookVerificationError

    event = Webhook("whsec_...").verify(raw_body, request.headers)

`verify` checks the signature (Standard Webhooks headers, else Amigo's) and the timestamp, and
returns the parsed event: a `dict` that also tells what verified it (`event.scheme`,
`event.asymmetric`, `event.key_index`, `event.webhook_id`). A failed check raises
`WebhookVerificationError` whose `code` names it, with the same codes as the npm package.
"""

from ._native import Webhook
from ._types import ERROR_CODES, VerifiedEvent, WebhookVerificationError

__all__ = ["ERROR_CODES", "VerifiedEvent", "Webhook", "WebhookVerificationError"]
