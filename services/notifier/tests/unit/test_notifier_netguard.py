"""Address checks: private ranges refused, allow-list honoured, DNS rebinding caught at connect."""

import ipaddress

import httpcore
import pytest

from modelops_notifier.netguard import (
    AddressPolicy,
    ForbiddenAddress,
    GuardedBackend,
    check_target,
    is_public,
    parse_target,
)
from modelops_servicekit.errors import Invalid


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


def test_public_addresses() -> None:
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:4700::1111"))


def fixed(*answers: list[str]):  # type: ignore[no-untyped-def]
    calls = iter(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return next(calls)

    return resolve


async def test_policy_checks_every_resolved_address_and_the_allow_list() -> None:
    policy = AddressPolicy([], fixed(["93.184.216.34", "10.0.0.7"]))
    with pytest.raises(ForbiddenAddress):
        await policy.checked_addresses("mixed.example", 443)
    with pytest.raises(ForbiddenAddress):
        await AddressPolicy().checked_addresses("169.254.169.254", 80)  # literal: no DNS
    allowed = AddressPolicy(["127.0.0.0/8"], fixed(["127.0.0.1"]))
    assert await allowed.checked_addresses("localhost", 80) == ["127.0.0.1"]
    by_name = AddressPolicy(["hooks.internal"], fixed(["10.1.2.3"]))
    assert await by_name.checked_addresses("hooks.internal", 443) == ["10.1.2.3"]


async def test_target_urls_need_https_unless_allowed() -> None:
    assert parse_target("https://example.com/x", False) == ("example.com", 443)
    assert parse_target("http://example.com:8080/x", True) == ("example.com", 8080)
    for url in ("http://example.com/x", "ftp://example.com", "https://u:p@example.com/"):
        with pytest.raises(Invalid):
            parse_target(url, False)
    with pytest.raises(ForbiddenAddress):
        await check_target("https://10.0.0.1/x", False, AddressPolicy())


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records connects; never opens a socket."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    async def connect_tcp(
        self, host: str, port: int, *args: object, **kwargs: object
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        raise httpcore.ConnectError("recorded")


async def test_connect_time_check_defeats_dns_rebinding() -> None:
    # validated as public when created, the name now points at a private address
    policy = AddressPolicy([], fixed(["93.184.216.34"], ["10.0.0.1"]))
    await policy.checked_addresses("rebind.example", 443)
    inner = RecordingBackend()
    with pytest.raises(ForbiddenAddress):
        await GuardedBackend(policy, inner).connect_tcp("rebind.example", 443)
    assert inner.connects == []  # refused before any connection


async def test_connect_goes_to_the_checked_ip() -> None:
    inner = RecordingBackend()
    policy = AddressPolicy(["127.0.0.0/8"], fixed(["127.0.0.1"]))
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(policy, inner).connect_tcp("hooks.local", 443)
    assert inner.connects == ["127.0.0.1"]
