"""SSRF guard: which network addresses a feed fetch may connect to."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from wirewatch.connectors.errors import BlockedAddressError
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not covered by `is_global` in every Python version, so listed explicitly.
_ALWAYS_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, cloud metadata
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("fec0::/10"),  # deprecated site-local
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
)


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form


def _embedded_ipv4(address: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any.

    Such addresses reach the IPv4 host they embed, so they must be judged as that host.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    compatible = address in _IPV4_COMPATIBLE and not (address.is_loopback
                                                      or address.is_unspecified)
    if compatible or any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def http_target(url: str) -> URL | None:
    """The URL parsed, if it is http(s) with a host: the only URLs wirewatch ever requests."""
    try:
        target = URL(url.strip())
    except ValueError:
        return None
    return target if target.scheme in ("http", "https") and target.host else None


# Private and loopback addresses are refused by default (SSRF); this says how to allow one.
ALLOW_HINT = (" (private, loopback or reserved; to fetch your own feeds there, allow the "
              "network: --allow-network 127.0.0.0/8 or WIREWATCH_FETCH_ALLOW_NETWORKS)")


class AddressPolicy:
    """Decides whether an address may be fetched; `allow` lists networks that are exempt."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in allow
        )

    def is_allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allow):
            return True
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
        if any(address in network for network in self.allow):
            return True
        if any(address.version == n.version and address in n for n in _ALWAYS_BLOCKED):
            return False
        return address.is_global and not address.is_multicast

    def check(self, host: str) -> None:
        """Raise BlockedAddressError when `host` is an IP literal that may not be fetched."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: checked by GuardedResolver on the addresses it resolves to
        if not self.is_allowed(address):
            raise BlockedAddressError(f"refusing to fetch from blocked address {address}"
                                      f"{ALLOW_HINT}")


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that only hands out addresses the policy allows.

    aiohttp connects to exactly the addresses a resolver returns, so the check applies to
    the address actually connected to: a DNS answer cannot change between check and use.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if self.policy.is_allowed(ipaddress.ip_address(r["host"]))]
        if not allowed:
            addresses = ", ".join(sorted({str(r["host"]) for r in results}))
            raise BlockedAddressError(f"refusing to fetch {host}: resolves to {addresses}"
                                      f"{ALLOW_HINT}")
        return allowed

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - passthrough
        return getattr(self.inner, name)
