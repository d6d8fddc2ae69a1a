"""wirewatch.connectors.guard: the SSRF address policy and the resolver that enforces it."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from wirewatch.connectors.errors import BlockedAddressError, FetchError
from wirewatch.connectors.guard import AddressPolicy, GuardedResolver

BLOCKED = [
    pytest.param("127.0.0.1", id="loopback-v4"),
    pytest.param("127.255.255.254", id="loopback-v4-range"),
    pytest.param("::1", id="loopback-v6"),
    pytest.param("0.0.0.0", id="unspecified-v4"),
    pytest.param("::", id="unspecified-v6"),
    pytest.param("10.1.2.3", id="rfc1918-10"),
    pytest.param("172.16.0.1", id="rfc1918-172"),
    pytest.param("172.31.255.255", id="rfc1918-172-top"),
    pytest.param("192.168.1.1", id="rfc1918-192"),
    pytest.param("100.64.0.1", id="cgnat"),
    pytest.param("100.127.255.254", id="cgnat-top"),
    pytest.param("169.254.169.254", id="cloud-metadata"),
    pytest.param("fd00:ec2::254", id="aws-metadata-v6"),
    pytest.param("fc00::1", id="unique-local-v6"),
    pytest.param("fe80::1", id="link-local-v6"),
    pytest.param("::ffff:127.0.0.1", id="v4-mapped-loopback"),
    pytest.param("::ffff:10.0.0.1", id="v4-mapped-private"),
    pytest.param("::ffff:169.254.169.254", id="v4-mapped-metadata"),
    pytest.param("224.0.0.1", id="multicast-v4"),
    pytest.param("ff02::1", id="multicast-v6"),
    pytest.param("255.255.255.255", id="broadcast"),
    pytest.param("192.0.2.1", id="documentation-v4"),
    pytest.param("2001:db8::1", id="documentation-v6"),
    pytest.param("64:ff9b::7f00:1", id="nat64-loopback"),
    pytest.param("64:ff9b:1::a00:1", id="nat64-local-private"),
    pytest.param("2002:7f00:1::", id="6to4-loopback"),
    pytest.param("2002:a9fe:a9fe::", id="6to4-metadata"),
    pytest.param("::127.0.0.1", id="v4-compatible-loopback"),
    pytest.param("2001::1", id="teredo"),
    pytest.param("fec0::1", id="site-local-v6"),
    pytest.param("::ffff:0:7f00:1", id="ipv4-translated-loopback"),
]

ALLOWED = [
    pytest.param("93.184.216.34", id="public-v4"),
    pytest.param("8.8.8.8", id="public-dns-v4"),
    pytest.param("2606:4700::1111", id="public-v6"),
    pytest.param("::ffff:93.184.216.34", id="v4-mapped-public"),
    pytest.param("172.32.0.1", id="just-outside-172-16-12"),
    pytest.param("100.128.0.1", id="just-outside-cgnat"),
    pytest.param("64:ff9b::5db8:d822", id="nat64-public"),
]


@pytest.mark.parametrize("address", BLOCKED)
def test_default_policy_blocks(address: str) -> None:
    assert AddressPolicy().is_allowed(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_default_policy_allows(address: str) -> None:
    assert AddressPolicy().is_allowed(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    ("allow", "address", "allowed"),
    [
        pytest.param(["127.0.0.0/8"], "127.0.0.1", True, id="loopback-allowed"),
        pytest.param(["127.0.0.0/8"], "127.1.2.3", True, id="loopback-range-allowed"),
        pytest.param(["127.0.0.0/8"], "::ffff:127.0.0.1", True, id="v4-mapped-loopback-allowed"),
        pytest.param(["127.0.0.0/8"], "10.0.0.1", False, id="other-private-still-blocked"),
        pytest.param(["127.0.0.0/8"], "::1", False, id="v6-loopback-not-covered"),
        pytest.param(["127.0.0.0/8"], "93.184.216.34", True, id="public-still-allowed"),
        pytest.param(["10.0.0.5/8"], "10.9.9.9", True, id="non-strict-network"),
        pytest.param(["169.254.169.254/32"], "169.254.169.254", True,
                     id="allow-list-beats-always-blocked"),
        pytest.param(["::1/128"], "::1", True, id="v6-allow"),
        pytest.param(["::1/128", "192.168.0.0/16"], "192.168.4.4", True, id="several-networks"),
        pytest.param(["::/0"], "10.0.0.1", False, id="v6-network-does-not-cover-v4"),
    ],
)
def test_allow_list(allow: list[str], address: str, allowed: bool) -> None:
    assert AddressPolicy(allow).is_allowed(ipaddress.ip_address(address)) is allowed


def test_allow_list_rejects_garbage_at_construction() -> None:
    with pytest.raises(ValueError):
        AddressPolicy(["not-a-network"])


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("127.0.0.1", id="v4"),
        pytest.param("[::1]", id="bracketed-v6"),
        pytest.param("::1", id="bare-v6"),
        pytest.param("[::ffff:127.0.0.1]", id="v4-mapped"),
        pytest.param("169.254.169.254", id="metadata"),
        pytest.param("fe80::1%eth0", id="v6-with-zone"),
    ],
)
def test_check_refuses_blocked_literals(host: str) -> None:
    with pytest.raises(BlockedAddressError) as excinfo:
        AddressPolicy().check(host)
    assert excinfo.value.retryable is False
    assert isinstance(excinfo.value, FetchError)


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("93.184.216.34", id="public-literal"),
        pytest.param("[2606:4700::1111]", id="public-v6-literal"),
        pytest.param("localhost", id="name-not-resolved-here"),
        pytest.param("internal.corp", id="other-name"),
        pytest.param("2130706433", id="integer-form-left-to-resolver"),
    ],
)
def test_check_passes_public_literals_and_names(host: str) -> None:
    assert AddressPolicy().check(host) is None


class FakeResolver:
    """Stands in for aiohttp's DNS layer: fixed answers, records calls."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.calls: list[tuple[str, int, socket.AddressFamily]] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
    ) -> list[dict[str, Any]]:
        self.calls.append((host, port, family))
        return [
            {"hostname": host, "host": address, "port": port, "family": family,
             "proto": 0, "flags": 0}
            for address in self.addresses
        ]

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("answers", "policy", "expected"),
    [
        pytest.param(["93.184.216.34"], AddressPolicy(), ["93.184.216.34"], id="public"),
        pytest.param(["10.0.0.1", "93.184.216.34", "127.0.0.1", "2606:4700::1111"],
                     AddressPolicy(), ["93.184.216.34", "2606:4700::1111"],
                     id="blocked-filtered-order-kept"),
        pytest.param(["127.0.0.1", "10.0.0.1"], AddressPolicy(["127.0.0.0/8"]), ["127.0.0.1"],
                     id="allow-list-applies"),
    ],
)
async def test_guarded_resolver_filters(
    answers: list[str], policy: AddressPolicy, expected: list[str],
) -> None:
    inner = FakeResolver(answers)
    resolver = GuardedResolver(policy, inner)  # type: ignore[arg-type]
    results = await resolver.resolve("feeds.example", 443, socket.AF_UNSPEC)
    assert [r["host"] for r in results] == expected
    assert all(r["hostname"] == "feeds.example" and r["port"] == 443 for r in results)
    assert inner.calls == [("feeds.example", 443, socket.AF_UNSPEC)]


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param(["127.0.0.1"], id="loopback"),
        pytest.param(["169.254.169.254", "10.0.0.1", "::1"], id="all-internal"),
        pytest.param(["::ffff:192.168.0.1"], id="v4-mapped-private"),
    ],
)
async def test_guarded_resolver_raises_when_all_blocked(answers: list[str]) -> None:
    resolver = GuardedResolver(AddressPolicy(), FakeResolver(answers))  # type: ignore[arg-type]
    with pytest.raises(BlockedAddressError) as excinfo:
        await resolver.resolve("rebind.example", 80)
    message = str(excinfo.value)
    assert "rebind.example" in message
    assert all(address in message for address in answers)


async def test_guarded_resolver_close_closes_inner() -> None:
    inner = FakeResolver([])
    await GuardedResolver(AddressPolicy(), inner).close()  # type: ignore[arg-type]
    assert inner.closed is True
