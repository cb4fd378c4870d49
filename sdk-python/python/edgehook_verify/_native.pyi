"""Types of the native module: the `Webhook` verifier."""

from typing import Any, Mapping, Sequence, Union

from ._types import VerifiedEvent

class Webhook:
    """Verifies edgehook webhooks with one destination's secrets or public keys.

    `secret` is a `whsec_...` secret or a `whpk_...` public key, or several (newest first) while
    the sender rotates. `tolerance_seconds` is how far the timestamp may be from now, either way.
    Raises `WebhookVerificationError` (code ``"malformed_secret"``) for a malformed key.
    """

    def __init__(self, secret: Union[str, Sequence[str]], tolerance_seconds: int = 300) -> None: ...
    def verify(
        self,
        body: Union[bytes, bytearray, memoryview, str],
        headers: Mapping[str, Any],
    ) -> VerifiedEvent:
        """Verifies the raw body against the headers; returns the parsed event.

        Raises `WebhookVerificationError` naming the failed check.
        """
