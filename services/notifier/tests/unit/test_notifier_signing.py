"""Standard Webhooks signatures, checked with the reference `standardwebhooks` library."""

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from modelops_notifier.signing import new_secret, secret_key, sign, webhook_headers
from modelops_servicekit.errors import Invalid


def test_secrets_are_whsec_base64_of_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
    assert len(secret_key(new_secret(64))) == 64
    with pytest.raises(Invalid):
        new_secret(16)


def test_the_reference_library_verifies_our_headers() -> None:
    secret, body = new_secret(), '{"specversion":"1.0","id":"e1"}'
    headers = webhook_headers([secret], "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"specversion": "1.0", "id": "e1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + " ", headers)


def test_both_secrets_sign_during_a_rotation() -> None:
    old, new, body = new_secret(), new_secret(), "{}"
    headers = webhook_headers([new, old], "msg_1", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, headers)


def test_known_vector() -> None:
    key = base64.b64encode(b"k" * 24).decode()
    expected = Webhook("whsec_" + key).sign("id", datetime.fromtimestamp(1, UTC), "b")
    assert sign("whsec_" + key, "id", 1, "b") == expected
