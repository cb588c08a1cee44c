"""The aiohttp delivery pool keeps the address guard: at connect time, and for IP literals."""

from collections.abc import Awaitable, Callable

import pytest

from modelops_notifier.channels import Channels
from modelops_notifier.domain import Filters, Target, fan_members, slim_members
from modelops_notifier.netguard import AddressPolicy, ForbiddenAddress, GuardedResolver
from modelops_notifier.settings import DeliverySettings, SmtpSettings


def answers(*results: list[str]) -> Callable[[str, int], Awaitable[list[str]]]:
    """A resolver returning each list in turn (the last one from then on)."""
    queue = list(results)

    async def resolve(_host: str, _port: int) -> list[str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


async def test_resolver_checks_every_new_connection() -> None:
    resolver = GuardedResolver(AddressPolicy([], answers(["93.184.216.34"], ["10.0.0.1"])))
    first = await resolver.resolve("rebind.example", 443)
    assert [(r["hostname"], r["host"]) for r in first] == [("rebind.example", "93.184.216.34")]
    with pytest.raises(ForbiddenAddress):  # the name now points at a private address
        await resolver.resolve("rebind.example", 443)


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
