"""Endpoint keys: constant-time comparison of the presented key's SHA-256 with stored hashes."""

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

import structlog

from modelops_scoring_gateway.routing import Endpoint

log = structlog.get_logger(__name__)
DUMMY_HASHES = [hashlib.sha256(b"no-such-endpoint-" + bytes([i])).digest() for i in range(2)]
FetchHashes = Callable[[str], Awaitable[tuple[int, list[bytes]]]]


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key from `Authorization: Bearer KEY` or `api-key: KEY`."""
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
        if name == b"api-key":
            return value.strip()
    return None


def matches(key: bytes | None, hashes: list[bytes]) -> bool:
    """Compare with every hash (always two), so timing says nothing about which or whether."""
    digest = hashlib.sha256(key or b"").digest()
    candidates = (hashes + DUMMY_HASHES)[:2] if len(hashes) < 2 else hashes
    ok = False
    for stored in candidates:
        ok |= hmac.compare_digest(digest, stored)
    return ok and key is not None


class KeyBook:
    """Keeps each endpoint's key hashes current: on a new revision and, rate-limited, on a miss."""

    def __init__(self, fetch: FetchHashes, min_interval_s: float) -> None:
        self._fetch = fetch
        self._min_interval = min_interval_s
        self._last_fetch: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}

    async def refresh(self, endpoint: Endpoint) -> None:
        """Fetch the hashes now, or join the fetch already under way (one per endpoint)."""
        task = self._inflight.get(endpoint.name)
        if task is None:
            task = asyncio.create_task(self._fetch_into(endpoint))
            self._inflight[endpoint.name] = task
            task.add_done_callback(lambda _: self._inflight.pop(endpoint.name, None))
        await asyncio.shield(task)  # concurrent callers share one fetch

    async def _fetch_into(self, endpoint: Endpoint) -> None:
        self._last_fetch[endpoint.name] = time.monotonic()
        revision, hashes = await self._fetch(endpoint.name)
        if revision >= endpoint.hashes_revision:
            endpoint.key_hashes, endpoint.hashes_revision = hashes, revision

    async def allows(self, endpoint: Endpoint | None, key: bytes | None) -> bool:
        """Whether the key opens the endpoint; a miss may refetch once (keys just rotated)."""
        if endpoint is None:
            matches(key, DUMMY_HASHES)  # same work as for an endpoint that exists
            return False
        if endpoint.auth_mode == "none":
            return True
        if matches(key, endpoint.key_hashes):
            return True
        name = endpoint.name
        fresh = endpoint.needs_keys or name in self._inflight or self._may_refetch(name)
        if key is None or not fresh:
            return False
        try:
            await self.refresh(endpoint)
        except Exception as exc:  # deployer away: the cached hashes stand
            log.warning("key_refresh_failed", endpoint=name, error=repr(exc))
            return False
        return matches(key, endpoint.key_hashes)

    def _may_refetch(self, name: str) -> bool:
        return time.monotonic() - self._last_fetch.get(name, 0.0) >= self._min_interval
