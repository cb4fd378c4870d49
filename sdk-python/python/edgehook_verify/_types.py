"""The Python types the native verifier returns and raises: `VerifiedEvent` and `WebhookVerificationError`."""

from __future__ import annotations

from typing import Optional

#: Every `WebhookVerificationError.code`, the same as the npm package's `error.code`.
ERROR_CODES = (
    "missing_header",
    "malformed_timestamp",
    "timestamp_too_old",
    "timestamp_too_new",
    "no_matching_signature",
    "malformed_secret",
    "invalid_payload",
)


class WebhookVerificationError(ValueError):
    """A webhook failed verification, or a secret or public key is malformed.

    `code` names the check that failed (one of `ERROR_CODES`); `header` is the missing header's
    lowercase name when `code` is ``"missing_header"``. Answer 400 to the sender.
    """

    def __init__(self, code: str, message: str, header: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.header = header

    def __repr__(self) -> str:
        return f"WebhookVerificationError({self.code!r}, {str(self)!r})"


class VerifiedEvent(dict):  # type: ignore[type-arg]
    """The parsed event of a verified webhook: a `dict`, plus what verified it.

    - `scheme`: ``"standard"`` (Standard Webhooks headers) or ``"amigo"`` (Amigo's headers).
    - `asymmetric`: whether a `v1a` (ed25519) signature matched a `whpk_` public key.
    - `key_index`: the position of the secret or key that matched in the list given to `Webhook`.
    - `webhook_id`: `webhook-id` when the Standard Webhooks signature, which covers it, verified;
      ``None`` for Amigo's scheme, which does not sign its id. Deduplicate on it, never on an
      unsigned id.
    """

    __slots__ = ("scheme", "asymmetric", "key_index", "webhook_id")

    # Set by the verifier on the copy of the parsed object it returns.
    scheme: str
    asymmetric: bool
    key_index: int
    webhook_id: Optional[str]
