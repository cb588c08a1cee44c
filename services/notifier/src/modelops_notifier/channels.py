"""How one attempt goes out: a signed webhook, a Slack-style message or an e-mail."""

import asyncio
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from modelops_notifier.domain import Target, now, parse_retry_after
from modelops_notifier.http_pool import TargetPool
from modelops_notifier.netguard import AddressPolicy, forbidden_reason
from modelops_notifier.ports import Doc
from modelops_notifier.settings import DeliverySettings, SmtpSettings
from modelops_notifier.signing import webhook_headers

CLOUDEVENTS_JSON = "application/cloudevents+json"
USER_AGENT = "modelops-notifier/0.1"
RESERVED_HEADERS = {"content-type", "content-length", "host", "user-agent", "transfer-encoding"}


@dataclass
class AttemptResult:
    """What one attempt observed."""

    status_code: int | None
    latency_ms: float
    response: str = ""
    error: str | None = None
    retry_after: float | None = None
    refused: bool = False


class Channels:
    """Keep-alive HTTP/1.1 pools per target (subscription or alert rule) and the SMTP sender."""

    def __init__(
        self, policy: AddressPolicy, settings: DeliverySettings, smtp: SmtpSettings
    ) -> None:
        self._policy, self._settings, self._smtp = policy, settings, smtp
        self._pools: dict[str, TargetPool] = {}
        self._tls = ssl.create_default_context()  # one CA load, shared by every target's pool

    def _pool(self, key: str) -> TargetPool:
        pool = self._pools.get(key)
        if pool is None:
            pool = TargetPool(
                self._policy,
                size=self._settings.per_target_concurrency,
                connect_timeout_s=self._settings.connect_timeout_s,
                tls=self._tls,
                snippet_limit=self._settings.response_snippet_chars,
            )
            self._pools[key] = pool
        return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    async def webhook(self, doc: Doc, target: Target) -> AttemptResult:
        body: str = doc["body"]
        signed = webhook_headers(target.secrets, doc["_id"], int(time.time()), body)
        custom = {k: v for k, v in target.headers.items() if _allowed_header(k, v)}
        headers = {**custom, "content-type": CLOUDEVENTS_JSON, "user-agent": USER_AGENT, **signed}
        return await self._post(target.id, target.url, body, headers)

    async def slack(self, doc: Doc) -> AttemptResult:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        return await self._post(doc["subscription_id"], doc["target_url"], doc["body"], headers)

    async def _post(self, key: str, url: str, body: str, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                response = await self._pool(key).post(url, body.encode(), headers)
        except Exception as exc:  # every failure of one attempt is recorded, none escapes
            return _failure(exc, started)
        return AttemptResult(
            status_code=response.status,
            latency_ms=(time.perf_counter() - started) * 1000,
            response=response.snippet.decode("utf-8", errors="replace"),
            retry_after=parse_retry_after(response.retry_after, now()),
        )

    async def email(self, doc: Doc) -> AttemptResult:
        smtp = self._smtp
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = ", ".join(doc["to"])
        message["Subject"] = doc["email_subject"]
        message.set_content(doc["body"])
        started = time.perf_counter()
        try:
            response = await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username or None,
                password=smtp.password.get_secret_value() or None,
                start_tls=smtp.starttls,
                use_tls=smtp.use_tls,
                timeout=smtp.timeout_s,
            )
        except Exception as exc:  # SMTP errors and timeouts: retried like HTTP failures
            return _failure(exc, started)
        return AttemptResult(250, (time.perf_counter() - started) * 1000, str(response[1])[:200])


def _failure(exc: BaseException, started: float) -> AttemptResult:
    latency = (time.perf_counter() - started) * 1000
    refused = forbidden_reason(exc)
    if refused is not None:
        return AttemptResult(None, latency, error=refused, refused=True)
    if isinstance(exc, TimeoutError):
        return AttemptResult(None, latency, error=f"timeout: {exc!r}")
    return AttemptResult(None, latency, error=repr(exc)[:500])


def _allowed_header(name: str, value: str) -> bool:
    """Custom headers may not replace ours nor break the request's framing."""
    if name.lower() in RESERVED_HEADERS or name.lower().startswith("webhook-"):
        return False
    return not any(c in name + value for c in "\r\n") and ":" not in name
