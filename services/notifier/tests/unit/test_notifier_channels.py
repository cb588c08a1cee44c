"""The delivery pool keeps the address guard: at connect time, and for IP literals."""

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from modelops_notifier.channels import Channels
from modelops_notifier.domain import Filters, Target, fan_members, slim_members
from modelops_notifier.http_pool import TargetPool
from modelops_notifier.netguard import AddressPolicy, ForbiddenAddress
from modelops_notifier.settings import DeliverySettings, SmtpSettings


def answers(*results: list[str]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver returning each list in turn (the last one from then on)."""
    queue = list(results)

    async def resolve(_host: str, _port: int) -> list[str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


class AnsweringTransport(asyncio.Transport):
    """Records what is written and answers every request with 200 (on the next loop turn)."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol, self.sent, self.closed = protocol, b"", False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += bytes(data)
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        asyncio.get_running_loop().call_soon(self.protocol.data_received, answer)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_every_new_connection_is_checked_and_goes_to_the_checked_ip() -> None:
    dialed: list[tuple[str, int, Any]] = []
    transports: list[AnsweringTransport] = []

    async def connect(  # the loop's create_connection, faked
        factory: Callable[[], asyncio.Protocol], host: str, port: int, **tls: Any
    ) -> tuple[asyncio.Transport, asyncio.Protocol]:
        dialed.append((host, port, tls.get("server_hostname")))
        protocol = factory()
        transports.append(AnsweringTransport(protocol))
        protocol.connection_made(transports[-1])
        return transports[-1], protocol

    policy = AddressPolicy([], answers(["93.184.216.34"], ["10.0.0.1"]))
    tls = ssl.create_default_context()
    pool = TargetPool(
        policy, size=1, connect_timeout_s=1, tls=tls, snippet_limit=8, connect=connect
    )
    assert (await pool.post("https://rebind.example/hook", b"{}", {})).snippet == b"ok"
    assert (await pool.post("https://rebind.example/hook", b"{}", {})).status == 200
    assert dialed == [("93.184.216.34", 443, "rebind.example")]  # kept alive: one check
    assert b"Host: rebind.example\r\n" in transports[0].sent
    pool.close()
    with pytest.raises(ForbiddenAddress):  # a new connection: the name now points inside
        await pool.post("https://rebind.example/hook", b"{}", {})
    assert len(dialed) == 1


async def test_private_ip_literal_is_refused_without_a_connection() -> None:
    channels = Channels(AddressPolicy(), DeliverySettings(), SmtpSettings())
    target = Target(id="sub_1", url="http://10.0.0.1/hook", filters=Filters(("*",), ()))
    doc = {"_id": "msg_1", "body": "{}"}
    try:
        result = await channels.webhook(doc, target)
    finally:
        await channels.close()
    assert result.refused
    assert result.status_code is None


def test_fan_out_stores_the_shared_body_once() -> None:
    docs = [
        {"_id": "a", "body": "same"},
        {"_id": "b", "body": "same"},
        {"_id": "c", "body": "alert"},
    ]
    body, slim = slim_members(docs)
    assert body == "same"
    assert [("body" in d) for d in slim] == [False, False, True]
    assert docs[0]["body"] == "same"  # the in-memory deliveries keep theirs
    assert fan_members({"body": body, "deliveries": slim}) == docs
