"""SSRF guard: refuse to connect to addresses that are not on the public internet.

The check runs in aiohttp's `socket_factory`, i.e. after DNS resolution and right before
`connect()`, on the exact address about to be dialled. A resolver-level filter is not enough:
aiohttp never calls the resolver for IP-literal URLs, nor for a redirect to one, and a DNS answer
can change between a check and the connect (rebinding). Checking the sockaddr closes all three.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
"""Answers True when connecting to this address is allowed."""

_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class BlockedAddressError(ConnectionRefusedError):
    """Raised from the socket factory; an OSError so aiohttp reports it as a connect failure."""

    def __init__(self, address: str) -> None:
        super().__init__(f"blocked non-public address {address}")
        self.address = address


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the transition forms that route to it.

    `ipaddress` calls NAT64 (64:ff9b::/96), 6to4 (2002::/16) and IPv4-compatible (::/96)
    addresses global even when they wrap 127.0.0.1, so they must be unwrapped and checked.
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or address in _V4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and their IPv6 wrappings).

    Refuses loopback, RFC 1918 private, link-local (cloud metadata 169.254.169.254), CGNAT
    100.64/10, unspecified, multicast, reserved and documentation ranges. `is_global` is the
    base test because `is_private` misses 100.64/10.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public_address(inner)
    return address.is_global and not address.is_multicast


def parse_address(host: str) -> IPAddress | None:
    """The IP address in a sockaddr host string (scope id dropped), or None if it is not one."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def check_address(host: str, policy: AddressPolicy) -> None:
    """Raise BlockedAddressError unless `policy` allows this literal address."""
    address = parse_address(host)
    if address is None or not policy(address):
        raise BlockedAddressError(host)


def guarded_socket_factory(policy: AddressPolicy) -> Callable[[tuple[Any, ...]], socket.socket]:
    """A `TCPConnector(socket_factory=...)` that refuses disallowed addresses before connecting."""

    def factory(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        check_address(str(sockaddr[0]), policy)
        return socket.socket(family=family, type=type_, proto=proto)

    return factory
