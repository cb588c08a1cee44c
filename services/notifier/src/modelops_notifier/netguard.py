"""Which addresses a webhook may reach, checked when the URL is set and again at connect time."""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

from modelops_servicekit.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class ForbiddenAddress(Invalid):
    """The target resolves to an address we refuse to send to."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (getaddrinfo, TCP)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast or reserved."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(ip.ipv4_mapped)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class AddressPolicy:
    """Refuse non-public addresses unless allow-listed (CIDRs or host names)."""

    def __init__(self, allow: Iterable[str] = (), resolver: Resolver = system_resolver) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.hosts: set[str] = set()
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower())
        self.resolver = resolver

    def address_allowed(self, ip: IPAddress) -> bool:
        return is_public(ip) or any(ip in net for net in self.networks)

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """Resolve and check every address; raise ForbiddenAddress if any is refused."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        try:
            addresses = [str(literal)] if literal else await self.resolver(host, port)
        except OSError as exc:
            raise Invalid(f"cannot resolve {host!r}: {exc}") from exc
        if not addresses:
            raise Invalid(f"{host!r} resolves to no address")
        if host.lower() in self.hosts:
            return addresses
        refused = [a for a in addresses if not self.address_allowed(ipaddress.ip_address(a))]
        if refused:
            raise ForbiddenAddress(
                f"{host!r} resolves to a private, loopback, link-local, multicast or reserved "
                f"address ({', '.join(refused)}); refused"
            )
        return addresses


def parse_target(url: str, allow_insecure: bool) -> tuple[str, int]:
    """Check a target URL's shape: https (or http when allowed), a host; return host, port."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("the target must be an absolute http(s) URL")
    if parts.scheme == "http" and not allow_insecure:
        raise Invalid("the target must use https (set allow_insecure for local use)")
    if parts.username or parts.password:
        raise Invalid("credentials in the target URL are not allowed; use custom headers")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def check_target(url: str, allow_insecure: bool, policy: AddressPolicy) -> None:
    """Refuse a target whose URL or resolved addresses are not allowed."""
    host, port = parse_target(url, allow_insecure)
    await policy.checked_addresses(host, port)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to a checked IP (no DNS rebinding).

    TLS still uses the URL's host name for SNI and certificate checks, and the Host header
    comes from the URL, because httpcore takes both from the request origin, not the socket.
    """

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.checked_addresses(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(
    policy: AddressPolicy,
    *,
    pool_size: int,
    timeout: httpx.Timeout,
    tls: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An HTTP/1.1 keep-alive client whose every new connection passes the address policy."""
    transport = httpx.AsyncHTTPTransport(
        verify=tls or ssl.create_default_context(),
        limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
        trust_env=False,
        retries=0,
    )
    pool = transport._pool  # httpx exposes no network_backend option; httpcore's pool has one
    pool._network_backend = GuardedBackend(policy, pool._network_backend)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )


def forbidden_reason(exc: BaseException) -> str | None:
    """The policy's message when a send failed because the address was refused."""
    seen: Sequence[BaseException | None] = (exc, exc.__cause__, exc.__context__)
    for item in seen:
        if isinstance(item, ForbiddenAddress):
            return item.message
    return None
