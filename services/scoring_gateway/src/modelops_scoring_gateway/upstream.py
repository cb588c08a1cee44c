"""Calls to model servers over pooled keep-alive connections; aiohttp for the deployer API."""

from typing import NamedTuple

import aiohttp

from modelops_scoring_gateway.frames import FramePool
from modelops_scoring_gateway.wire import WirePool


class Answer(NamedTuple):
    """A model server's response, or the gateway's verdict when none came."""

    status: int
    body: bytes
    content_type: bytes
    upstream: str = ""
    json_bodies: bool = False
    """The model server checked that the request and this answer are strict JSON."""


class UpstreamTimeout(Exception):
    """The model server did not answer within the deployment's request timeout."""


class UpstreamDown(Exception):
    """No replica of the deployment accepted the request."""


class Upstreams:
    """The pool of connections to every replica, shared by all requests."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self.wire = FramePool(WirePool())

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )

    async def close(self) -> None:
        self.wire.close()
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "upstreams not started"
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def call(
        self, method: str, replicas: list[str], path: str, body: bytes, ctype: bytes,
        rid: str | None, timeout_s: float,
    ) -> Answer:  # fmt: skip
        """Send to the first replica that accepts the connection (scoring is idempotent)."""
        for base in replicas:
            try:
                status, payload, content_type, checked = await self.wire.request(
                    base, method, path, body, ctype, rid, timeout_s
                )
            except TimeoutError as exc:  # before OSError: TimeoutError is one
                raise UpstreamTimeout(base) from exc
            except OSError:
                continue  # refused: the next replica
            except Exception as exc:
                raise UpstreamDown(f"{base}: {exc!r}") from exc
            return Answer(status, payload, content_type, base, checked)
        raise UpstreamDown("no replica accepted the connection")

    async def get_json(self, url: str, timeout_s: float = 5.0) -> object:
        """A small GET (the deployer's API); raises on any non-2xx."""
        async with self.session.get(url, timeout=self._timeout(timeout_s)) as resp:
            resp.raise_for_status()
            return await resp.json()
