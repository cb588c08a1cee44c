"""Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256>` signatures."""

import base64
import functools
import hmac
import secrets
from collections.abc import Sequence

from modelops_servicekit.errors import Invalid

SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret
SECRET_BYTES = 32


def new_secret(n_bytes: int = SECRET_BYTES) -> str:
    """`whsec_` + base64 of 24..64 random bytes."""
    if not 24 <= n_bytes <= 64:
        raise Invalid("a secret has 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(n_bytes)).decode()


@functools.lru_cache(maxsize=4096)
def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_`."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """One `v1,<signature>` of `{id}.{timestamp}.{body}`."""
    content = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.digest(secret_key(secret), content, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], msg_id: str, timestamp: int, body: str) -> str:
    """Space-separated signatures, one per active secret (both sign during a rotation)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def webhook_headers(
    secrets_: Sequence[str], msg_id: str, timestamp: int, body: str
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }
